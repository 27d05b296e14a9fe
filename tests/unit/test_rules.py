"""The position rules of docs/events.md §3, event by event."""

from __future__ import annotations

import msgspec
import orjson

from engine.book import Book, EngineConfig
from engine.outputs import Duplicate, Rejected, SupplyExpected
from engine.position import Position
from engine.routing import route
from engine.rules import apply
from tests.factories import T0, Store, at, event


def test_receipt_adds_on_hand():
    s = Store()
    s.do("receipt", qty=5)
    assert s.pos().on_hand == 5
    assert s.pos().as_of == at(0)


def test_receipt_with_supply_id_shrinks_that_supply_and_removes_it_at_zero():
    s = Store()
    s.do("inbound", qty=10, eta=T0 + 1000, supply_id="PO1")
    s.do("receipt", qty=4, supply_id="PO1")
    assert s.pos().inbound == {"PO1": (6, at(1000))}
    s.do("receipt", qty=7, supply_id="PO1")
    assert s.pos().inbound is None
    assert s.pos().on_hand == 11


def test_receipt_with_unknown_supply_id_still_counts():
    s = Store()
    s.do("receipt", qty=2, supply_id="NOPE")
    assert s.pos().on_hand == 2


def test_sale_is_never_refused_and_may_oversell():
    s = Store()
    s.do("receipt", qty=1)
    s.do("sale", qty=3)
    p = s.pos()
    assert (p.on_hand, p.atp, p.oversold, p.available) == (-2, 0, 2, -2)


def test_sale_with_reservation_consumes_it_partially_then_fulfils_it():
    s = Store()
    s.do("receipt", qty=10)
    s.do("reserve", reservation_id="R", qty=3)
    out = s.do("sale", qty=2, reservation_id="R")
    assert s.pos().reserved == 1
    assert s.pos().on_hand == 8
    change = next(o for o in out if o.__class__.__name__ == "ReservationChanged")
    assert (change.status, change.qty) == ("confirmed", 1)
    out = s.do("sale", qty=5, reservation_id="R")
    change = next(o for o in out if o.__class__.__name__ == "ReservationChanged")
    assert (change.status, change.qty) == ("fulfilled", 0)
    assert (s.pos().reserved, s.pos().on_hand) == (0, 3)


def test_sale_with_another_positions_or_unknown_reservation_is_a_plain_sale():
    s = Store()
    s.do("receipt", qty=10, sku="B")
    s.do("reserve", reservation_id="RB", qty=2, sku="B")
    s.do("receipt", qty=10)
    s.do("sale", qty=1, reservation_id="RB")
    s.do("sale", qty=1, reservation_id="UNKNOWN")
    assert (s.pos().on_hand, s.pos().reserved) == (8, 0)
    assert s.pos("B").reserved == 2


def test_return_sellable_and_unsellable():
    s = Store()
    s.do("return", qty=2)
    s.do("return", qty=3, sellable=False)
    assert (s.pos().on_hand, s.pos().unsellable) == (2, 3)


def test_adjust_and_count():
    s = Store()
    s.do("adjust", delta=5)
    s.do("adjust", delta=-2)
    assert s.pos().on_hand == 3
    s.do("count", qty=11)
    assert s.pos().on_hand == 11
    s.do("count", qty=0)
    assert s.pos().on_hand == 0


def test_transfer_out_lowers_stock_here_and_expects_supply_there():
    s = Store()
    s.do("receipt", qty=5)
    transfer = event(
        "transfer_out", qty=2, to_location_id="S2", eta=T0 + 5000, supply_id="T1", event_id="X"
    )
    routes = route(transfer)
    assert routes[0] == ("S1", transfer)
    assert routes[1] == ("S2", SupplyExpected("S2", "A", "T1", 2, at(5000), "X", at(0), "S1"))
    apply(s.book, transfer)
    assert s.pos().on_hand == 3
    there = Store("S2")
    apply(there.book, routes[1][1])
    p = there.pos()
    assert p.inbound == {"T1": (2, at(5000))}
    assert (p.on_hand, p.as_of) == (0, None)
    there.do("receipt", qty=1, supply_id="T1")
    assert apply(there.book, routes[1][1])[1] == [
        Duplicate("X")
    ]  # a repeated transfer adds nothing
    assert there.pos().inbound == {"T1": (1, at(5000))}


def test_inbound_same_supply_id_replaces_and_cancel_removes():
    s = Store()
    s.do("inbound", qty=5, eta=T0 + 10, supply_id="P")
    s.do("inbound", qty=8, eta=T0 + 20, supply_id="P")
    assert s.pos().inbound == {"P": (8, at(20))}
    s.do("inbound_cancel", supply_id="P")
    assert s.pos().inbound is None
    s.do("inbound_cancel", supply_id="P")  # cancelling nothing is harmless
    assert s.pos().inbound is None


def test_atp_at_a_future_instant_counts_supply_due_by_then():
    s = Store()
    s.do("receipt", qty=2)
    s.do("set_safety_stock", qty=3)
    s.do("inbound", qty=4, eta=T0 + 10, supply_id="P1")
    s.do("inbound", qty=6, eta=T0 + 20, supply_id="P2")
    p = s.pos()
    assert (p.atp, p.atp_at(at(9)), p.atp_at(at(10)), p.atp_at(at(20))) == (0, 0, 3, 9)


def test_record_has_the_contract_fields():
    s = Store()
    s.do("receipt", qty=9, ts="2026-11-20T14:05:00Z")
    s.do(
        "inbound",
        qty=4,
        eta="2026-11-22T10:00:00.5Z",
        supply_id="P1",
        ts="2026-11-20T14:06:00-05:00",
    )
    assert orjson.loads(msgspec.json.encode(s.pos().record(s.book.channels))) == {
        "location_id": "S1",
        "sku": "A",
        "on_hand": 9,
        "reserved": 0,
        "safety_stock": 0,
        "unsellable": 0,
        "available": 9,
        "atp": 9,
        "oversold": 0,
        "inbound": [{"supply_id": "P1", "qty": 4, "eta": "2026-11-22T10:00:00.500000Z"}],
        "as_of": "2026-11-20T19:06:00Z",
        "channels": {"web": 9, "app": 9, "call_centre": 9, "pos": 9},
        "sold_7d": 0,
        "stockout_eta": None,
    }


def test_duplicate_event_id_does_nothing():
    s = Store()
    s.do("receipt", qty=5, event_id="X")
    out = s.do("receipt", qty=5, event_id="X", ts=T0 + 1)
    assert out == [Duplicate("X")]
    assert (s.pos().on_hand, s.pos().as_of) == (5, at(0))


def test_duplicate_outside_the_dedup_window_applies_again():
    # Remembered for the window and at most one bucket (a sixteenth of it) more: engine.dedup
    s = Store(config=EngineConfig(dedup_window_ms=1600))
    s.do("receipt", qty=5, event_id="X")  # T0 starts a 100 ms bucket
    s.do("receipt", qty=1, ts=T0 + 1600)
    assert s.do("receipt", qty=5, event_id="X", ts=T0 + 1600) == [Duplicate("X")]
    s.do("receipt", qty=1, ts=T0 + 1699)
    assert s.do("receipt", qty=5, event_id="X", ts=T0 + 1601) == [Duplicate("X")]
    s.do("receipt", qty=1, ts=T0 + 1700)  # the first bucket left the window
    s.do("receipt", qty=5, event_id="X", ts=T0 + 1700)
    assert s.pos().on_hand == 13


def test_duplicates_across_batches_are_found_in_the_table():
    book = Book("S1", EngineConfig(dedup_window_ms=60_000))
    first = [event("receipt", qty=1, event_id=f"e{n}", ts=T0 + n) for n in range(50)]
    book.seen.prefetch([one.event_id for one in first], book.watermark)
    for one in first:
        apply(book, one)
    again = [event("receipt", qty=1, event_id=f"e{n}", ts=T0 + 100 + n) for n in range(40, 60)]
    book.seen.prefetch([one.event_id for one in again], book.watermark)
    assert book.seen.count == 50 and not book.seen.recent
    outs = [apply(book, one)[1] for one in again]
    assert [type(out[0]) is Duplicate for out in outs] == [n < 50 for n in range(40, 60)]
    assert book.positions["A"].on_hand == 60
    book.seen.prefetch([], book.watermark)
    assert len(book.seen) == 60 and "e55" in book.seen and "e99" not in book.seen


def test_dedup_memory_is_dropped_as_event_time_moves():
    s = Store(config=EngineConfig(dedup_window_ms=1000))
    for i in range(100):
        s.do("receipt", qty=1, ts=T0 + i * 1000)
    s.do("receipt", qty=1, ts=T0 + 10**6)
    assert len(s.book.seen) <= 2


def test_same_event_id_at_another_location_is_not_a_duplicate():
    a, b = Store("S1"), Store("S2")
    a.do("receipt", qty=1, event_id="X")
    b.do("receipt", qty=1, event_id="X")
    assert a.pos().on_hand == b.pos().on_hand == 1


def test_rejected_event_changes_nothing_and_is_not_remembered():
    s = Store()
    s.do("receipt", qty=5)
    out = s.do("release", reservation_id="NOPE", event_id="Z", ts=T0 + 5)
    assert isinstance(out[0], Rejected)
    assert out[0].code == "unknown_reservation"
    assert s.pos().as_of == at(0)
    assert "Z" not in s.book.seen


def test_positions_are_created_only_by_applied_events():
    s = Store()
    s.do("release", reservation_id="NOPE", sku="NEW")
    assert "NEW" not in s.book.positions


def test_set_safety_stock_holds_back_atp():
    s = Store()
    s.do("receipt", qty=5)
    s.do("set_safety_stock", qty=2)
    assert (s.pos().available, s.pos().atp) == (3, 3)
    s.do("set_safety_stock", qty=9)
    assert (s.pos().available, s.pos().atp) == (-4, 0)


def test_outputs_end_with_the_changed_position():
    s = Store()
    out = s.do("receipt", qty=100)
    positions = [o for o in out if isinstance(o, Position)]
    assert positions == [s.pos()]


def test_apply_returns_the_same_book():
    s = Store()
    book, _ = apply(s.book, event("receipt", qty=1))
    assert book is s.book
