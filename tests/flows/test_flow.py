"""The Bytewax dataflow with testing sources: it must leave what ``replay`` leaves.

The log starts an hour after the wall clock, so no reservation's live timer fires while the
flow runs (its clock rule is widened to accept it: ``AHEAD``); the flow is then compared with a
replay expired as of now (nothing extra expired), which is exactly what the dataflow has done by
the end of its input.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
import pytest
from bytewax.testing import TestingSink, TestingSource, cluster_main, run_main

from dataflows.flow import (
    MAX_DEAD_RAW,
    ForClaims,
    Incoming,
    LocationLogic,
    Published,
    build_flow,
)
from engine.book import DEFAULT_CONFIG, EngineConfig
from engine.events import parse
from engine.policy import load
from engine.replay import Replay
from workload import DEFAULT_MIX, WorkloadParams, generate, policy_kits

AHEAD = EngineConfig(max_future_s=86_400)  # the logs below are dated an hour ahead


def log_params(events: int, seed: int, **more: Any) -> WorkloadParams:
    return WorkloadParams(
        events=events,
        stores=6,
        dcs=2,
        skus=40,
        seed=seed,
        start_ms=int(time.time() * 1000) + 3_600_000,
        events_per_s=50.0,
        dup_rate=0.02,
        bad_rate=0.01,
        **more,
    )


def make_log(events: int, seed: int) -> list[bytes]:
    return list(generate(log_params(events, seed)))


Pairs = list[tuple[str | None, bytes]]  # (message key, JSON value) of one topic


def run_flow(
    lines: list[bytes], workers: int = 1, sku_shards: int = 1, config: EngineConfig = AHEAD
) -> dict[str, Pairs]:
    published: list[Published] = []
    items = [Incoming(line, f"log:{i}") for i, line in enumerate(lines, 1)]
    flow = build_flow(
        TestingSource(items, batch_size=64), TestingSink(published), config, sku_shards
    )
    if workers == 1:
        run_main(flow)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers)
    outs: dict[str, Pairs] = {k: [] for k in ("atp", "reservations", "alerts", "dead")}
    for _, messages in published:
        for topic, key, value in messages:
            outs[topic].append((key, value))
    return outs


def replayed(lines: list[bytes], config: EngineConfig = DEFAULT_CONFIG) -> Replay:
    replay = Replay(config, ledger=True)
    replay.feed(lines)
    replay.finish(datetime.now(UTC))
    return replay


def last_values(pairs: Iterable[tuple[str | None, bytes]]) -> dict[str | None, Any]:
    last: dict[str | None, Any] = {}
    for key, value in pairs:
        last[key] = orjson.loads(value)
    return last


@pytest.fixture(scope="module")
def log() -> list[bytes]:
    return make_log(3000, seed=11)


@pytest.mark.parametrize(("workers", "sku_shards"), [(1, 1), (2, 1), (2, 8)])
def test_positions_on_atp_are_what_replay_prints(log, workers, sku_shards):
    outs = run_flow(log, workers, sku_shards)
    expected = {
        f"{p.location_id}:{p.sku}": orjson.loads(msgspec.json.encode(p))
        for p in replayed(log).records()
    }
    assert last_values(outs["atp"]) == expected


def test_reservation_outcomes_end_as_replay_lists_them(log):
    outs = run_flow(log)
    changes = [(k, v) for k, v in outs["reservations"] if not orjson.loads(v).get("repeat")]
    final = last_values(changes)  # a repeat answers, it changes nothing (docs/events.md §8)
    listed = {row["reservation_id"]: row for row in replayed(log).reservations()}
    status = {"confirmed": "active"}
    assert {rid: (status.get(v["status"], v["status"]), v["qty"]) for rid, v in final.items()} == {
        rid: (row["status"], row["qty"]) for rid, row in listed.items()
    }


@pytest.fixture(scope="module")
def cart_log() -> tuple[list[bytes], EngineConfig]:
    """A log with carts and kits (15 % "cart" draws, 3 kits), and the flow's settings under a
    policy declaring those kits (the same settings replay with)."""
    params = log_params(4000, seed=5, mix=(*DEFAULT_MIX, ("cart", 0.15)), kits=3)
    policy = load(orjson.dumps({"kits": policy_kits(params)}))
    return list(generate(params)), AHEAD.with_policy(policy)


def _ending(record: dict[str, Any]) -> tuple[str, int, list[dict[str, Any]] | None]:
    """An outcome on the topic or a row of ``replay --reservations``: status as listed, units
    held (a cart's: its lines' sum) and a cart's lines."""
    status = {"confirmed": "active"}.get(record["status"], record["status"])
    lines = record.get("lines")
    return status, record["qty"] if lines is None else sum(x["qty"] for x in lines), lines


@pytest.mark.parametrize(("workers", "sku_shards"), [(1, 1), (2, 1), (2, 8)])
def test_carts_and_kits_in_the_flow_end_as_replay_leaves_them(cart_log, workers, sku_shards):
    lines, config = cart_log
    outs = run_flow(lines, workers, sku_shards, config)
    replay = replayed(lines, config)
    expected = {
        f"{p.location_id}:{p.sku}": orjson.loads(msgspec.json.encode(p)) for p in replay.records()
    }
    assert last_values(outs["atp"]) == expected
    assert not any(key.startswith("KIT-") for key in expected)  # a kit is never a position
    outcomes = [orjson.loads(v) for _, v in outs["reservations"]]
    carts = [o for o in outcomes if "lines" in o]
    assert carts and all("sku" not in o and "qty" not in o for o in carts)  # lines instead
    assert {o["status"] for o in carts} >= {"confirmed", "rejected", "fulfilled", "released"}
    assert any(o.get("kit") for o in carts) and any(o.get("short") for o in carts)
    final = last_values(
        (k, v) for k, v in outs["reservations"] if not orjson.loads(v).get("repeat")
    )
    listed = {row["reservation_id"]: row for row in replay.reservations()}
    assert {rid: _ending(v) for rid, v in final.items()} == {
        rid: _ending(row) for rid, row in listed.items()
    }
    carts_listed = [row for row in listed.values() if "lines" in row]
    assert len(carts_listed) > 100
    assert all(row["qty"] == sum(x["qty"] for x in row["lines"]) for row in carts_listed)


def test_every_bad_line_becomes_a_dead_letter_and_the_flow_goes_on(log):
    outs = run_flow(log)
    replay = replayed(log)
    records = [orjson.loads(value) for _, value in outs["dead"]]
    assert len(records) == replay.dead_letters > 0
    assert all(
        r["reason"] and r["raw"] is not None and r["source"].startswith("log:") for r in records
    )
    assert outs["atp"]  # processing went on past them


def test_alerts_are_published_with_their_figures(log):
    outs = run_flow(log)
    kinds = {orjson.loads(v)["kind"] for _, v in outs["alerts"]}
    assert kinds >= {"stockout", "back_in_stock", "low_stock", "replenish"}


def test_live_expiry_asks_for_a_wake_up_and_expires_on_it():
    logic = LocationLogic(None, EngineConfig())
    now = int(time.time() * 1000)
    receipt = orjson.dumps(
        {
            "event_id": "e1",
            "type": "receipt",
            "location_id": "S1",
            "sku": "A",
            "ts": now - 10_000,
            "qty": 5,
        }
    )
    reserve = orjson.dumps(
        {
            "event_id": "e2",
            "type": "reserve",
            "location_id": "S1",
            "sku": "A",
            "ts": now - 5_000,
            "reservation_id": "R",
            "qty": 2,
            "ttl_s": 2,
        }
    )
    logic.on_batch([[(parse(x), x, "t") for x in (receipt, reserve)]])  # one group
    wake = logic.notify_at()
    assert wake is not None
    assert wake <= datetime.now(UTC)
    batches, _ = logic.on_notify()
    out = [message for batch in batches if isinstance(batch, list) for message in batch]
    claimed = [e for batch in batches if isinstance(batch, ForClaims) for e in batch.outcomes]
    assert [(e.reservation_id, e.status) for e in claimed] == [("R", "expired")]
    assert logic.notify_at() is None
    position = next(orjson.loads(v) for t, _, v in out if t == "atp")
    assert position["reserved"] == 0


def test_a_message_the_broker_refused_stops_the_sink():
    from confluent_kafka import KafkaError, KafkaException, Message

    from dataflows.kafka import _raise_on_failure

    message = Message(topic="omnistock.atp", key=b"S1:A", value=b"{}")
    _raise_on_failure(None, message)  # delivered: nothing to say
    with pytest.raises(KafkaException):
        _raise_on_failure(KafkaError(KafkaError._MSG_TIMED_OUT), message)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        b'{"type": "teleport", "x": "' + b"\xff" * 600_000 + b'"}',
    ],
)
def test_a_monster_message_is_a_dead_letter_and_the_flow_goes_on(raw):
    """Nested too deeply to decode, or too long to publish whole: each is a dead letter (of
    at most MAX_DEAD_RAW bytes of its text), and the events after it still apply."""
    good = b'{"event_id":"g","type":"receipt","location_id":"S1","sku":"A","ts":0,"qty":2}'
    outs = run_flow([raw, good])
    (record,) = [orjson.loads(value) for _, value in outs["dead"]]
    assert record["reason"].startswith("bad_json") or record["reason"].startswith("unknown_type")
    assert record["source"] == "log:1"
    if len(raw) > MAX_DEAD_RAW:
        assert (record["raw_truncated"], record["raw_bytes"]) == (True, len(raw))
        assert len(record["raw"]) <= 4 * MAX_DEAD_RAW
    assert [key for key, _ in outs["atp"]] == ["S1:A"]


def test_while_the_input_catches_up_the_wall_clock_expires_nothing():
    from dataflows.progress import Progress

    progress = Progress()
    progress.report("0", True)  # a backlog waits
    logic = LocationLogic(None, EngineConfig(), progress=progress)
    now = int(time.time() * 1000)
    fields = {"location_id": "S1", "sku": "A"}
    lines = [
        orjson.dumps({"event_id": "e1", "type": "receipt", "ts": now - 10_000, "qty": 5, **fields}),
        orjson.dumps(
            {"event_id": "e2", "type": "reserve", "ts": now - 5_000, "reservation_id": "R"}
            | {"qty": 2, "ttl_s": 2, **fields}
        ),
    ]
    logic.on_batch([[(parse(x), x, "t") for x in lines]])
    wake = logic.notify_at()
    assert wake is not None and wake > datetime.now(UTC)  # due, but it looks again later
    assert logic.on_notify() == ((), False)  # nothing expired
    progress.report("0", False)  # caught up: the clock takes over
    due = logic.notify_at()
    assert due is not None and due <= datetime.now(UTC)
    batches, _ = logic.on_notify()
    statuses = [e.status for b in batches if isinstance(b, ForClaims) for e in b.outcomes]
    assert statuses == ["expired"]


def test_a_partition_is_behind_until_a_poll_finds_nothing_left():
    from dataflows.progress import Progress, next_state

    assert next_state(False, 0, 2000, None) is True  # nothing known of the broker yet
    assert next_state(True, 1000, 2000, 0) is True  # it read the rest: sure at the next poll
    assert next_state(True, 0, 2000, 0) is False  # nothing new, nothing left: caught up
    assert next_state(False, 2000, 2000, 500) is False  # a little behind is still caught up
    assert next_state(False, 2000, 2000, 5000) is True  # more than a batch behind: a backlog
    progress = Progress()
    assert not progress.caught_up()  # nothing reported yet
    progress.report("0", False)
    progress.report("1", True)
    assert not progress.caught_up()
    progress.report("1", False)
    assert progress.caught_up()


def test_a_live_stream_a_batch_or_two_behind_is_no_backlog_for_the_table():
    from dataflows.progress import Progress

    progress = Progress()
    assert progress.replaying(20_000)  # nothing reported yet: a start reads its backlog
    progress.report("0", True, None)
    assert progress.replaying(20_000)  # behind by an unknown amount
    progress.report("0", True, 500_000)
    progress.report("1", False, 0)
    assert progress.replaying(20_000)  # a restart's backlog
    progress.report("0", True, 12_000)
    progress.report("1", True, 7_000)
    assert not progress.replaying(20_000) and not progress.caught_up()  # live, a little behind
    progress.report("1", True, 9_000)
    assert progress.replaying(20_000)  # 21,000 behind in all
    progress.report("0", False, 0)
    progress.report("1", False, 0)
    assert not progress.replaying(20_000) and progress.caught_up()
