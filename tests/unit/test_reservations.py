"""Reservations (docs/events.md §8): confirm, partial, reject, repeat, release, fulfil, expiry."""

from __future__ import annotations

import pytest

from engine.outputs import Rejected, ReservationChanged
from engine.rules import expire
from tests.factories import T0, Store, at


def outcome(out):
    found = [o for o in out if isinstance(o, ReservationChanged)]
    assert len(found) == 1, out
    return found[0]


@pytest.fixture
def store():
    s = Store()
    s.do("receipt", qty=10)
    s.do("set_safety_stock", qty=2)
    return s


def test_confirmed_when_qty_at_most_atp(store):
    o = outcome(store.do("reserve", reservation_id="R", qty=8, ts=T0 + 1))
    assert (o.status, o.qty, o.expires_at) == ("confirmed", 8, at(1 + 900_000))
    assert (store.pos().reserved, store.pos().atp) == (8, 0)


def test_rejected_when_short_without_partial(store):
    o = outcome(store.do("reserve", reservation_id="R", qty=9))
    assert (o.status, o.qty, o.reason) == ("rejected", 0, "insufficient_stock")
    assert store.pos().reserved == 0


def test_pos_channel_may_use_safety_stock(store):
    o = outcome(store.do("reserve", reservation_id="R", qty=10, channel="pos"))
    assert (o.status, o.qty) == ("confirmed", 10)
    assert (
        outcome(store.do("reserve", reservation_id="R2", qty=1, channel="pos")).status == "rejected"
    )


@pytest.mark.parametrize("channel", ["web", "app", "call_center", "marketplace"])
def test_other_channels_keep_safety_stock(store, channel):
    assert (
        outcome(store.do("reserve", reservation_id="R", qty=9, channel=channel)).status
        == "rejected"
    )


def test_partial_reserves_the_largest_possible(store):
    o = outcome(store.do("reserve", reservation_id="R", qty=20, allow_partial=True))
    assert (o.status, o.qty) == ("partial", 8)
    o = outcome(store.do("reserve", reservation_id="R2", qty=1, allow_partial=True))
    assert (o.status, o.reason) == ("rejected", "insufficient_stock")


def test_partial_allowed_but_full_qty_available_is_confirmed(store):
    o = outcome(store.do("reserve", reservation_id="R", qty=3, allow_partial=True))
    assert (o.status, o.qty) == ("confirmed", 3)


def test_repeat_reserve_returns_the_first_outcome_and_changes_nothing(store):
    store.do("reserve", reservation_id="R", qty=3)
    as_of = store.pos().as_of
    o = outcome(store.do("reserve", reservation_id="R", qty=1, ts=T0 + 5))
    assert o.repeat
    assert (o.status, o.qty, o.current_status, o.current_qty) == ("confirmed", 3, "confirmed", 3)
    assert (store.pos().reserved, store.pos().as_of) == (3, as_of)
    store.do("release", reservation_id="R")
    o = outcome(store.do("reserve", reservation_id="R", qty=1))
    assert (o.status, o.qty, o.current_status, o.current_qty) == ("confirmed", 3, "released", 0)
    assert store.pos().reserved == 0


def test_repeat_naming_another_sku_makes_no_position(store):
    """docs/events.md §8: "whatever the new fields say": the sku too."""
    store.do("reserve", reservation_id="R", qty=3)
    out = store.do("reserve", reservation_id="R", qty=1, sku="B", ts=T0 + 5)
    assert len(out) == 1  # the outcome only: no position, no alert
    assert (out[0].sku, out[0].status, out[0].repeat) == ("A", "confirmed", True)
    assert "B" not in store.book.positions


def test_repeat_expires_nothing_due(store):
    store.do("reserve", reservation_id="R", qty=3, ttl_s=1)
    out = store.do("reserve", reservation_id="R", qty=3, ts=T0 + 5_000)
    assert [(o.status, o.repeat) for o in out] == [("confirmed", True)]
    assert store.pos().reserved == 3  # the next event of the position expires it


def test_repeat_of_a_rejected_reserve_stays_rejected_with_its_reason(store):
    store.do("reserve", reservation_id="R", qty=50)
    store.do("receipt", qty=100)
    o = outcome(store.do("reserve", reservation_id="R", qty=50))
    assert (o.status, o.qty, o.reason, o.repeat) == ("rejected", 0, "insufficient_stock", True)
    assert store.pos().reserved == 0


def test_release_gives_back_what_it_holds(store):
    store.do("reserve", reservation_id="R", qty=3)
    o = outcome(store.do("release", reservation_id="R"))
    assert (o.status, o.qty) == ("released", 0)
    assert store.pos().reserved == 0


def test_fulfil_partial_then_rest(store):
    store.do("reserve", reservation_id="R", qty=3)
    o = outcome(store.do("fulfil", reservation_id="R", qty=1))
    assert (o.status, o.qty) == ("confirmed", 2)
    assert (store.pos().on_hand, store.pos().reserved) == (9, 2)
    o = outcome(store.do("fulfil", reservation_id="R"))
    assert (o.status, o.qty) == ("fulfilled", 0)
    assert (store.pos().on_hand, store.pos().reserved) == (7, 0)


@pytest.mark.parametrize(
    ("setup", "event", "code"),
    [
        ([], ("release", {"reservation_id": "NOPE"}), "unknown_reservation"),
        ([], ("fulfil", {"reservation_id": "NOPE"}), "unknown_reservation"),
        (
            [("release", {"reservation_id": "R"})],
            ("release", {"reservation_id": "R"}),
            "reservation_ended",
        ),
        (
            [("fulfil", {"reservation_id": "R"})],
            ("fulfil", {"reservation_id": "R"}),
            "reservation_ended",
        ),
        ([], ("release", {"reservation_id": "R", "sku": "B"}), "reservation_elsewhere"),
        ([], ("fulfil", {"reservation_id": "R", "qty": 4}), "fulfil_exceeds_held"),
        ([], ("release", {"reservation_id": "R", "ts": T0 + 900_000}), "reservation_ended"),
    ],
)
def test_impossible_release_or_fulfil_is_rejected_and_changes_nothing(store, setup, event, code):
    store.do("reserve", reservation_id="R", qty=3)
    for type_, fields in setup:
        store.do(type_, **fields)
    before = store.pos().record()
    type_, fields = event
    out = store.do(type_, **fields)
    assert isinstance(out[0], Rejected)
    assert out[0].code == code
    assert store.pos().record() == before


def test_release_at_another_location_is_unknown_there():
    a, b = Store("S1"), Store("S2")
    a.do("receipt", qty=5)
    a.do("reserve", reservation_id="R", qty=1)
    assert b.do("release", reservation_id="R")[0].code == "unknown_reservation"


def test_reservations_expire_in_event_time_before_the_next_event_of_the_position(store):
    store.do("reserve", reservation_id="R", qty=3, ttl_s=60, ts=T0)
    store.do("receipt", qty=1, sku="B", ts=T0 + 61_000)  # another position: no effect here
    assert store.pos().reserved == 3
    out = store.do("sale", qty=1, ts=T0 + 60_000)
    o = outcome(out)
    assert (o.status, o.ts, o.qty) == ("expired", at(60_000), 0)
    assert store.pos().reserved == 0


def test_expiry_comes_before_the_event_that_triggers_it(store):
    store.do("reserve", reservation_id="R", qty=8, ttl_s=1, ts=T0)
    o = outcome(store.do("reserve", reservation_id="R2", qty=8, ts=T0 + 1000)[1:])
    assert o.status == "confirmed"


def test_wall_clock_expiry_needs_no_event(store):
    store.do("reserve", reservation_id="R1", qty=1, ttl_s=2, ts=T0)
    store.do("reserve", reservation_id="R2", qty=1, ttl_s=5, ts=T0)
    assert store.book.next_expiry() == at(2000)
    _, out = expire(store.book, at(1999))
    assert out == []
    _, out = expire(store.book, at(2500))
    assert [o.status for o in out if isinstance(o, ReservationChanged)] == ["expired"]
    assert store.pos().reserved == 1
    assert store.pos().as_of == at(0)  # expiry is not an event
    assert store.book.next_expiry() == at(5000)


def test_next_expiry_skips_ended_reservations(store):
    store.do("reserve", reservation_id="R1", qty=1, ttl_s=2)
    store.do("release", reservation_id="R1")
    assert store.book.next_expiry() is None


def test_expiry_entries_of_ended_reservations_are_dropped_and_live_ones_still_expire():
    s = Store()
    s.do("receipt", qty=1_000)
    for n in range(200):  # reserved, then released long before their expiry
        s.do("reserve", reservation_id=f"R{n}", qty=1, ts=T0 + n)
        s.do("release", reservation_id=f"R{n}", ts=T0 + n)
    s.do("reserve", reservation_id="LIVE", qty=3, ttl_s=60, ts=T0 + 500)
    assert len(s.book.expiries) == 201
    _, out = expire(s.book, at(1_000))  # nothing due yet, but the heap is compacted
    assert out == []
    assert s.book.expiries == [(at(500 + 60_000), "LIVE")]
    _, out = expire(s.book, at(500 + 60_000))
    assert [(o.reservation_id, o.status) for o in out if isinstance(o, ReservationChanged)] == [
        ("LIVE", "expired")
    ]
    assert s.pos().reserved == 0


def test_ended_reservations_are_forgotten_after_the_window():
    from engine.book import EngineConfig

    s = Store(config=EngineConfig(dedup_window_ms=10_000))
    s.do("receipt", qty=5)
    s.do("reserve", reservation_id="R", qty=1)
    s.do("release", reservation_id="R")
    s.do("receipt", qty=1, ts=T0 + 10_000)
    assert outcome(s.do("reserve", reservation_id="R", qty=2, ts=T0 + 10_000)).repeat
    s.do("receipt", qty=1, ts=T0 + 200_000)
    assert "R" not in s.book.reservations
    o = outcome(s.do("reserve", reservation_id="R", qty=2, ts=T0 + 200_001))
    assert (o.status, o.repeat) == ("confirmed", False)


def test_the_last_instants_of_time_neither_crash_nor_overflow():
    """Found by schemathesis: a reserve at 9999-12-31T23:59:59.999Z could not compute its
    expiry (nor the book its next clean-up), which raised. ``expires_at`` stops at the last
    instant instead, and the reservation holds until it is released."""
    from engine.timefmt import MAX_MS, NEVER

    s = Store()
    s.do("receipt", qty=5, ts=MAX_MS - 1)
    o = outcome(s.do("reserve", reservation_id="R", qty=2, ttl_s=604_800, ts=MAX_MS))
    assert (o.status, o.qty, o.expires_at) == ("confirmed", 2, NEVER)
    assert s.pos().reserved == 2
    assert outcome(s.do("release", reservation_id="R", ts=MAX_MS)).status == "released"
    assert s.pos().reserved == 0
