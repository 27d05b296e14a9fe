"""Generator state: catalogue draws, shadow positions, reservations, open supplies and helpers."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from heapq import heappop
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import numpy as np

from .curve import DayProfile
from .draws import draws, event_clock, zipf
from .kits import kit_parts
from .params import (
    CASE_PACKS,
    CHANNELS,
    LOW_STOCK,
    REPLEN_HORIZON,
    STALE_SHARE,
    STORE_ZIPF,
    UTC_OFFSETS_MIN,
    ZIPF_EXPONENT,
    Catalogue,
    WorkloadParams,
)
from .stamps import Stamp, zone_offset_min

SHELF, TILL, ONLINE = 0, 1, 2  # what a shopper sees: on hand, unreserved, ATP


class Hold:
    """A reservation believed active (``qty`` still held) or an open supply (``qty`` expected)."""

    __slots__ = ("alive", "expires", "ident", "loc", "qty", "sku")

    def __init__(self, ident: str, loc: int, sku: int, qty: int, expires: int = 0) -> None:
        self.ident, self.loc, self.sku, self.qty, self.expires = ident, loc, sku, qty, expires
        self.alive = True


class Cart:
    """A cart or kit reservation believed active: ``lines`` maps each sku held (a kit's
    components) to the units it still holds; ``kit`` (an index of ``State.kits``) and ``n``
    (kits asked for) for a kit."""

    __slots__ = ("alive", "expires", "ident", "kit", "lines", "loc", "n")

    def __init__(
        self, ident: str, loc: int, lines: dict[int, int], expires: int, kit: int = -1, n: int = 0
    ) -> None:
        self.ident, self.loc, self.lines, self.expires = ident, loc, lines, expires
        self.kit, self.n = kit, n
        self.alive = True


H = TypeVar("H", Hold, Cart)


class State:
    """Catalogue draws and the shadow of positions, reservations and supplies the log implies."""

    def __init__(self, p: WorkloadParams, cat: Catalogue) -> None:
        self.p, rng = p, random.Random(p.seed)
        gen = np.random.default_rng(p.seed)
        self.rng, self.gen, self.tag = rng, gen, f"{rng.getrandbits(16):04x}"
        self.locs, self.skus = (*cat.stores, *cat.dcs), cat.skus
        self.n_stores, self.n_skus = len(cat.stores), len(cat.skus)
        self.dcs = range(self.n_stores, len(self.locs))
        # Zipf weights over shuffled ranks (numpy is only asked for uniform doubles, whose stream
        # is stable across versions): a few busy stores, a long tail of skus
        store_w = zipf(len(cat.stores), STORE_ZIPF)[np.argsort(gen.random(self.n_stores))]
        if cat.store_weights is not None:  # e.g. city population (``network.py``)
            store_w = np.array(cat.store_weights, dtype=np.float64)
        sku_w, rank_sku = zipf(self.n_skus, ZIPF_EXPONENT), np.argsort(gen.random(self.n_skus))
        # kits (``workload.kits``): names and ((sku index, qty), ...); components sell well
        index = {sku: i for i, sku in enumerate(cat.skus)} if p.kits else {}
        self.kits = [
            (kit, tuple((index[sku], qty) for sku, qty in parts))
            for kit, parts in kit_parts(cat.skus, p.kits).items()
        ]
        if self.kits:
            _promote(rank_sku, [i for _, parts in self.kits for i, _ in parts])
        self.store: Callable[[], int] = draws(gen, store_w)
        self.dc_draw = draws(gen, zipf(len(cat.dcs), 1.0))
        self.sku = draws(gen, sku_w, rank_sku)
        self.type_draw = draws(gen, np.array([w for _, w in p.mix], dtype=float))
        self.channel = draws(gen, np.array([w for _, w in CHANNELS]))
        # units a position moves per event: 0.7 units per event over the stores, and the DCs
        dc_demand = [4 * 0.7 / len(cat.dcs)] * len(cat.dcs)  # DCs hold more weeks of cover
        self.demand = [*(0.7 * store_w / store_w.sum()).tolist(), *dc_demand]
        sku_demand = np.empty(self.n_skus)
        sku_demand[rank_sku] = sku_w / sku_w.sum()
        self.sku_demand = sku_demand.tolist()
        # deliveries keep their size whatever the catalogue size (less demand per position)
        self.horizon = max(100, REPLEN_HORIZON * self.n_stores * self.n_skus // 1_000_000)
        offset = draws(gen, [w for _, w in UTC_OFFSETS_MIN])
        offsets = [UTC_OFFSETS_MIN[offset()][0] for _ in self.locs]
        zones = None if cat.store_zones is None else [ZoneInfo(z) for z in cat.store_zones]
        self.stamp = Stamp(p.ts_format, rng, offsets, self.n_stores, zones)
        self.now = p.start_ms  # the current event's time (the main loop sets it)
        self.profile: DayProfile | None = None
        if p.daily_curve:  # stores are drawn by their share at the current local hour
            at_start = offsets[: self.n_stores]
            if zones is not None:
                at_start = [zone_offset_min(zone, p.start_ms) for zone in zones]
            self.profile = DayProfile(store_w, at_start)
            pick = self.profile.store_draw(gen)
            self.store = lambda: pick(self.now)
        self.stock: dict[int, list[int]] = {}  # loc * n_skus + sku -> [on_hand, reserved, safety]
        self.res_store: deque[Hold] = deque()
        self.res_dc: deque[Hold] = deque()
        self.expiry: list[tuple[int, int, Hold | Cart]] = []  # (expires, tie, held)
        self.expired: deque[Hold] = deque(maxlen=64)
        self.carts: deque[Cart] = deque()  # believed active, for the "cart" kind (``carts.py``)
        self.expired_carts: deque[Cart] = deque(maxlen=64)
        self.owed: deque[Callable[[int], dict[str, Any]]] = deque()
        self.supplies: deque[Hold] = deque()
        self.replen: deque[int] = deque()
        self.pending: set[int] = set()
        self.n_ev = self.n_res = self.n_sup = self.n_bad = self.n_cart = 0

    def clock(self) -> Callable[[], int]:
        """Event times: flat (exponential gaps), or following the daily curve."""
        p = self.p
        if self.profile is None:
            return event_clock(self.gen, p.start_ms, p.events_per_s)
        return self.profile.clock(self.gen, p.start_ms, p.events_per_s)

    def _expire(self, ms: int) -> None:
        heap = self.expiry
        while heap and heap[0][0] <= ms:
            if (r := heappop(heap)[2]).alive:
                if isinstance(r, Hold):
                    self._end(r)
                    self.expired.append(r)
                else:
                    self._end_cart(r)
                    self.expired_carts.append(r)

    def _ev(self, typ: str, loc: int, sku: int, ms: int, **extra: Any) -> dict[str, Any]:
        self.n_ev += 1
        return {
            "event_id": f"e{self.tag}-{self.n_ev:08d}",
            "type": typ,
            "location_id": self.locs[loc],
            "sku": self.skus[sku],
            "ts": self.stamp.ts(ms, loc),
            **extra,
        }

    def _pos(self, loc: int, sku: int) -> list[int]:
        key = loc * self.n_skus + sku
        if (pos := self.stock.get(key)) is None:
            pos = self.stock[key] = [0, 0, 0]
        return pos

    def _dc(self) -> int:
        return self.n_stores + self.dc_draw()

    def _loc(self, dc_share: float) -> int:
        return self._dc() if self.rng.random() < dc_share else self.store()

    def _stocked(
        self, pick_loc: Callable[[], int], need: int, tries: int, view: int
    ) -> tuple[int, int, list[int], int]:
        """A popular position where ``need`` shows in stock (a few tries, as shoppers do)."""
        for _ in range(tries):
            loc, sku = pick_loc(), self.sku()
            pos = self._pos(loc, sku)
            free = pos[0] if view == SHELF else pos[0] - pos[1] - (pos[2] if view else 0)
            if free >= need or self.rng.random() < 0.05:
                break
        return loc, sku, pos, free

    def _pack(self, loc: int, sku: int) -> int:
        """A delivery: case packs topping the position up to its demand over the horizon."""
        pack, on_hand = self.rng.choice(CASE_PACKS), self._pos(loc, sku)[0]
        missing = self.demand[loc] * self.sku_demand[sku] * self.horizon - on_hand
        return pack * max(1, min(-int(-missing // pack), 8 if loc < self.n_stores else 50))

    def _watch(self, loc: int, sku: int, pos: list[int]) -> None:
        """Queue a store position left low by a sale for replenishment."""
        key = loc * self.n_skus + sku
        if loc < self.n_stores and pos[0] - pos[1] <= LOW_STOCK and key not in self.pending:
            self.pending.add(key)
            self.replen.append(key)

    def _replenish_target(self, dc_share: float) -> tuple[int, int]:
        if self.replen and self.rng.random() < 0.9:
            self.pending.discard(key := self.replen.popleft())
            return divmod(key, self.n_skus)
        return self._loc(dc_share), self.sku()

    def _end(self, r: Hold) -> None:
        self._pos(r.loc, r.sku)[1] -= r.qty
        r.qty, r.alive = 0, False

    def _end_cart(self, c: Cart) -> None:
        for sku, qty in c.lines.items():
            self._pos(c.loc, sku)[1] -= qty
            c.lines[sku] = 0
        c.alive = False

    def _take(self, dq: deque[H]) -> H | None:
        """A live reservation or supply, older ones likelier (dead ones are dropped lazily)."""
        while dq:
            r = dq[i := int(self.rng.random() ** 2 * min(len(dq), 32))]
            if r.alive:
                return r
            del dq[i]
        return None

    def _consumer(self) -> Hold | None:
        """What a release or fulfil names: an active reservation, now and then an expired one."""
        if self.expired and self.rng.random() < STALE_SHARE:
            return self.expired[self.rng.randrange(len(self.expired))]
        first, second = self.res_store, self.res_dc
        if self.rng.random() * (len(first) + len(second)) >= len(first):
            first, second = second, first
        return self._take(first) or self._take(second)

    def _eta(self, ms: int, min_days: int, max_days: int) -> str | int:
        half_hours = ms // 1_800_000 + self.rng.randint(min_days * 48, max_days * 48)
        return self.stamp.instant(half_hours * 1_800_000)


def _promote(rank_sku: Any, skus: list[int]) -> None:
    """Move ``skus`` (distinct, in first-seen order) to popularity ranks 0, 2, 4.. of the
    permutation ``rank_sku`` (rank -> sku), swapping out what held those ranks."""
    rank_of = np.argsort(rank_sku)  # sku -> rank
    for n, sku in enumerate(dict.fromkeys(skus)):
        if (to := 2 * n) >= len(rank_sku):
            break
        other, at = int(rank_sku[to]), int(rank_of[sku])
        rank_sku[to], rank_sku[at] = sku, other
        rank_of[sku], rank_of[other] = to, at
