"""``omnistock run --metrics-port`` on a real broker serves the dataflow's metrics: what it
folded agrees with ``replay`` of the same log, and the input lag is per partition."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dataflows.kafka import Topics, ensure_topics
from engine.events import TransferOut, parse
from tests.integration.test_run import expected, free_port, make_log, produce, start_run, stop

pytestmark = pytest.mark.kafka

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples | None:
    try:
        text = httpx.get(url, timeout=5).text
    except httpx.HTTPError:
        return None  # not listening yet
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def events(samples: Samples) -> dict[str, float]:
    return {
        dict(labels)["outcome"]: value
        for (name, labels), value in samples.items()
        if name == "omnistock_dataflow_events_total"
    }


def test_run_serves_its_dataflows_metrics_on_the_metrics_port(bootstrap, prefix, tmp_path: Path):
    topics = Topics(prefix)
    ensure_topics(bootstrap, topics, partitions=2)
    lines = make_log(3000, seed=9)
    produce(bootstrap, topics.events, lines)
    positions, _, dead = expected(lines)
    transfers = sum(1 for raw in lines if type(parse(raw)) is TransferOut)
    port = free_port()
    process = start_run(bootstrap, prefix, tmp_path / "run.log", "--metrics-port", str(port))
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        samples: Samples | None = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            samples = scrape(url)
            if (
                samples is not None
                and sum(events(samples).values()) >= len(lines) + transfers
                and samples.get(("omnistock_dataflow_input_caught_up", ())) == 1
            ):
                break
            time.sleep(0.5)
        assert samples is not None, (tmp_path / "run.log").read_text()
        folded = events(samples)
        assert sum(folded.values()) == len(lines) + transfers, folded  # a transfer: two books
        assert folded["dead_letter"] == dead
        assert samples[("omnistock_dataflow_positions", ())] == len(positions)
        lag = {
            dict(labels)["partition"]: value
            for (name, labels), value in samples.items()
            if name == "omnistock_dataflow_input_lag_messages"
        }
        assert lag == {"0": 0, "1": 0}
        assert samples[("omnistock_dataflow_input_caught_up", ())] == 1
        assert samples[("process_resident_memory_bytes", ())] > 0
        assert "metrics on http://127.0.0.1:" in (tmp_path / "run.log").read_text()
    finally:
        stop(process)
