"""The state the rules fold events into: a ``Book`` of positions, and the engine's settings.

A book holds the positions of one location (the dataflow may split a large location into
several books by sku, see ``dataflows``), with what idempotency needs and no more:

- ``seen``: the event ids applied here (``engine.dedup.Seen``, 16 bytes an id in time buckets).
  An event is a duplicate while an earlier one with its id was applied within the dedup window
  of ``watermark`` (the largest ``ts`` applied here), to the bucket. Buckets that leave the
  window are dropped as the watermark moves, so memory stays bounded by the window, whatever
  the run's length.
- ``reservations``: every reservation made here, active or ended. An ended one is remembered
  for the dedup window after it ended (so a repeated ``reserve`` gets its first outcome back),
  then dropped.
- ``expiries``: a heap of ``(expires_at, reservation_id)`` for live expiry on the clock.

A book is one location, whatever its size: a cart's lines are decided in one step of it
(docs/events.md §12). A snapshot of a big store need not re-pickle all it holds for one thing
that changed, though: with ``EngineConfig.sku_shards`` above 1 the book pickles its positions
and reservations in that many shards, each made anew only when something in it changed since
the last snapshot (``engine.shelves``; the rules tell it what changed: ``engine.rules.apply``;
the event ids are pickled whole, 16 bytes each). Docs/decisions.md, D94.
"""

from __future__ import annotations

import heapq
from datetime import datetime, timedelta
from sys import intern
from typing import Any, Final

import msgspec

from engine.alerts import initial, quiet_from
from engine.dedup import Seen
from engine.holds import Reservation
from engine.policy import DEFAULT_POLICY, ChannelAt, Policy
from engine.position import Position
from engine.shelves import Sharded, restore
from engine.timefmt import BEFORE_ALL, later

DAY_MS: Final = 86_400_000
PROMISE_CHANNEL: Final = "web"  # the channel a delivery promise is made for
GC_EVERY: Final = timedelta(minutes=1)


class EngineConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Settings of the rules. One object per process, passed down.

    Attributes:
        dedup_window_ms: how long, in event time, an applied ``event_id`` (and an ended
            reservation) is remembered. Default 7 days.
        low_stock: ``low_stock`` fires when 0 < atp <= this. Default 2.
        reorder_point: ``replenish`` fires when atp plus expected supply falls under this.
            Default 5.
        max_future_s: in the live modes, an event dated more than this after the wall clock
            when it is read is refused (``ts_in_future``): a bad device clock cannot move a
            location's dedup window. Default 300.
        stockout_days: ``stockout_soon`` fires when atp lasts fewer days than this at the
            pace of the last 7 days' sales. Default 2.
        policy: channels, groups, safety stock, kits (``engine.policy``).
        sku_shards: how many shards a book's positions are pickled in (the module
            docstring); 1 pickles them whole. ``omnistock run --sku-shards``.
    """

    dedup_window_ms: int = 7 * DAY_MS
    low_stock: int = 2
    reorder_point: int = 5
    max_future_s: int = 300
    stockout_days: int = 2
    policy: Policy = DEFAULT_POLICY
    sku_shards: int = 1

    def with_policy(self, policy: Policy) -> EngineConfig:
        """These settings under ``policy``: its alert thresholds, where it gives them, win."""
        return msgspec.structs.replace(
            self,
            policy=policy,
            low_stock=self.low_stock if policy.low_stock is None else policy.low_stock,
            reorder_point=(
                self.reorder_point if policy.reorder_point is None else policy.reorder_point
            ),
            stockout_days=(
                self.stockout_days if policy.stockout_days is None else policy.stockout_days
            ),
        )


DEFAULT_CONFIG: Final = EngineConfig()


class Book:
    """Positions of one location, with their dedup memory and reservations."""

    __slots__ = (
        "by_channel",
        "channels",
        "config",
        "default_channel",
        "ended",
        "expiries",
        "gc_due",
        "initial_flags",
        "kits",
        "kits_of",
        "location_id",
        "low_stock",
        "plain_safety",
        "positions",
        "quiet_from",
        "reorder_point",
        "reservations",
        "sales_keep",
        "seen",
        "sharded",
        "shards",
        "stockout_days",
        "watermark",
        "web",
        "window",
    )

    def __init__(self, location_id: str, config: EngineConfig = DEFAULT_CONFIG) -> None:
        self.location_id = location_id
        self.config = config
        self.positions: dict[str, Position] = {}
        # event_id, or (from_location_id, event_id) for a transfer's supply arriving here
        self.seen = Seen(config.dedup_window_ms)
        self.reservations: dict[str, Reservation] = {}
        self.ended: dict[str, datetime] = {}
        self.expiries: list[tuple[datetime, str]] = []
        self.watermark = BEFORE_ALL
        self.gc_due = BEFORE_ALL
        self._derive()
        self._unshard()

    def _derive(self) -> None:
        """Copies of the settings the hot path reads, one attribute away."""
        config = self.config
        policy = config.policy
        self.initial_flags = initial(config.low_stock, config.reorder_point)
        self.window = timedelta(milliseconds=config.dedup_window_ms)
        self.low_stock = config.low_stock
        self.reorder_point = config.reorder_point
        self.stockout_days = config.stockout_days
        self.quiet_from = quiet_from(config.low_stock, config.reorder_point)
        self.sales_keep = -(-config.dedup_window_ms // DAY_MS) + 7
        self.channels: tuple[ChannelAt, ...] = policy.channels_at(self.location_id)
        self.by_channel: dict[str, ChannelAt] = {c.name: c for c in self.channels}
        self.default_channel: ChannelAt | None = (
            None if policy.default_channel is None else self.by_channel[policy.default_channel]
        )
        self.plain_safety = not policy.safety_skus and policy.safety_default == 0
        # kit sku -> ((component sku, qty), ...); None without kits: one test on the hot path
        self.kits: dict[str, tuple[tuple[str, int], ...]] | None = policy.kits or None
        # component sku -> the kits it is part of: a component's change may change theirs
        kits_of: dict[str, list[str]] = {}
        for kit, parts in policy.kits.items():
            for sku, _ in parts:
                kits_of.setdefault(sku, []).append(kit)
        self.kits_of: dict[str, list[str]] | None = kits_of or None
        # the channel whose ATP promises use (docs/policy.md: web), None: plain atp
        self.web: ChannelAt | None = self.by_channel.get(PROMISE_CHANNEL)
        self.shards = config.sku_shards

    def _unshard(self) -> None:
        """Forget what the last snapshot pickled: everything is pickled anew at the next."""
        shards = self.shards
        self.sharded: Sharded | None = Sharded(shards, self.positions) if shards > 1 else None

    def configure(self, config: EngineConfig) -> None:
        """Take this process's settings (a book restored from a snapshot kept the ones it was
        made with): the policy's safety stock applies anew where no event set one."""
        self.config = config
        self._derive()
        self._unshard()
        self.seen.window_ms = config.dedup_window_ms  # its buckets keep their length
        policy = config.policy
        for position in self.positions.values():
            if position.own_safety_stock < 0:
                position.safety_stock = policy.safety_stock_of(position.sku)

    def channel(self, name: str) -> ChannelAt | None:
        """The channel a request naming ``name`` is taken as here (``Policy.channel``)."""
        found = self.by_channel.get(name)
        return self.default_channel if found is None else found

    def position(self, sku: str) -> Position:
        """The position of ``sku`` here, created empty when new."""
        position = self.positions.get(sku)
        if position is None:
            # One string per sku across books and reservations (a decoded event's string
            # would be one per position: 60 bytes each); done once, when the position is made.
            sku = intern(sku)
            safety = 0 if self.plain_safety else self.config.policy.safety_stock_of(sku)
            position = Position(self.location_id, sku, self.initial_flags, safety)
            self.positions[sku] = position
            if self.sharded is not None:
                self.sharded.added(sku)
        return position

    def reservation(self, reservation_id: str) -> Reservation | None:
        """A reservation still remembered here, or ``None``."""
        found = self.reservations.get(reservation_id)
        if (
            found is not None
            and found.ended_at is not None
            and found.ended_at < self.watermark - self.window
        ):
            return None
        return found

    def next_expiry(self) -> datetime | None:
        """The soonest ``expires_at`` of an active reservation here, for a wake-up timer."""
        heap = self.expiries
        while heap:
            if self.due(heap[0]) is not None:
                return heap[0][0]
            heapq.heappop(heap)
        return None

    def due(self, entry: tuple[datetime, str]) -> Reservation | None:
        """The active reservation an ``expiries`` entry stands for, or ``None`` when the entry
        is stale (the reservation ended early, or is forgotten)."""
        found = self.reservations.get(entry[1])
        if found is not None and found.expires_at == entry[0] and found.active:
            return found
        return None

    def compact_expiries(self) -> None:
        """Drop the expiry entries of reservations that ended before their time (released,
        fulfilled, expired by an event) once they outnumber the live ones several times over.

        Left alone, each is popped and sifted one by one when its instant comes, and a long
        log's final expiry would spend most of its time on entries that end nothing. The live
        count is ``reservations`` less ``ended``, exact but for a reused id (a heuristic).
        """
        heap = self.expiries
        if len(heap) <= 4 * (len(self.reservations) - len(self.ended)) + 64:
            return
        live = [entry for entry in heap if self.due(entry) is not None]
        heapq.heapify(live)
        self.expiries = live

    def forget_old(self) -> None:
        """Drop dedup entries and ended reservations that have left the window."""
        horizon = self.watermark - self.window
        sharded = self.sharded
        self.seen.forget(self.watermark)
        for key in _leading_older(self.ended, horizon):
            del self.ended[key]
            found = self.reservations.get(key)
            if found is not None and found.ended_at is not None and found.ended_at < horizon:
                del self.reservations[key]
            if sharded is not None:
                sharded.ended.mark(key)
                sharded.reservations.mark(key)
        self.gc_due = later(self.watermark, GC_EVERY)

    def __reduce__(self) -> tuple[Any, ...]:
        # Constructor arguments, then the state (see ``Position.__reduce__``).
        return (Book, (self.location_id, self.config), self.__getstate__())

    def __getstate__(self) -> tuple[Any, ...]:
        sharded = self.sharded
        if sharded is not None:  # the dicts in shards, the expiry heap made anew on restore
            return (
                self.location_id,
                self.config,
                sharded.pickled(self.positions, self),
                self.seen,
                None,
                None,
                None,
                self.watermark,
                self.gc_due,
                self.initial_flags,
            )
        return (
            self.location_id,
            self.config,
            self.positions,
            self.seen,
            self.reservations,
            self.ended,
            self.expiries,
            self.watermark,
            self.gc_due,
            self.initial_flags,
        )

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        positions: Any
        seen: Any
        reservations: Any
        ended: Any
        expiries: Any
        (
            self.location_id,
            self.config,
            positions,
            seen,
            reservations,
            ended,
            expiries,
            self.watermark,
            self.gc_due,
            self.initial_flags,
        ) = state
        self._derive()
        if type(positions) is tuple:  # pickled in shards
            self.seen = seen
            self.sharded = restore(positions, self)
            if self.shards != self.sharded.shards:
                self._unshard()
            return
        self.positions = positions
        self.seen = seen
        self.reservations = reservations
        self.ended = ended
        self.expiries = expiries
        self._unshard()


def _leading_older(entries: dict[Any, datetime], horizon: datetime) -> list[Any]:
    """Keys at the front of an insertion-ordered dict whose instant is before ``horizon``.

    Entries arrive in roughly increasing time, so the old ones sit at the front; the scan stops
    at the first recent one and costs only what it drops.
    """
    old = []
    for key, ts in entries.items():
        if ts >= horizon:
            break
        old.append(key)
    return old
