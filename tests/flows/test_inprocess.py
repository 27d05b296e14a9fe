"""The dataflow inside another process (embedded mode): acknowledgements, and a clean stop."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import orjson

from dataflows.flow import APPLIED, DUPLICATE, REFUSED, Published, Ticket
from dataflows.inprocess import InProcessFlow
from engine.book import EngineConfig
from tests.factories import line

TS = "2026-11-20T10:00:00Z"


class Collected:
    """Everything the flow delivered, and a way to wait for acknowledgements."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str | None, bytes]] = []
        self.changed = threading.Condition()

    def deliver(self, items: list[Published]) -> None:
        with self.changed:
            for _, messages in items:
                self.messages.extend(messages)
            self.changed.notify_all()

    def acks(self) -> dict[int, list[bytes]]:
        found: dict[int, list[bytes]] = {}
        for topic, key, value in self.messages:
            if topic == "ack":
                found.setdefault(int(key or 0), []).append(value)
        return found

    def wait_acks(self, count: int) -> dict[int, list[bytes]]:
        with self.changed:
            assert self.changed.wait_for(
                lambda: sum(map(len, self.acks().values())) >= count, timeout=10
            ), self.messages
        return self.acks()


def test_each_ticketed_event_is_acknowledged_applied_duplicate_or_refused():
    seen = Collected()
    flow = InProcessFlow(EngineConfig(), seen.deliver)
    flow.start()
    receipt = line("receipt", location_id="S1", sku="A", qty=3, event_id="e1", ts=TS)
    ghost = line("release", location_id="S1", sku="A", reservation_id="nope", event_id="e2", ts=TS)
    transfer = line(
        "transfer_out",
        location_id="S1",
        sku="A",
        qty=1,
        to_location_id="S2",
        eta="2026-11-21T00:00:00Z",
        supply_id="T1",
        event_id="e3",
        ts=TS,
    )
    flow.send_many(
        [
            (receipt, Ticket("api", 1)),
            (receipt, Ticket("api", 2)),
            (ghost, Ticket("api", 3)),
            (transfer, Ticket("api", 4)),
            (line("receipt", location_id="S1", sku="B", qty=1, event_id="e4", ts=TS), "feed:1"),
        ]
    )
    acks = seen.wait_acks(5)
    flow.stop()
    assert acks[1] == [APPLIED]
    assert acks[2] == [DUPLICATE]
    assert len(acks[3]) == 1 and acks[3][0].startswith(REFUSED + b"unknown_reservation")
    assert acks[4] == [APPLIED, APPLIED]  # the transfer's two books: S1, and its supply at S2
    assert set(acks) == {1, 2, 3, 4}  # an event without a ticket is not acknowledged
    dead = [orjson.loads(value) for topic, _, value in seen.messages if topic == "dead"]
    assert [record["source"] for record in dead] == ["api/3"]
    positions = {key for topic, key, _ in seen.messages if topic == "atp"}
    assert positions == {"S1:A", "S1:B", "S2:A"}


def test_stop_applies_everything_sent_before_it_then_ends_the_thread():
    seen = Collected()
    flow = InProcessFlow(EngineConfig(), seen.deliver)
    flow.start()
    flow.send_many(
        (line("receipt", location_id=f"S{n % 7}", sku="A", qty=1, event_id=f"e{n}", ts=TS), n)
        for n in range(2_000)
    )
    flow.stop()
    assert not flow.running and flow.error is None
    last = {}
    for topic, key, value in seen.messages:
        if topic == "atp":
            last[key] = orjson.loads(value)["on_hand"]
    assert sum(last.values()) == 2_000


def test_the_stream_refuses_an_event_dated_past_the_clock_rule():
    seen = Collected()
    flow = InProcessFlow(EngineConfig(), seen.deliver)  # max_future_s 300 by default
    flow.start()
    ahead = line("receipt", qty=5, event_id="e1", ts="2099-01-01T00:00:00Z")
    flow.send_many([(ahead, Ticket("api", 1))])
    acks = seen.wait_acks(1)
    flow.stop()
    assert acks[1][0].startswith(REFUSED + b"ts_in_future")
    assert not [key for topic, key, _ in seen.messages if topic == "atp"]  # nothing applied


def test_one_reservation_id_holds_at_one_location_only():
    """Two locations asked to hold one id at the same moment: the claims step lets the first
    answer stand, answers the other with it as a repeat, and revokes the other's hold through
    the flow's own input (docs/events.md §8.5)."""
    seen = Collected()
    flow = InProcessFlow(EngineConfig(), seen.deliver)
    flow.start()
    stock = [
        line("receipt", location_id=loc, sku="A", qty=5, event_id=f"r{loc}", ts=TS)
        for loc in ("S1", "S2")
    ]
    flow.send_many((raw, f"feed:{i}") for i, raw in enumerate(stock))
    reserves = [
        line(
            "reserve",
            location_id=loc,
            sku="A",
            qty=2,
            reservation_id="R1",
            event_id=f"x{loc}",
            ts=datetime.now(UTC).isoformat(),  # holds the wall clock does not expire meanwhile
        )
        for loc in ("S1", "S2")
    ]
    flow.send_many([(reserves[0], Ticket("api", 1)), (reserves[1], Ticket("api", 2))])
    seen.wait_acks(2)

    def settled() -> bool:
        latest = {}
        for topic, key, value in seen.messages:
            if topic == "atp":
                latest[key] = orjson.loads(value)["reserved"]
        return sorted(latest.values()) == [0, 2]

    with seen.changed:
        assert seen.changed.wait_for(settled, timeout=10), seen.messages
    flow.stop()
    outcomes = [orjson.loads(v) for t, _, v in seen.messages if t == "reservations"]
    assert len(outcomes) == 2
    first, repeat = outcomes
    assert first["status"] == "confirmed" and "repeat" not in first
    assert repeat["repeat"] is True and repeat["location_id"] == first["location_id"]
    assert repeat["event_id"] != first["event_id"]  # the loser's sender gets its answer
    revocations = [orjson.loads(v) for t, _, v in seen.messages if t == "events"]
    assert [r["type"] for r in revocations] == ["revoke"]
    assert revocations[0]["location_id"] != first["location_id"]
