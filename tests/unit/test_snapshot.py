"""A book survives a snapshot: pickled and unpickled, it holds and does the same as the original.

The dataflow's recovery stores books as pickles, so a restored book must hold every figure,
reservation and dedup entry, keep its settings, and go on exactly like the book it was taken
from. Compared by value (records, fields), never by identity.
"""

from __future__ import annotations

import pickle
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.book import Book, EngineConfig
from engine.events import TransferOut
from engine.outputs import Alert, Duplicate, Rejected, ReservationChanged
from engine.position import Position
from engine.replay import Replay
from engine.routing import supply_of
from engine.rules import apply, expire
from tests.factories import T0, at, event, line
from tests.property.naive import WEEK_MS
from tests.property.strategies import event_logs

MINUTE = 60_000
CONFIG = EngineConfig(dedup_window_ms=30 * MINUTE, low_stock=3, reorder_point=7)


def snapshot(book: Book) -> Book:
    restored: Book = pickle.loads(pickle.dumps(book, pickle.HIGHEST_PROTOCOL))
    return restored


def state(book: Book) -> dict[str, Any]:
    """Everything a book holds, by value, in a form that compares with ``==``."""
    return {
        "location_id": book.location_id,
        "config": book.config,
        "settings": (
            book.window,
            book.low_stock,
            book.reorder_point,
            book.quiet_from,
            book.initial_flags,
        ),
        "positions": {
            sku: (
                p.record(),
                p.flags,
                p.next_expiry,
                sorted(p.holds or {}),
            )
            for sku, p in book.positions.items()
        },
        "position_order": list(book.positions),
        "reservations": [
            (
                rid,
                r.reservation_id,
                r.sku,
                r.status,
                r.qty,
                r.expires_at,
                r.first_status,
                r.first_qty,
                r.ended_at,
            )
            for rid, r in book.reservations.items()
        ],
        "seen": book.seen.state(),
        "ended": list(book.ended.items()),
        "expiries": list(book.expiries),
        "watermark": book.watermark,
        "gc_due": book.gc_due,
    }


def shares_reservations(book: Book) -> bool:
    """A position's holds are the book's own reservation objects (one object, two indexes)."""
    return all(
        held is book.reservations[rid]
        for p in book.positions.values()
        for rid, held in (p.holds or {}).items()
    )


def normalized(outputs: list[Any]) -> list[Any]:
    """Outputs by value: a ``Position`` (a live object) as its record and flags."""
    return [
        ("position", o.record(), o.flags, o.next_expiry) if isinstance(o, Position) else o
        for o in outputs
    ]


class Network:
    """Books by location, driven like ``replay``: a transfer also brings supply to its
    destination. Each call returns the outputs of every book it touched, normalised."""

    def __init__(self, books: dict[str, Book], made: int = 0) -> None:
        self.books = books
        self.made = made  # events made so far: their ids are ``n1``, ``n2``... unless given

    def book(self, location_id: str) -> Book:
        if location_id not in self.books:
            self.books[location_id] = Book(location_id, CONFIG)
        return self.books[location_id]

    def do(self, type_: str, location_id: str = "S1", **fields: Any) -> list[Any]:
        self.made += 1
        fields.setdefault("event_id", f"n{self.made}")
        parsed = event(type_, location_id=location_id, **fields)
        out = normalized(apply(self.book(location_id), parsed)[1])
        if isinstance(parsed, TransferOut):
            supply = supply_of(parsed)
            out += normalized(apply(self.book(supply.location_id), supply)[1])
        return out

    def tick(self, offset_ms: int) -> list[Any]:
        return [
            o for book in self.books.values() for o in normalized(expire(book, at(offset_ms))[1])
        ]

    def copy(self) -> Network:
        return Network({loc: snapshot(book) for loc, book in self.books.items()}, self.made)


def before_the_snapshot(net: Network) -> None:
    """Every kind of state: stock, supply, safety stock, reservations of every status, dedup."""
    net.do("receipt", sku="A", qty=20, event_id="e1", ts=T0)
    net.do("receipt", sku="B", qty=4, ts=T0 + 1000)
    net.do("inbound", sku="A", qty=10, eta=T0 + 3_600_000, supply_id="P1", ts=T0 + 2000)
    net.do("set_safety_stock", sku="A", qty=2, ts=T0 + 3000)
    net.do("reserve", sku="A", reservation_id="R1", qty=5, ttl_s=600, ts=T0 + 4000)
    # the rest of A (20 - 5 - 2 = 13): partial
    net.do("reserve", sku="A", reservation_id="R2", qty=30, allow_partial=True, ts=T0 + 5000)
    net.do("reserve", sku="B", reservation_id="R3", qty=10, ts=T0 + 6000)  # rejected
    net.do("reserve", sku="B", reservation_id="R4", qty=2, channel="pos", ttl_s=60, ts=T0 + 7000)
    net.do("reserve", sku="B", reservation_id="R5", qty=1, ts=T0 + 8000)
    net.do("release", sku="B", reservation_id="R5", ts=T0 + 9000)  # released
    net.do("reserve", sku="B", reservation_id="R6", qty=1, ttl_s=1, ts=T0 + 10_000)
    net.do("sale", sku="B", qty=1, ts=T0 + 12_000)  # R6 expires first
    net.do("sale", sku="A", qty=2, reservation_id="R1", ts=T0 + 13_000)  # R1 holds 3
    net.do("receipt", sku="A", qty=5, ts=T0 + 13_500)
    # room 23 - 16 - 2 = 5
    net.do("reserve", sku="A", reservation_id="R7", qty=8, allow_partial=True, ts=T0 + 13_550)
    net.do("reserve", sku="A", reservation_id="R8", qty=2, channel="pos", ts=T0 + 13_600)
    net.do("fulfil", sku="A", reservation_id="R8", ts=T0 + 13_700)  # fulfilled
    net.do(
        "transfer_out",
        sku="A",
        qty=1,
        to_location_id="DC1",
        eta=T0 + 7_200_000,
        supply_id="T1",
        event_id="t1",
        ts=T0 + 14_000,
    )
    net.do("receipt", sku="A", qty=4, supply_id="P1", ts=T0 + 15_000)  # P1 expects 6 more
    assert net.do("receipt", sku="A", qty=20, event_id="e1", ts=T0 + 16_000) == [Duplicate("e1")]
    net.do("count", location_id="DC1", sku="A", qty=3, ts=T0 + 17_000)


def after_the_snapshot(net: Network) -> list[list[Any]]:
    """Every rule that reads what the snapshot holds, step by step."""
    transfer: dict[str, Any] = {
        "sku": "A",
        "qty": 1,
        "to_location_id": "DC1",
        "eta": T0 + 7_200_000,
        "supply_id": "T1",
        "event_id": "t1",
        "ts": T0 + 14_000,
    }
    return [
        net.do("receipt", sku="A", qty=20, event_id="e1", ts=T0 + 20_000),  # still a duplicate
        net.do("transfer_out", **transfer),  # a duplicate here and at DC1
        net.do("reserve", sku="A", reservation_id="R2", qty=1, ts=T0 + 21_000),  # a repeat
        net.do("reserve", sku="B", reservation_id="R3", qty=1, ts=T0 + 21_000),  # a repeat
        net.do("release", sku="A", reservation_id="R1", ts=T0 + 22_000),
        net.do("release", sku="B", reservation_id="R5", ts=T0 + 22_000),  # already released
        net.do("fulfil", sku="A", reservation_id="R2", qty=3, ts=T0 + 23_000),
        net.do("sale", sku="B", qty=1, reservation_id="R4", ts=T0 + 24_000),
        net.do("receipt", sku="C", qty=1, ts=T0 + 25_000),  # a new position: initial flags
        net.do("receipt", location_id="DC1", sku="A", qty=1, supply_id="T1", ts=T0 + 26_000),
        net.do("sale", sku="B", qty=1, ts=T0 + 70_000),  # R4 (60 s) is due
        net.tick(1_000_000),  # the wall clock: R2 and R7 (900 s) expire
        net.do("adjust", sku="A", delta=-3, ts=T0 + 3_000_000),  # past the dedup window
        net.do("receipt", sku="A", qty=20, event_id="e1", ts=T0 + 3_000_001),  # new again
        net.do("reserve", sku="B", reservation_id="R3", qty=1, ts=T0 + 3_000_002),  # new again
        net.do("inbound_cancel", sku="A", supply_id="P1", ts=T0 + 3_000_003),
        net.tick(4_000_000),
    ]


def test_a_book_pickles_to_an_equal_state():
    net = Network({})
    before_the_snapshot(net)
    copy = net.copy()
    assert set(copy.books) == {"S1", "DC1"}
    for location_id, book in net.books.items():
        restored = copy.books[location_id]
        assert restored is not book
        assert state(restored) == state(book)
        assert restored.next_expiry() == book.next_expiry()
        assert shares_reservations(restored)
    s1 = net.books["S1"]
    statuses = {rid: r.status for rid, r in s1.reservations.items()}
    assert statuses == {
        "R1": "confirmed",
        "R2": "partial",
        "R3": "rejected",
        "R4": "confirmed",
        "R5": "released",
        "R6": "expired",
        "R7": "partial",
        "R8": "fulfilled",
    }
    assert s1.next_expiry() == at(7000 + 60_000)
    assert s1.positions["A"].inbound is not None
    assert net.books["DC1"].positions["A"].inbound is not None


def test_a_restored_book_goes_on_exactly_like_the_original():
    net = Network({})
    before_the_snapshot(net)
    copy = net.copy()
    steps = after_the_snapshot(net)
    steps_of_copy = after_the_snapshot(copy)
    assert steps_of_copy == steps
    # the steps did what they are there for
    assert steps[0] == [Duplicate("e1")]
    assert steps[1] == [Duplicate("t1"), Duplicate("t1")]
    assert [o.repeat for o in steps[2] + steps[3] if isinstance(o, ReservationChanged)] == [
        True,
        True,
    ]
    assert isinstance(steps[5][0], Rejected)
    assert any(isinstance(o, ReservationChanged) and o.status == "expired" for o in steps[10])
    assert sorted(o.reservation_id for o in steps[11] if isinstance(o, ReservationChanged)) == [
        "R2",
        "R7",
    ]
    assert not isinstance(steps[13][0], Duplicate)
    assert [o.status for o in steps[14] if isinstance(o, ReservationChanged)] == ["confirmed"]
    for location_id, book in net.books.items():
        assert state(copy.books[location_id]) == state(book)
        assert copy.books[location_id].next_expiry() == book.next_expiry()


def test_a_restored_book_is_independent_of_the_original():
    net = Network({})
    before_the_snapshot(net)
    copy = net.copy()
    kept = {loc: state(book) for loc, book in net.books.items()}
    copy.do("release", sku="A", reservation_id="R1", ts=T0 + 20_000)
    copy.do("receipt", sku="A", qty=1, supply_id="P1", ts=T0 + 20_000)
    copy.do("receipt", location_id="DC1", sku="A", qty=1, supply_id="T1", ts=T0 + 20_000)
    copy.tick(10_000_000)
    assert {loc: state(book) for loc, book in net.books.items()} == kept
    assert net.books["S1"].reservations["R1"].status == "confirmed"


def test_a_restored_book_keeps_its_own_settings():
    book = Book("S1", CONFIG)
    restored = snapshot(book)
    assert restored.config == CONFIG
    assert (restored.window, restored.low_stock, restored.reorder_point, restored.quiet_from) == (
        timedelta(minutes=30),
        3,
        7,
        book.quiet_from,
    )
    # the settings drive the rules: low_stock at atp 3 (not the default 2)
    out = apply(restored, event("receipt", qty=3))[1]
    assert [o.kind for o in out if isinstance(o, Alert)] == [
        "back_in_stock",
        "low_stock",
    ]


# -- the property: snapshot anywhere in any log ---------------------------------------------------


class OutputRecorder:
    """A replay's ``on_outputs``: every output of the rules, kept by value."""

    def __init__(self) -> None:
        self.outputs: list[Any] = []

    def __call__(self, outputs: list[Any]) -> None:
        self.outputs.extend(normalized(outputs))

    def take(self) -> list[Any]:
        taken, self.outputs = self.outputs, []
        return taken


def by_value(book: Book) -> dict[str, Any]:
    """``state`` with its dicts and expiry heap by value, not by order: a book restored from
    shards (``EngineConfig.sku_shards``) lists its positions shard by shard, its remembered
    ids and ended reservations in the order of time, and makes its heap anew from the live
    reservations."""
    found = state(book)
    del found["position_order"]
    # What has left the dedup window is as good as forgotten (the rules treat it as absent):
    # a restored book, its entries in the order of time, drops it sooner than the original,
    # whose scan stops at the first recent entry in the order they came. (The event ids are
    # pickled as they are: ``engine.dedup``.)
    horizon = book.watermark - book.window
    found["ended"] = sorted(e for e in found["ended"] if e[1] >= horizon)
    found["reservations"] = sorted(
        (r for r in found["reservations"] if r[8] is None or r[8] >= horizon), key=repr
    )
    found["expiries"] = sorted(e for e in found["expiries"] if book.due(e) is not None)
    return found


def figures(replay: Replay) -> tuple[Any, ...]:
    exact = state if replay.config.sku_shards == 1 else by_value
    return (
        [p.record() for p in replay.positions()],
        (replay.applied, replay.duplicates, replay.dead_letters),
        {loc: exact(book) for loc, book in replay.books.items()},
        {loc: book.next_expiry() for loc, book in replay.books.items()},
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    event_logs(),
    st.data(),
    st.sampled_from([WEEK_MS, 60_000, 200_000]),
    st.sampled_from([(2, 5), (3, 7), (0, 0)]),
    st.sampled_from([1, 1, 3]),
)
def test_a_snapshot_anywhere_in_a_log_goes_on_like_the_original(
    lines, data, window, thresholds, shards
):
    split = data.draw(st.integers(0, len(lines)), label="split")
    earlier = data.draw(st.integers(0, split), label="an earlier snapshot")
    low_stock, reorder_point = thresholds
    config = EngineConfig(
        dedup_window_ms=window,
        low_stock=low_stock,
        reorder_point=reorder_point,
        sku_shards=shards,
    )
    recorder = OutputRecorder()
    original = Replay(config, on_outputs=recorder)
    original.feed(lines[:earlier])
    for book in original.books.values():  # a sharded book caches what this pickles
        pickle.dumps(book, pickle.HIGHEST_PROTOCOL)
    original.feed(lines[earlier:split])
    restored = Replay(config, on_outputs=recorder)
    restored.books = {loc: snapshot(book) for loc, book in original.books.items()}
    restored.claims = pickle.loads(pickle.dumps(original.claims))
    restored.applied = original.applied
    restored.duplicates = original.duplicates
    restored.dead_letters = original.dead_letters
    recorder.take()
    assert figures(restored) == figures(original)
    for raw in lines[split:]:
        original.feed([raw])
        expected = recorder.take()
        restored.feed([raw])
        assert recorder.take() == expected, raw
    # the end of the replay: expire as of a little after the last event
    as_of = None if original.max_ts is None else original.max_ts + timedelta(minutes=5)
    assert original.finish(as_of) == as_of
    expected = recorder.take()
    assert restored.finish(as_of) == as_of
    assert recorder.take() == expected
    assert figures(restored) == figures(original)
    # and the copy was never the original's state in disguise
    assert all(restored.books[loc] is not book for loc, book in original.books.items())


def test_the_recorder_sees_both_books_a_transfer_changes():
    """The recorder sees both books a transfer touches, as ``replay`` applies them."""
    recorder = OutputRecorder()
    replay = Replay(on_outputs=recorder)
    replay.feed(
        [
            line(
                "transfer_out",
                "S1",
                "A",
                T0,
                "t",
                qty=1,
                to_location_id="S2",
                eta=T0,
                supply_id="T",
            )
        ]
    )
    kinds = [o[0] if isinstance(o, tuple) else type(o).__name__ for o in recorder.take()]
    assert kinds.count("position") == 2


def test_a_reservation_pickled_under_its_former_module_loads():
    """``Reservation`` moved from ``engine.position`` to ``engine.holds``: a snapshot written
    before the move names the old module, which still has it."""
    book = Book("S1", CONFIG)
    apply(book, event("reserve", reservation_id="R1", qty=2, ts=T0))
    held = book.reservations["R1"]
    text = pickle.dumps(held, 0)  # protocol 0 names the class as plain text
    assert b"engine.holds" in text
    restored = pickle.loads(text.replace(b"engine.holds", b"engine.position"))
    assert type(restored) is type(held)
    assert restored.__getstate__() == held.__getstate__()
