"""The promise table on a real broker (docs/network.md §9): ``omnistock run --network``.

A stock-out changes a sku's entry on ``omnistock.promises`` within 2 s; a cut-off changes it
within 2 s of its ``valid_until`` (a store whose cut-off is a minute or two away, in UTC);
after kill -9 and a restart with recovery, every sku's last entry is the answer for the
stock the log leaves.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from dataflows.kafka import Topics, ensure_topics
from engine.promise.calculator import Calculator
from engine.promise.network import load_network
from engine.replay import Replay
from tests.integration.test_run import Topic, produce, start_run, stop
from tests.property.test_promise_table import reference
from workload import WorkloadParams, generate
from workload.builtin import generate_network
from workload.network import network_catalogue

pytestmark = pytest.mark.kafka
EVERY_DAY = {key: ["00:00", "23:59"] for key in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def _store(ident: str, lat: float, cutoff: str) -> dict[str, Any]:
    return {
        "id": ident,
        "kind": "store",
        "lat": lat,
        "lon": -74.0,
        "timezone": "UTC",
        "hours": EVERY_DAY,
        "pick_minutes": 0,
        "ship_cutoff": cutoff,
    }


def _event(**fields: Any) -> bytes:
    return orjson.dumps({"ts": datetime.now(UTC).isoformat(), **fields})


def _entries(topic: Timed, sku: str) -> list[tuple[float, dict[str, Any]]]:
    return [(at, value) for at, value in topic.timed if value["sku"] == sku]


class Timed(Topic):
    """A topic read with the wall-clock time each value arrived."""

    def __init__(self, bootstrap: str, name: str) -> None:
        super().__init__(bootstrap, name)
        self.timed: list[tuple[float, dict[str, Any]]] = []

    def poll(self, seconds: float) -> None:
        before = len(self.values)
        super().poll(seconds)
        now = time.time()
        self.timed.extend((now, value) for value in self.values[before:])

    def until(self, done: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            self.poll(0.2)


def test_a_stock_out_and_a_cut_off_change_the_entries_within_2_s(bootstrap, prefix, tmp_path):
    now = datetime.now(UTC)
    # 20-80 s away (cut-offs are whole minutes): the flow's start and the first entries take
    # 2-3 s on a quiet machine, so even a loaded one publishes them before it
    cutoff = (now + timedelta(seconds=80)).replace(second=0, microsecond=0)
    network = {
        "locations": [_store("X", 40.7, cutoff.strftime("%H:%M")), _store("Y", 41.9, "23:59")],
        "service_levels": [{"name": "standard", "transit_days": [[0, 20100, 2]]}],
        "regions": [{"id": "100", "lat": 40.75, "lon": -73.99}],
    }
    path = tmp_path / "network.json"
    path.write_bytes(orjson.dumps(network))
    topics = Topics(prefix)
    ensure_topics(bootstrap, topics, partitions=2)
    promises = Timed(bootstrap, topics.promises)
    process = start_run(bootstrap, prefix, tmp_path / "run.log", "--network", str(path))
    try:
        produce(
            bootstrap,
            topics.events,
            [
                _event(event_id="a", type="receipt", location_id="X", sku="A", qty=1),
                _event(event_id="b1", type="receipt", location_id="X", sku="B", qty=5),
                _event(event_id="b2", type="receipt", location_id="Y", sku="B", qty=5),
            ],
        )
        promises.until(lambda: _entries(promises, "A") and _entries(promises, "B"), 90)
        first_b = _entries(promises, "B")[-1][1]
        assert first_b["regions"]["100"]["standard"]["location_id"] == "X"
        until = datetime.fromisoformat(first_b["valid_until"])
        assert until <= cutoff  # the cut-off is the first thing the clock changes

        sent = time.time()  # the stock-out: A's only unit is sold
        produce(
            bootstrap,
            topics.events,
            [_event(event_id="s", type="sale", location_id="X", sku="A", qty=1)],
        )
        promises.until(lambda: len(_entries(promises, "A")) >= 2, 10)
        arrived, after = _entries(promises, "A")[-1]
        assert after["regions"] == {"100": {}}
        assert arrived - sent <= 2.0

        promises.until(
            lambda: len(_entries(promises, "B")) >= 2,
            (until - datetime.now(UTC)).total_seconds() + 10,
        )
        arrived, later = _entries(promises, "B")[-1]
        assert later["regions"] != first_b["regions"]
        assert datetime.fromisoformat(later["as_of"]) > until
        assert arrived - until.timestamp() <= 2.0
    finally:
        promises.close()
        stop(process)


def test_the_table_comes_back_after_kill_9(bootstrap, prefix, tmp_path: Path):
    raw = generate_network(stores=6, regions=10)
    network = load_network(raw)
    path = tmp_path / "network.json"
    path.write_bytes(orjson.dumps(raw))
    params = WorkloadParams(
        events=8_000,
        stores=6,
        dcs=4,
        skus=80,
        seed=9,
        start_ms=int(time.time() * 1000) + 3_600_000,  # no live expiry fires meanwhile
        events_per_s=50.0,
        dup_rate=0.02,
        bad_rate=0.01,
    )
    lines = list(generate(params, network_catalogue(6, 80)))
    replay = Replay()
    replay.feed(lines)
    replay.finish(datetime.now(UTC))
    where: dict[str, list[str]] = {}
    for record in replay.records():
        here = where.setdefault(record.sku, [])
        if record.channels.get("web", record.atp) >= 1:
            here.append(record.location_id)
    topics = Topics(prefix)
    ensure_topics(bootstrap, topics, partitions=1)
    flags = ("--network", str(path), "--recovery-dir", str(tmp_path / "rec"), "--snapshot-s", "1")
    log = tmp_path / "run.log"
    process = start_run(bootstrap, prefix, log, *flags)
    calculator = Calculator(network)

    def right(last: dict[Any, Any]) -> bool:
        if set(last) != set(where):
            return False
        return all(
            entry["regions"]
            == reference(
                network, calculator, sorted(where[sku]), datetime.fromisoformat(entry["as_of"])
            )
            for sku, entry in last.items()
        )

    promises = Topic(bootstrap, topics.promises)
    try:
        produce(bootstrap, topics.events, lines[:5_000])
        time.sleep(4)
        stop(process, signal.SIGKILL)  # in mid-stream, between snapshots
        produce(bootstrap, topics.events, lines[5_000:])
        process = start_run(bootstrap, prefix, log, *flags)
        deadline = time.monotonic() + 120
        while not right(promises.last) and time.monotonic() < deadline:
            promises.poll(1.0)
        assert set(promises.last) == set(where)
        assert right(promises.last)
    finally:
        promises.close()
        stop(process)
