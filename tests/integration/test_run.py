"""``omnistock run`` on a real broker leaves what ``omnistock replay`` prints for the same log.

The events go to one partition: Kafka orders a partition, not a topic, so only then is the
file's order the stream's order for events of different locations too (a receipt at a store
naming a supply that a DC's transfer creates). With several partitions each location's events
keep their order and everything else matches; see the README on transfers across partitions.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from confluent_kafka import Consumer, Producer

from dataflows.kafka import PRODUCER_DEFAULTS, Topics, ensure_topics
from engine.replay import Replay
from workload import WorkloadParams, generate

pytestmark = pytest.mark.kafka


# The logs are dated an hour ahead of the wall clock (no live expiry fires while they are read);
# the dataflow's clock rule is widened to accept them.
AHEAD_ENV = {"OMNISTOCK_MAX_FUTURE_S": "86400"}


def make_log(events: int, seed: int) -> list[bytes]:
    start = int(time.time() * 1000) + 3_600_000  # no live expiry fires during the test
    params = WorkloadParams(
        events=events,
        stores=8,
        dcs=2,
        skus=60,
        seed=seed,
        start_ms=start,
        events_per_s=50.0,
        dup_rate=0.02,
        bad_rate=0.01,
    )
    return list(generate(params))


def produce(bootstrap: str, topic: str, lines: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
    for line in lines:
        try:
            key = orjson.loads(line).get("location_id")
        except (orjson.JSONDecodeError, AttributeError):
            key = None
        producer.produce(topic, line, key if isinstance(key, str) else None)
        producer.poll(0)
    producer.flush(30)


def expected(lines: list[bytes]) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]], int]:
    replay = Replay(ledger=True)
    replay.feed(lines)
    replay.finish(datetime.now(UTC))
    positions = {
        f"{p.location_id}:{p.sku}": orjson.loads(msgspec.json.encode(p)) for p in replay.records()
    }
    outcomes = {r["reservation_id"]: (r["status"], r["qty"]) for r in replay.reservations()}
    return positions, outcomes, replay.dead_letters


class Topic:
    """Reads a topic from its beginning, keeping the last value per key."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"g-{topic}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self.consumer.subscribe([topic])
        self.last: dict[str | None, Any] = {}  # message key: last JSON value
        self.values: list[Any] = []
        self.count = 0

    def poll(self, seconds: float) -> None:
        for message in self.consumer.consume(10_000, timeout=seconds):
            if message.error():
                continue
            raw_key, raw_value = message.key(), message.value()
            key = raw_key.decode() if raw_key else None
            assert raw_value is not None, key  # every message of these topics is a JSON value
            value = orjson.loads(raw_value)
            if not value.get("repeat"):  # a repeat answers, it changes nothing (docs/events.md §8)
                self.last[key] = value
            self.values.append(value)
            self.count += 1

    def close(self) -> None:
        self.consumer.close()


def start_run(bootstrap: str, prefix: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "omnistock.cli",
        "run",
        "--bootstrap",
        bootstrap,
        "--topic-prefix",
        prefix,
        *extra,
    ]
    with log.open("ab") as sink:  # the child keeps its own descriptor
        return subprocess.Popen(
            command,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
            env={**os.environ, **AHEAD_ENV},
        )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        process.wait(30)


def wait_for(
    bootstrap: str, topics: Topics, want: dict[str, Any], timeout: float = 120.0
) -> dict[str | None, Any]:
    atp = Topic(bootstrap, topics.atp)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            atp.poll(1.0)
            if atp.last == want:
                break
        return atp.last
    finally:
        atp.close()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("layout", ["1 worker", "2 workers", "2 processes"])
def test_atp_topic_matches_replay(bootstrap, prefix, layout, tmp_path: Path):
    topics = Topics(prefix)
    ensure_topics(bootstrap, topics, partitions=1)
    lines = make_log(20_000, seed=5)
    produce(bootstrap, topics.events, lines)
    positions, outcomes, dead = expected(lines)
    log = tmp_path / "run.log"
    if layout == "2 processes":
        addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
        processes = [
            start_run(bootstrap, prefix, log, "-i", str(i), "-a", addresses) for i in (0, 1)
        ]
    else:
        processes = [start_run(bootstrap, prefix, log, "--workers", layout[0])]
    try:
        assert wait_for(bootstrap, topics, positions) == positions
        reservations = Topic(bootstrap, topics.reservations)
        dead_letters = Topic(bootstrap, topics.deadletter)
        reservations.poll(5.0)
        dead_letters.poll(5.0)
        listed = {"confirmed": "active"}
        final = {
            k: (listed.get(v["status"], v["status"]), v["qty"])
            for k, v in reservations.last.items()
        }
        assert final == outcomes
        assert dead_letters.count == dead
        record = next(iter(dead_letters.last.values()))
        assert record["source"].startswith(topics.events + "/")
        reservations.close()
        dead_letters.close()
    finally:
        for process in processes:
            stop(process)


@pytest.mark.parametrize("shards", ["1", "8"])
def test_kill_9_and_restart_with_recovery_gives_the_same_state(bootstrap, prefix, tmp_path, shards):
    """With ``--sku-shards 8`` the snapshots are sharded (docs/decisions.md D94): a restored
    book, made of shards pickled at different epochs, must be the book."""
    topics = Topics(prefix)
    ensure_topics(bootstrap, topics, partitions=1)
    lines = make_log(20_000, seed=6)
    positions, _, _ = expected(lines)
    recovery = tmp_path / "recovery"
    log = tmp_path / "run.log"
    flags = ("--recovery-dir", str(recovery), "--snapshot-s", "1", "--sku-shards", shards)
    process = start_run(bootstrap, prefix, log, *flags)
    try:
        produce(bootstrap, topics.events, lines[:12_000])
        time.sleep(4)
        stop(process, signal.SIGKILL)  # in mid-stream, between snapshots
        produce(bootstrap, topics.events, lines[12_000:])
        process = start_run(bootstrap, prefix, log, *flags)
        assert wait_for(bootstrap, topics, positions) == positions
    finally:
        stop(process)


def _event(**fields: object) -> bytes:
    return orjson.dumps(fields)


def test_reservation_expires_on_the_wall_clock_with_no_further_event(bootstrap, prefix, tmp_path):
    topics = Topics(prefix)
    ensure_topics(bootstrap, topics, partitions=1)
    process = start_run(bootstrap, prefix, tmp_path / "run.log")
    outcomes = Topic(bootstrap, topics.reservations)
    try:
        now = int(time.time() * 1000)
        produce(
            bootstrap,
            topics.events,
            [_event(event_id="r1", type="receipt", location_id="S1", sku="A", ts=now, qty=5)],
        )
        atp = Topic(bootstrap, topics.atp)
        deadline = time.monotonic() + 60
        while "S1:A" not in atp.last and time.monotonic() < deadline:  # the flow is up
            atp.poll(0.5)
        atp.close()
        now = int(time.time() * 1000)
        produce(
            bootstrap,
            topics.events,
            [
                _event(
                    event_id="r2",
                    type="reserve",
                    location_id="S1",
                    sku="A",
                    ts=now,
                    reservation_id="R",
                    qty=1,
                    ttl_s=2,
                )
            ],
        )
        sent = time.monotonic()
        status = None
        while time.monotonic() - sent < 10 and status != "expired":
            outcomes.poll(0.2)
            status = outcomes.last.get("R", {}).get("status")
        assert status == "expired"
        assert time.monotonic() - sent <= 3.5
    finally:
        outcomes.close()
        stop(process)


def test_every_kind_of_malformed_message_is_a_dead_letter_and_the_flow_goes_on(
    bootstrap, prefix, tmp_path
):
    topics = Topics(prefix)
    ensure_topics(bootstrap, topics, partitions=1)
    good = _event(event_id="g1", type="receipt", location_id="S1", sku="A", ts=1000, qty=3)
    bad = [
        b"",
        b"not json",
        b"{",
        b"[1,2]",
        b"\xff\xfe",
        b"null",
        _event(event_id="b1", type="teleport", location_id="S1", sku="A", ts=1),
        _event(event_id="b2", type="sale", location_id="S1", sku="A", ts=1),
        _event(event_id="b3", type="sale", location_id="S 1", sku="A", ts=1, qty=1),
        _event(event_id="b4", type="sale", location_id="S1", sku="A", ts=1, qty="1"),
        _event(event_id="b5", type="sale", location_id="S1", sku="A", ts=1, qty=0),
        _event(event_id="b6", type="sale", location_id="S1", sku="A", ts="yesterday", qty=1),
        _event(
            event_id="b7", type="release", location_id="S1", sku="A", ts=1, reservation_id="NOPE"
        ),
    ]
    after = _event(event_id="g2", type="receipt", location_id="S1", sku="A", ts=2000, qty=4)
    produce(bootstrap, topics.events, [good, *bad, after])
    process = start_run(bootstrap, prefix, tmp_path / "run.log")
    dead = Topic(bootstrap, topics.deadletter)
    try:
        assert wait_for(bootstrap, topics, {"S1:A": expected([good, after])[0]["S1:A"]})
        deadline = time.monotonic() + 30
        while dead.count < len(bad) and time.monotonic() < deadline:
            dead.poll(0.5)
        records = dead.values
        assert dead.count == len(bad)
        assert all(r["reason"] and r["source"].startswith(topics.events) for r in records)
    finally:
        dead.close()
        stop(process)


def test_a_fulfil_read_after_an_outage_still_finds_its_hold(bootstrap, prefix, tmp_path):
    """Expiry never overtakes the stream (docs/events.md §8.4): a fulfil made before its hold's
    expiry and read after a restart that came after it still applies."""
    topics = Topics(prefix)
    ensure_topics(bootstrap, topics, partitions=1)
    flags = ("--recovery-dir", str(tmp_path / "recovery"), "--snapshot-s", "0.5")
    process = start_run(bootstrap, prefix, tmp_path / "run.log", *flags)
    outcomes = Topic(bootstrap, topics.reservations)
    try:
        now = int(time.time() * 1000)
        fields = {"location_id": "S1", "sku": "A"}
        # 8 s: the first run must be killed before the hold expires, even on a loaded machine
        hold = {"reservation_id": "R", "qty": 2, "ttl_s": 8}
        produce(
            bootstrap,
            topics.events,
            [
                _event(event_id="e1", type="receipt", qty=5, ts=now, **fields),
                _event(event_id="e2", type="reserve", ts=now, **fields, **hold),
            ],
        )
        deadline = time.monotonic() + 60
        while outcomes.last.get("R", {}).get("status") != "confirmed":
            assert time.monotonic() < deadline, outcomes.last
            outcomes.poll(0.2)
        time.sleep(1.5)  # a snapshot holds the hold
        stop(process, signal.SIGKILL)
        assert time.time() * 1000 < now + 8000, "the first run outlived the hold: no test"
        fulfil = _event(event_id="e3", type="fulfil", reservation_id="R", ts=now + 1000, **fields)
        produce(bootstrap, topics.events, [fulfil])  # made a second after the hold
        time.sleep(max(0.0, now / 1000 + 9 - time.time()))  # down while expires_at passes
        process = start_run(bootstrap, prefix, tmp_path / "run.log", *flags)
        deadline = time.monotonic() + 60
        while outcomes.last["R"]["status"] not in ("fulfilled", "expired"):
            assert time.monotonic() < deadline, outcomes.last
            outcomes.poll(0.2)
        assert outcomes.last["R"]["status"] == "fulfilled"
        atp = Topic(bootstrap, topics.atp)
        deadline = time.monotonic() + 30
        while atp.last.get("S1:A", {}).get("reserved") != 0 and time.monotonic() < deadline:
            atp.poll(0.5)
        atp.close()
        assert (atp.last["S1:A"]["on_hand"], atp.last["S1:A"]["reserved"]) == (3, 0)
    finally:
        outcomes.close()
        stop(process)
