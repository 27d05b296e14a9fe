"""``engine.batch.route_batch``: one group per book, in order; transfers reach two books."""

from __future__ import annotations

from engine.batch import UNREADABLE, route_batch, shard_key
from engine.outputs import Rejected, SupplyExpected
from tests.factories import line


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


def test_shards_split_a_location_by_sku():
    values = [
        line("receipt", location_id="S1", sku=sku, qty=1, event_id=f"e{n}")
        for n, sku in enumerate(["A", "B", "C", "A"])
    ]
    groups = dict(route_batch(values, list(range(4)), shards=8))
    assert set(groups) == {shard_key("S1", sku, 8) for sku in "ABC"}
    assert [origin for _, _, origin in groups[shard_key("S1", "A", 8)]] == [0, 3]
