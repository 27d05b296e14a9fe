"""``omnistock bench all --quick`` runs end to end and writes every figure the issue names."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest
from confluent_kafka.admin import AdminClient

from benchmarks.ingest_stages import STAGES, measure

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PREFIX = f"ci{uuid.uuid4().hex[:6]}."

KEYS = [
    "replay.events_per_s",
    "replay.parse_ceiling_per_s",
    "ingest.events_per_s",
    "ingest.ceiling_per_s",
    "ingest.freshness_p99_ms",
    "promise.median_us",
    "promise.python_median_us",
    "api.atp_p99_ms",
    "api.promise_p99_ms",
    "api.listing_p99_ms",
    "api.reserve_p99_ms",
    "flash_sale.oversold_units",
]


def test_bench_all_quick_writes_a_complete_report(bootstrap, tmp_path):
    out = tmp_path / "bench"
    # The console script, from a directory of its own: as a user runs it, so nothing is
    # imported from the checkout by accident.
    script = Path(sys.executable).with_name("omnistock")
    done = subprocess.run(
        [str(script), "bench", "all", "--quick", "--out", str(out), "--topic-prefix", PREFIX],
        cwd=tmp_path,
        env={**os.environ, "OMNISTOCK_BOOTSTRAP": bootstrap},
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    results = orjson.loads((out / "results.json").read_bytes())
    for key in KEYS:
        section, name = key.split(".")
        assert isinstance(results[key], int | float), key
        assert results[section][name] == results[key]
    assert results["flash_sale.oversold_units"] == 0
    assert isinstance(results["ingest.max_lag_events"], int)
    lag = results["ingest"]["series"]["lag"]
    assert lag and lag[-1][1] == 0  # the backlog drained: nothing left unreflected
    for section in ("replay", "ingest"):
        assert results["parameters"]["workload"][section]["catalogue"] == "built-in network"
    assert results["machine"]["cores"] >= 1
    # docs/events.md §11: the run's topics live under --topic-prefix (each run's own below it)
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=15).topics
    assert any(name.startswith(f"{PREFIX}bench") for name in topics)
    report = (out / "report.md").read_text()
    for plot in ("ingest_throughput.png", "ingest_freshness.png", "api_latency.png"):
        assert (out / plot).stat().st_size > 1000
        assert plot in report


def test_ingest_stages_time_every_prefix_of_the_path(bootstrap):
    """``benchmarks/ingest_stages.py``: every stage, each in a process of its own, reads the
    whole log and reports its rate (no figure is asserted: they are the machine's)."""
    figures = measure(bootstrap, events=20_000, rounds=1)
    stages = figures["stages"]
    assert list(stages) == list(STAGES)
    for row in stages.values():
        assert row["events_per_s"] > 0
        assert row["us_per_event"] == pytest.approx(1e6 / row["events_per_s"])
    assert stages["ceiling"]["ratio"] == 1.0
