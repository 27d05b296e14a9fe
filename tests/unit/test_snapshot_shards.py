"""A book pickled in sku shards (``EngineConfig.sku_shards``) survives snapshots as a whole book
does: every shard's cached bytes stay true to its positions however many snapshots are taken
between changes, and a restored book's holds are its own reservation objects, carts' included.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import msgspec

from engine.book import Book
from engine.events import parse
from engine.policy import load
from engine.rules import apply, expire
from tests.factories import T0, at, line
from tests.unit.test_snapshot import CONFIG, by_value, shares_reservations

SHARDED = msgspec.structs.replace(CONFIG, sku_shards=8)
POLICY = load(
    b'{"channels": [{"name": "web"}, {"name": "pos", "safety_stock": false}],'
    b' "kits": [{"sku": "KIT", "components": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]}]}'
)


def snapshot(book: Book) -> Book:
    restored: Book = pickle.loads(pickle.dumps(book, pickle.HIGHEST_PROTOCOL))
    return restored


def do(book: Book, type_: str, **fields: Any) -> list[Any]:
    event_id = f"{type_}-{fields.get('sku')}-{fields['ts']}"  # the same in every book
    return apply(book, parse(line(type_, event_id=event_id, **fields)))[1]  # type: ignore[arg-type]


def steps(book: Book) -> list[list[Any]]:
    """Stock over many skus, single holds, a cart and a kit, sales, fulfils and expiries."""
    out = [do(book, "receipt", sku=f"S{n}", qty=5 + n, ts=T0 + n) for n in range(40)]
    out += [do(book, "receipt", sku=sku, qty=10, ts=T0 + 100) for sku in ("A", "B", "C")]
    out.append(do(book, "reserve", sku="S3", reservation_id="R1", qty=2, ts=T0 + 200))
    cart = [{"sku": "A", "qty": 2}, {"sku": "C", "qty": 3}, {"sku": "S7", "qty": 1}]
    out.append(do(book, "reserve", sku=None, lines=cart, reservation_id="C1", ts=T0 + 300))
    out.append(do(book, "reserve", sku="KIT", qty=2, reservation_id="K1", ttl_s=60, ts=T0 + 400))
    return out


def more(book: Book) -> list[Callable[[], list[Any]]]:
    """The steps after a snapshot, each to run when its turn comes."""
    a_line = [{"sku": "A", "qty": 1}]
    return [
        lambda: do(book, "sale", sku="C", qty=1, reservation_id="C1", ts=T0 + 1000),
        lambda: do(book, "fulfil", sku=None, reservation_id="C1", lines=a_line, ts=T0 + 1100),
        lambda: do(book, "sale", sku="S20", qty=1, ts=T0 + 1200),
        lambda: expire(book, at(120_000))[1],  # K1 (60 s) expires on the clock
        lambda: do(book, "release", sku=None, reservation_id="C1", ts=T0 + 130_000),
        lambda: do(book, "receipt", sku="NEW", qty=1, ts=T0 + 131_000),
    ]


def unset(found: dict[str, Any]) -> dict[str, Any]:
    """A book's state by value without its settings (a sharded book against a whole one)."""
    return {k: v for k, v in found.items() if k != "config"}


def normal(outputs: list[list[Any]]) -> list[Any]:
    return [[o.record() if hasattr(o, "record") else o for o in step] for step in outputs]


def test_a_sharded_book_restores_to_the_whole_books_state_after_every_snapshot():
    config = SHARDED.with_policy(POLICY)
    whole = Book("S1", CONFIG.with_policy(POLICY))
    sharded = Book("S1", config)
    assert normal(steps(whole)) == normal(steps(sharded))
    first = snapshot(sharded)  # every shard pickled
    assert shares_reservations(first)
    again = snapshot(sharded)  # nothing changed: every shard from its cache
    assert by_value(again) == by_value(first)
    for step_whole, step_sharded in zip(more(whole), more(sharded), strict=True):
        assert normal([step_whole()]) == normal([step_sharded()])
        restored = snapshot(sharded)  # a few shards anew, the rest cached
        assert shares_reservations(restored)
        assert unset(by_value(restored)) == unset(by_value(whole))  # the shards aside
        assert restored.next_expiry() == whole.next_expiry()


def test_a_restored_sharded_book_goes_on_like_the_original():
    config = SHARDED.with_policy(POLICY)
    book = Book("S1", config)
    steps(book)
    snapshot(book)
    copy = snapshot(book)
    assert [normal([s()]) for s in more(copy)] == [normal([s()]) for s in more(book)]
    assert by_value(copy) == by_value(book)
    # and a snapshot of the restored book, cached shards and all, is the book again
    assert by_value(snapshot(copy)) == by_value(book)


def test_only_the_shards_where_something_changed_are_pickled_anew():
    book = Book("S1", SHARDED)
    for n in range(200):
        do(book, "receipt", sku=f"S{n}", qty=1, ts=T0 + n)
    do(book, "reserve", sku="S1", qty=1, reservation_id="R1", ts=T0 + 500)
    pickle.dumps(book)
    assert book.sharded is not None
    shelves = (book.sharded.reservations, book.sharded.ended)
    cached = [list(book.sharded.positions), *(list(shelf.cached) for shelf in shelves)]
    do(book, "sale", sku="S5", qty=1, ts=T0 + 1000)
    pickle.dumps(book)
    now = [list(book.sharded.positions), *(list(shelf.cached) for shelf in shelves)]
    changed = [
        sum(a is not b for a, b in zip(before, after, strict=True))
        for before, after in zip(cached, now, strict=True)
    ]
    assert changed == [1, 0, 0]  # the sale's position, nothing else (event ids: engine.dedup)
    do(book, "release", sku="S1", reservation_id="R1", ts=T0 + 1100)
    pickle.dumps(book)
    assert book.sharded.reservations.cached[hash("R1") % 8] is not now[1][hash("R1") % 8]
