"""A book's snapshot in shards, each re-pickled only when something in it changed.

``Shelf``: a dict pickled in shards, each re-pickled only when one of its keys changed.
``Sharded``: a whole book's snapshot made of them (``engine.book``, docs/decisions.md D94).

A book's snapshot (``engine.book``) must cost what changed since the last one, not what it
holds: a store remembers a week of event ids and reservations. A ``Shelf`` is told which keys
changed (``mark``) and, asked for the dict's pickle, re-pickles only the shards of those keys,
giving the cached bytes of the others. A key's shard is a hash of it in this process, so the
cache means nothing to another process: a restored book starts with an empty one (the first
snapshot after a restart pickles everything once).
"""

from __future__ import annotations

import heapq
import pickle
from collections.abc import Iterable
from typing import Any
from zlib import crc32

from engine.kinds import RESERVATION_CHANGED, REVOKE
from engine.position import Position


class Shelf:
    """Cached pickles of one dict by shard of its keys."""

    __slots__ = ("cached", "shards", "stale")

    def __init__(self, shards: int) -> None:
        self.shards = shards
        self.cached: list[bytes | None] = [None] * shards
        self.stale: set[int] = set()

    def mark(self, key: Any) -> None:
        """``key`` was added, changed or removed: its shard is pickled anew next time."""
        self.stale.add(hash(key) % self.shards)

    def pickled(self, entries: dict[Any, Any]) -> list[bytes]:
        """``entries`` as one pickle of ``(key, value)`` pairs per shard."""
        cached = self.cached
        redo = self.stale | {n for n, found in enumerate(cached) if found is None}
        if redo:
            groups: dict[int, list[tuple[Any, Any]]] = {n: [] for n in redo}
            shards = self.shards
            for key, value in entries.items():
                group = groups.get(hash(key) % shards)
                if group is not None:
                    group.append((key, value))
            for n, items in groups.items():
                cached[n] = pickle.dumps(items, pickle.HIGHEST_PROTOCOL)
            self.stale = set()
        return list(cached)  # type: ignore[arg-type]  # every shard is bytes now


def unshelve(shards: list[bytes]) -> list[tuple[Any, Any]]:
    """The ``(key, value)`` pairs of a ``Shelf``'s pickles, shard by shard."""
    pairs: list[tuple[Any, Any]] = []
    for pickled in shards:
        pairs.extend(pickle.loads(pickled))
    return pairs


def shard_of(sku: str, shards: int) -> int:
    """The shard of a sku's position (stable across processes: a crc32)."""
    return crc32(sku.encode()) % shards


class Sharded:
    """A book's snapshot in ``shards`` (``EngineConfig.sku_shards``): its positions by shard of
    the sku (cached bytes that stay true across a restart), and its reservations and
    ended reservations on ``Shelf``s (the event ids, 16 bytes each, are pickled whole). The
    expiry heap is not pickled: a restored book makes it anew from its active reservations.

    The book tells it what changed: ``added`` for a new position, ``marked`` for each message
    the rules applied with the outputs it made (a position changes only by a message that
    publishes it; a reservation only with an outcome, or silently by a ``revoke``), and
    ``forgot`` for what the book's clock dropped.
    """

    __slots__ = ("ended", "positions", "reservations", "shards", "skus", "stale")

    def __init__(self, shards: int, positions: Iterable[str] = ()) -> None:
        self.shards = shards
        self.skus: list[list[str]] = [[] for _ in range(shards)]
        for sku in positions:
            self.skus[shard_of(sku, shards)].append(sku)
        self.positions: list[bytes | None] = [None] * shards
        self.stale: set[int] = set()
        self.reservations = Shelf(shards)
        self.ended = Shelf(shards)

    def added(self, sku: str) -> None:
        shard = shard_of(sku, self.shards)
        self.skus[shard].append(sku)
        self.stale.add(shard)

    def marked(self, message: Any, outputs: list[Any]) -> None:
        if type(message) is REVOKE:  # a refused loser is forgotten without an outcome
            self.reservations.mark(message.reservation_id)
            self.ended.mark(message.reservation_id)
        self.outputs(outputs)

    def outputs(self, outputs: list[Any]) -> None:
        shards = self.shards
        for output in outputs:
            cls = type(output)
            if cls is Position:
                self.stale.add(shard_of(output.sku, shards))
            elif cls is RESERVATION_CHANGED:
                self.reservations.mark(output.reservation_id)
                self.ended.mark(output.reservation_id)

    def pickled(self, positions: dict[str, Position], book: Any) -> tuple[Any, ...]:
        """The state to pickle in place of the book's dicts: each shard of positions (without
        their holds, which sit in ``reservations`` too) and each shelf."""
        made: list[bytes] = []
        for shard, cached in enumerate(self.positions):
            pickled = cached
            if pickled is None or shard in self.stale:
                states = [positions[sku].bare_state() for sku in self.skus[shard]]
                pickled = self.positions[shard] = pickle.dumps(states, pickle.HIGHEST_PROTOCOL)
            made.append(pickled)
        self.stale = set()
        return (
            made,
            list(self.reservations.pickled(book.reservations)),
            list(self.ended.pickled(book.ended)),
        )


def restore(state: tuple[Any, ...], book: Any) -> Sharded:
    """Put a sharded snapshot (``Sharded.pickled``) back into ``book``: its positions with
    their holds, its dicts in the order of time, its expiry heap; and the ``Sharded`` to go on
    with (the positions' cached bytes kept)."""
    position_shards, reservations, ended = state
    sharded = Sharded(len(position_shards))
    sharded.positions = list(position_shards)
    positions: dict[str, Position] = {}
    for shard, pickled in enumerate(position_shards):
        for fields in pickle.loads(pickled):
            position = Position(fields[0], fields[1], fields[10])
            position.__setstate__(fields)
            positions[position.sku] = position
            sharded.skus[shard].append(position.sku)
    by_time = lambda pair: pair[1]  # noqa: E731  # the dicts' insertion order is time's
    book.positions = positions
    book.reservations = dict(unshelve(reservations))
    book.ended = dict(sorted(unshelve(ended), key=by_time))
    expiries = []
    for found in book.reservations.values():
        if not found.active:
            continue
        expiries.append((found.expires_at, found.reservation_id))
        for sku in (found.sku,) if found.lines is None else tuple(found.lines):
            position = positions[sku]  # its reserved is in its state: the hold alone goes back
            if position.holds is None:
                position.holds = {}
            position.holds[found.reservation_id] = found
            position.next_expiry = min(position.next_expiry, found.expires_at)
    heapq.heapify(expiries)
    book.expiries = expiries
    return sharded
