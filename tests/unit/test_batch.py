"""``engine.batch.route_batch``: one group per book, in order; transfers reach two books."""

from __future__ import annotations

from engine.batch import UNREADABLE, route_batch
from engine.outputs import Rejected, SupplyExpected
from tests.factories import T0, line


def test_events_are_grouped_by_book_in_their_order():
    values = [
        line("receipt", location_id="S1", sku="A", qty=1, event_id="e1"),
        line("receipt", location_id="S2", sku="A", qty=1, event_id="e2"),
        b"not json",
        line("sale", location_id="S1", sku="A", qty=1, event_id="e3"),
        line(
            "transfer_out",
            location_id="S2",
            sku="B",
            qty=2,
            to_location_id="S1",
            eta="2026-11-20T00:00:00Z",
            supply_id="T1",
            event_id="e4",
        ),
    ]
    groups = dict(route_batch(values, list(range(len(values)))))
    assert list(groups) == ["S1", "S2", UNREADABLE]
    assert [origin for _, _, origin in groups["S1"]] == [0, 3, 4]
    assert [origin for _, _, origin in groups["S2"]] == [1, 4]
    assert isinstance(groups["S1"][-1][0], SupplyExpected)  # the transfer's supply
    assert isinstance(groups[UNREADABLE][0][0], Rejected)


def test_a_location_is_one_book_whatever_its_skus():
    values = [
        line("receipt", location_id="S1", sku=sku, qty=1, event_id=f"e{n}")
        for n, sku in enumerate(["A", "B", "C", "A"])
    ]
    groups = dict(route_batch(values, list(range(4))))
    assert set(groups) == {"S1"}
    assert [origin for _, _, origin in groups["S1"]] == [0, 1, 2, 3]


def test_an_event_dated_past_the_clock_limit_is_refused_as_ts_in_future():
    from datetime import timedelta

    from engine.events import clock_limit
    from engine.timefmt import from_ms

    now = from_ms(T0)
    limit = clock_limit(now, 300)
    values = [
        line("receipt", qty=1, event_id="e1", ts=T0 + 300_000),  # at the limit: accepted
        line("receipt", qty=1, event_id="e2", ts=T0 + 300_001),  # a millisecond past it
    ]
    groups = dict(route_batch(values, [0, 1], limit, 300))
    assert [origin for _, _, origin in groups["S1"]] == [0]
    refused = groups[UNREADABLE][0][0]
    assert isinstance(refused, Rejected) and refused.code == "ts_in_future"
    assert limit - now == timedelta(seconds=300)
    assert dict(route_batch(values, [0, 1]))["S1"]  # no limit: both applied (replay's default)
