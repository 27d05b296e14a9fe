"""A promise book restored from a snapshot publishes every entry anew (docs/decisions.md D124).

The case that needs it: an entry made after the snapshot reached the topic, the process died,
and the replayed stream brings the sku back to its snapshot's candidates in one batch (a
location's stock came and went). Without ``recovered`` the book finds its snapshot's digest
and publishes nothing, and the topic keeps the entry of the stock that is gone.
"""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, datetime

import orjson
import pytest

from engine.promise.network import load_network
from engine.promise.table import Maker, PromiseBook, hear, make, recovered, seconds, wake
from workload.builtin import generate_network

AT = seconds(datetime(2026, 12, 2, 15, 0, tzinfo=UTC))


@pytest.fixture(scope="module")
def maker() -> Maker:
    return Maker(load_network(generate_network(stores=4, regions=5)))


def test_a_restored_book_publishes_what_the_topic_may_hold_wrong(maker):
    first, second = maker.location_ids[0], maker.location_ids[1]
    book = PromiseBook()
    hear(book, [("A", first, True)], maker.index)
    snapshot_made = make(book, maker, sorted(book.dirty), AT)
    assert [sku for _, sku, _ in snapshot_made] == ["A"]
    snapshot = pickle.dumps(book)

    # After the snapshot: stock at a second location changes A's entry, which is published.
    hear(book, [("A", second, True)], maker.index)
    [(_, _, newer)] = make(book, maker, sorted(book.dirty), AT + 1)
    assert orjson.loads(newer) != orjson.loads(snapshot_made[0][2])

    # kill -9. The replay hears that stock come and go in one batch.
    cancelled = [("A", second, True), ("A", second, False)]
    unready = pickle.loads(snapshot)
    hear(unready, cancelled, maker.index)
    assert make(unready, maker, sorted(unready.dirty), AT + 2) == []  # the stale entry stays

    restored = pickle.loads(snapshot)
    recovered(restored)
    hear(restored, cancelled, maker.index)
    [(topic, sku, entry)] = wake(restored, maker, AT + 2)
    assert (topic, sku) == ("promises", "A")
    assert orjson.loads(entry)["regions"] == orjson.loads(snapshot_made[0][2])["regions"]
    assert wake(restored, maker, AT + 3) == []  # then only changes publish again


def test_every_sku_of_a_restored_book_is_made_anew_once(maker):
    book = PromiseBook()
    signals = [(sku, maker.location_ids[n % 4], True) for n, sku in enumerate("ABCDE")]
    hear(book, signals, maker.index)
    made = make(book, maker, sorted(book.dirty), AT)
    restored = copy.deepcopy(book)
    recovered(restored)
    again = wake(restored, maker, AT)
    assert sorted(again) == sorted(made)  # the same entries, each once
    assert not restored.dirty
