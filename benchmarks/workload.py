"""Deterministic generator of realistic Omnistock inventory event logs (JSONL, CONTRACT s. 1-3).

Same seed, same bytes. Sku popularity is Zipf (exponent 1.1) over ranks shuffled onto the skus;
store traffic is Zipf (0.8) too. Event time advances by exponential gaps of mean
``1000 / events_per_s`` ms, 2 % of events are up to 3 s late, and 20 % of store events carry the
store's own UTC offset. The generator shadows positions, reservations and open supplies with the
contract's rules: releases, fulfils and BOPIS sales name reservations it believes active (1 % name
one that just expired; 3 % of reservations are abandoned), fulfils never ask for more than held,
receipts and cancels name open supplies, shoppers mostly pick what shows in stock, and stores
that run low are replenished (receipts, DC transfers) to their demand. The first
``seeding_lines(events)`` lines seed stock. ``dup_rate`` and ``bad_rate`` are exact line counts:
duplicates repeat a recent valid line byte for byte, bad lines rotate through ``BAD_KINDS``.
Mix weights are normalised; a release or fulfil with nothing to name becomes a reserve and is
owed to a later reserve draw, so observed shares follow the mix.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from heapq import heappop, heappush
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import orjson

DEFAULT_MIX: tuple[tuple[str, float], ...] = (
    ("sale", 0.50),
    ("reserve", 0.14),
    ("release", 0.04),
    ("fulfil", 0.05),
    ("receipt", 0.08),
    ("return", 0.03),
    ("adjust", 0.02),
    ("count", 0.03),
    ("transfer_out", 0.02),
    ("inbound", 0.04),
    ("inbound_cancel", 0.005),
    ("set_safety_stock", 0.005),
)
TS_FORMATS = ("rfc3339", "epoch_ms", "mixed")
_BREAKS: dict[str, tuple[str, tuple[Any, ...]]] = {  # bad line kind: field, values to put there
    "unknown_type": ("type", ("restock", "Sale", "transfer_in", "SALE")),
    "wrong_type": ("qty", ("3", 2.5, None, [3])),
    "qty_range": ("qty", (0, 2_000_000, -1)),
    "bad_location": ("location_id", ("S 001", "S001/2", "Störe-7", "", "S" * 65)),
    "ttl_range": ("ttl_s", (0, 604_801, -60)),
    "bad_ts": (
        "ts",
        ("2026-13-45T25:61:00Z", "yesterday", "2026-11-20 14:05", "2026-11-20T14:05:00"),
    ),
}
BAD_KINDS = ("truncated", "not_object", "missing_field", *_BREAKS)  # malformed lines rotate
SEED_FRACTION, ZIPF_EXPONENT, STORE_ZIPF = 0.02, 1.1, 0.8
LATE_SHARE, MAX_LATE_MS, LOCAL_TS_SHARE, EPOCH_SHARE_MIXED = 0.02, 3000, 0.2, 0.4
BOPIS_SHARE, STALE_SHARE, ABANDON_SHARE, LOW_STOCK = 0.10, 0.01, 0.03, 2
REPLEN_HORIZON = 20_000  # events of demand a delivery covers with 50 stores x 20,000 skus
CHANNELS = (("web", 0.55), ("app", 0.25), ("pos", 0.10), ("call_center", 0.10))
UTC_OFFSETS_MIN = ((-300, 0.5), (-360, 0.25), (-420, 0.1), (-480, 0.15))  # US, November
CASE_PACKS = (6, 12, 12, 24, 24, 36, 48)
_SHELF, _TILL, _ONLINE = 0, 1, 2  # what a shopper sees: on hand, unreserved, ATP
_ID_RE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_BATCH = 1 << 14


@dataclass(frozen=True, slots=True)
class WorkloadParams:
    """What to generate (the model is in the module docstring)."""

    events: int = 1_000_000  # lines in the log, duplicates and malformed lines included
    stores: int = 50  # location ids "S001".."S050"
    dcs: int = 3  # location ids "DC01".."DC03"
    skus: int = 20_000  # sku ids "SKU-000001"...
    seed: int = 7
    start_ms: int = 1_795_000_000_000  # event time of the first event (epoch ms)
    events_per_s: float = 200.0  # event-time rate
    dup_rate: float = 0.005  # share of lines repeating an earlier line byte for byte
    bad_rate: float = 0.001  # share of malformed lines
    ts_format: str = "rfc3339"  # "rfc3339", "epoch_ms" or "mixed"
    mix: tuple[tuple[str, float], ...] = DEFAULT_MIX


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Ids to use instead of the numbered defaults (``params.stores/dcs/skus`` are then unused)."""

    stores: tuple[str, ...]
    dcs: tuple[str, ...]
    skus: tuple[str, ...]

    def __post_init__(self) -> None:
        locs = (*self.stores, *self.dcs)
        if not (self.stores and self.dcs and self.skus):
            raise ValueError("a catalogue needs at least one store, one DC and one sku")
        if bad := [n for n in (*locs, *self.skus) if not _ID_RE.fullmatch(n)]:
            raise ValueError(f"invalid ids: {bad[:5]}")
        if len(set(locs)) != len(locs) or len(set(self.skus)) != len(self.skus):
            raise ValueError("location ids and sku ids must be unique")


def default_catalogue(params: WorkloadParams) -> Catalogue:
    """Numbered ids: S001.., DC01.., SKU-000001.."""
    return Catalogue(
        tuple(f"S{i:03d}" for i in range(1, params.stores + 1)),
        tuple(f"DC{i:02d}" for i in range(1, params.dcs + 1)),
        tuple(f"SKU-{i:06d}" for i in range(1, params.skus + 1)),
    )


def seeding_lines(events: int) -> int:
    """How many leading lines seed stock (receipts and counts, besides dups and bad lines)."""
    return max(int(events * SEED_FRACTION), min(events // 10, 64))


def _zipf(n: int, exponent: float) -> Any:
    """Weights of ranks 1..n."""
    return 1.0 / np.arange(1, n + 1) ** exponent


def _draws(gen: np.random.Generator, weights: Any, values: Any = None) -> Callable[[], int]:
    """Endless weighted draws (of an index, or of ``values[index]``), made in numpy batches."""
    cum = np.cumsum(weights)

    def batches() -> Iterator[int]:
        while True:
            idx = np.searchsorted(cum, gen.random(_BATCH) * cum[-1], side="right")
            np.minimum(idx, len(cum) - 1, out=idx)
            yield from (idx if values is None else values[idx]).tolist()

    return batches().__next__


def _clock(gen: np.random.Generator, start_ms: int, events_per_s: float) -> Callable[[], int]:
    """Endless event times: exponential gaps from ``start_ms``, 2 % of them late by < 3 s."""

    def batches() -> Iterator[int]:
        base = float(start_ms)
        while True:
            times = base - np.cumsum(np.log1p(-gen.random(_BATCH))) * (1000.0 / events_per_s)
            late = gen.random(_BATCH)  # uniform in [0, 1): late by 1..MAX_LATE_MS ms, or not
            late = np.where(late < LATE_SHARE, 1 + late / LATE_SHARE * (MAX_LATE_MS - 1), 0)
            base = times[-1]
            yield from (times - late).astype(np.int64).tolist()

    return batches().__next__


class _Hold:
    """A reservation believed active (``qty`` still held) or an open supply (``qty`` expected)."""

    __slots__ = ("alive", "expires", "ident", "loc", "qty", "sku")

    def __init__(self, ident: str, loc: int, sku: int, qty: int, expires: int = 0) -> None:
        self.ident, self.loc, self.sku, self.qty, self.expires = ident, loc, sku, qty, expires
        self.alive = True


class _Stamp:
    """Timestamps: RFC 3339 (text cached per second), epoch ms, or a mix of both."""

    def __init__(self, mode: str, rng: random.Random, offsets: list[int], n_stores: int) -> None:
        self.mode, self.rng, self.offsets, self.n_stores = mode, rng, offsets, n_stores
        self.cache: dict[int, str] = {}  # local second -> "YYYY-MM-DDTHH:MM:SS"
        self.suffix = {o: f"{'-+'[o > 0]}{abs(o) // 60:02d}:{abs(o) % 60:02d}" for o in offsets}
        self.suffix[0] = "Z"

    def ts(self, ms: int, loc: int) -> str | int:
        rng, mode = self.rng, self.mode
        if mode == "epoch_ms" or (mode == "mixed" and rng.random() < EPOCH_SHARE_MIXED):
            return ms
        off = self.offsets[loc] if loc < self.n_stores and rng.random() < LOCAL_TS_SHARE else 0
        sec, milli = divmod(ms + off * 60_000, 1000)
        return f"{self.cache.get(sec) or self._second(sec)}.{milli:03d}{self.suffix[off]}"

    def instant(self, ms: int) -> str | int:
        """An eta: whole seconds, UTC."""
        if self.mode == "epoch_ms" or (self.mode == "mixed" and self.rng.random() < 0.5):
            return ms
        return f"{self._second(ms // 1000)}Z"

    def _second(self, sec: int) -> str:
        if len(self.cache) > 4096:
            self.cache.clear()
        t = time.gmtime(sec)
        text = self.cache[sec] = (
            f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
            f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        )
        return text


class _Workload:
    """Generator state: catalogue draws, shadow positions, reservations and open supplies."""

    def __init__(self, p: WorkloadParams, cat: Catalogue) -> None:
        self.p, rng = p, random.Random(p.seed)
        gen = np.random.default_rng(p.seed)
        self.rng, self.gen, self.tag = rng, gen, f"{rng.getrandbits(16):04x}"
        self.locs, self.skus = (*cat.stores, *cat.dcs), cat.skus
        self.n_stores, self.n_skus = len(cat.stores), len(cat.skus)
        self.dcs = range(self.n_stores, len(self.locs))
        # Zipf weights over shuffled ranks (numpy is only asked for uniform doubles, whose stream
        # is stable across versions): a few busy stores, a long tail of skus
        store_w = _zipf(len(cat.stores), STORE_ZIPF)[np.argsort(gen.random(self.n_stores))]
        sku_w, rank_sku = _zipf(self.n_skus, ZIPF_EXPONENT), np.argsort(gen.random(self.n_skus))
        self.store = _draws(gen, store_w)
        self.dc_draw = _draws(gen, _zipf(len(cat.dcs), 1.0))
        self.sku = _draws(gen, sku_w, rank_sku)
        self.type_draw = _draws(gen, np.array([w for _, w in p.mix], dtype=float))
        self.channel = _draws(gen, np.array([w for _, w in CHANNELS]))
        # units a position moves per event: 0.7 units per event over the stores, and the DCs
        dc_demand = [4 * 0.7 / len(cat.dcs)] * len(cat.dcs)  # DCs hold more weeks of cover
        self.demand = [*(0.7 * store_w / store_w.sum()).tolist(), *dc_demand]
        sku_demand = np.empty(self.n_skus)
        sku_demand[rank_sku] = sku_w / sku_w.sum()
        self.sku_demand = sku_demand.tolist()
        # deliveries keep their size whatever the catalogue size (less demand per position)
        self.horizon = max(100, REPLEN_HORIZON * self.n_stores * self.n_skus // 1_000_000)
        offset = _draws(gen, [w for _, w in UTC_OFFSETS_MIN])
        offsets = [UTC_OFFSETS_MIN[offset()][0] for _ in self.locs]
        self.stamp = _Stamp(p.ts_format, rng, offsets, self.n_stores)
        self.types = [t for t, _ in p.mix]
        self.builders: list[Callable[[int], dict[str, Any]]] = [
            getattr(self, f"_{t}") for t in self.types
        ]
        self.stock: dict[int, list[int]] = {}  # loc * n_skus + sku -> [on_hand, reserved, safety]
        self.res_store: deque[_Hold] = deque()
        self.res_dc: deque[_Hold] = deque()
        self.expiry: list[tuple[int, int, _Hold]] = []
        self.expired: deque[_Hold] = deque(maxlen=64)
        self.owed: deque[Callable[[int], dict[str, Any]]] = deque()
        self.supplies: deque[_Hold] = deque()
        self.replen: deque[int] = deque()
        self.pending: set[int] = set()
        self.n_ev = self.n_res = self.n_sup = self.n_bad = 0

    # --- main loop ---------------------------------------------------------------------------
    def lines(self) -> Iterator[bytes]:
        n, rng, dumps = self.p.events, self.rng, orjson.dumps
        lo, k_dup = min(8, n), round(n * self.p.dup_rate)
        special = rng.sample(range(lo, n), min(k_dup + round(n * self.p.bad_rate), n - lo))
        dups, bads = set(special[:k_dup]), set(special[k_dup:])
        recent: deque[bytes] = deque(maxlen=256)
        n_seed, draw, builders = seeding_lines(n), self.type_draw, self.builders
        clock = _clock(self.gen, self.p.start_ms, self.p.events_per_s)
        reserve = self.types.index("reserve") if "reserve" in self.types else -1
        for i in range(n):
            if i in dups:
                yield recent[-1 - int(rng.random() ** 2 * len(recent))]
                continue
            ms = clock() if i else self.p.start_ms
            if i in bads:
                yield self._bad_line(ms)
                continue
            if self.expiry and self.expiry[0][0] <= ms:
                self._expire(ms)
            if i < n_seed:
                ev = self._seed(ms)
            elif (t := draw()) == reserve and self.owed and (self.res_store or self.res_dc):
                ev = self.owed.popleft()(ms)
            else:
                ev = builders[t](ms)
            line = dumps(ev)
            recent.append(line)
            yield line

    def _expire(self, ms: int) -> None:
        heap = self.expiry
        while heap and heap[0][0] <= ms:
            if (r := heappop(heap)[2]).alive:
                self._end(r)
                self.expired.append(r)

    # --- helpers -----------------------------------------------------------------------------
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
            free = pos[0] if view == _SHELF else pos[0] - pos[1] - (pos[2] if view else 0)
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

    def _end(self, r: _Hold) -> None:
        self._pos(r.loc, r.sku)[1] -= r.qty
        r.qty, r.alive = 0, False

    def _take(self, dq: deque[_Hold]) -> _Hold | None:
        """A live reservation or supply, older ones likelier (dead ones are dropped lazily)."""
        while dq:
            r = dq[i := int(self.rng.random() ** 2 * min(len(dq), 32))]
            if r.alive:
                return r
            del dq[i]
        return None

    def _consumer(self) -> _Hold | None:
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

    # --- valid events, one builder per type --------------------------------------------------
    def _seed(self, ms: int) -> dict[str, Any]:
        loc, sku = self._loc(0.1), self.sku()
        kind, qty = "receipt" if self.rng.random() < 0.7 else "count", self._pack(loc, sku)
        pos = self._pos(loc, sku)
        pos[0] = qty + (pos[0] if kind == "receipt" else 0)
        return self._ev(kind, loc, sku, ms, qty=qty)

    def _sale(self, ms: int) -> dict[str, Any]:
        r = None  # release and fulfil come first when reservations run short
        if self.rng.random() < BOPIS_SHARE and len(self.res_store) > 1 and not self.owed:
            r = self._take(self.res_store)
        if r is not None:  # BOPIS: the shopper collects the reservation at the till
            self._pos(r.loc, r.sku)[0] -= r.qty
            ev = self._ev("sale", r.loc, r.sku, ms, qty=r.qty, reservation_id=r.ident)
            self._end(r)
            return ev
        x = self.rng.random()
        qty = 1 if x < 0.75 else 2 if x < 0.92 else self.rng.randint(3, 6)
        loc, sku, pos, _ = self._stocked(self.store, qty, 5, _SHELF)
        pos[0] -= qty
        self._watch(loc, sku, pos)
        return self._ev("sale", loc, sku, ms, qty=qty)

    def _reserve(self, ms: int) -> dict[str, Any]:
        rng = self.rng
        channel, x, y = CHANNELS[self.channel()][0], rng.random(), rng.random()
        qty = 1 if x < 0.7 else 2 if x < 0.93 else rng.randint(3, 4)
        at_store = channel == "pos" or rng.random() < 0.75
        view = _TILL if channel == "pos" else _ONLINE
        loc, sku, pos, free = self._stocked(self.store if at_store else self._dc, qty, 8, view)
        partial = rng.random() < 0.1
        held = qty if qty <= free else (free if partial and free >= 1 else 0)
        ttl = 900 if y < 0.8 else 300 if y < 0.9 else 3600
        self.n_res += 1
        rid = f"r{self.tag}-{self.n_res:07d}"
        ev = self._ev("reserve", loc, sku, ms, reservation_id=rid, qty=qty)
        if ttl != 900 or rng.random() < 0.5:
            ev["ttl_s"] = ttl
        if channel != "web" or rng.random() < 0.7:
            ev["channel"] = channel
        if partial or rng.random() < 0.2:
            ev["allow_partial"] = partial
        if held:
            r = _Hold(rid, loc, sku, held, ms + ttl * 1000)
            pos[1] += held
            heappush(self.expiry, (r.expires, self.n_res, r))
            if rng.random() >= ABANDON_SHARE:
                (self.res_store if loc < self.n_stores else self.res_dc).append(r)
        return ev

    def _release(self, ms: int) -> dict[str, Any]:
        if (r := self._consumer()) is None:
            self.owed.append(self._release)
            return self._reserve(ms)
        if r.alive:
            self._end(r)
        return self._ev("release", r.loc, r.sku, ms, reservation_id=r.ident)

    def _fulfil(self, ms: int) -> dict[str, Any]:
        if (r := self._consumer()) is None:
            self.owed.append(self._fulfil)
            return self._reserve(ms)
        ev = self._ev("fulfil", r.loc, r.sku, ms, reservation_id=r.ident)
        if not r.alive:
            return ev
        qty = r.qty
        if qty >= 2 and self.rng.random() < 0.15:  # part of the order is picked
            qty = ev["qty"] = self.rng.randint(1, r.qty - 1)
        elif self.rng.random() < 0.5:
            ev["qty"] = qty
        pos = self._pos(r.loc, r.sku)
        pos[0] -= qty
        pos[1] -= qty
        r.qty -= qty
        r.alive = r.qty > 0
        self._watch(r.loc, r.sku, pos)
        return ev

    def _receipt(self, ms: int) -> dict[str, Any]:
        rng, extra = self.rng, {}
        if rng.random() < 0.35 and (s := self._take(self.supplies)) is not None:  # a PO arrives
            qty = s.qty if s.qty < 2 or rng.random() < 0.8 else rng.randint(1, s.qty - 1)
            s.qty -= qty
            s.alive = s.qty > 0
            loc, sku, extra["supply_id"] = s.loc, s.sku, s.ident
        else:
            loc, sku = self._replenish_target(0.35)
            qty = self._pack(loc, sku)
        self._pos(loc, sku)[0] += qty
        return self._ev("receipt", loc, sku, ms, qty=qty, **extra)

    def _return(self, ms: int) -> dict[str, Any]:
        loc, sku, x = self.store(), self.sku(), self.rng.random()
        qty = 1 if x < 0.85 else self.rng.randint(2, 3)
        ev = self._ev("return", loc, sku, ms, qty=qty)
        if x < 0.1:  # damaged or opened: back to the vendor, not to the shelf
            ev["sellable"] = False
        else:
            self._pos(loc, sku)[0] += qty
            if x > 0.7:
                ev["sellable"] = True
        return ev

    def _adjust(self, ms: int) -> dict[str, Any]:
        loc, sku, x = self._loc(0.1), self.sku(), self.rng.random()
        n = self.rng.randint(1, 3)
        delta = -n if x < 0.7 else -6 * n if x < 0.75 else n  # shrink, a damaged case, found
        self._pos(loc, sku)[0] += delta
        return self._ev("adjust", loc, sku, ms, delta=delta)

    def _count(self, ms: int) -> dict[str, Any]:
        loc, sku = self._loc(0.15), self.sku()
        pos = self._pos(loc, sku)
        qty = max(pos[0], 0)
        if self.rng.random() < 0.3:  # the shelf disagrees with the books
            qty = max(0, qty + self.rng.randint(-3, 2))
        pos[0] = qty
        return self._ev("count", loc, sku, ms, qty=qty)

    def _transfer_out(self, ms: int) -> dict[str, Any]:
        for attempt in range(4):  # a replenishment a DC can ship, else a popular line it has
            store, sku = self._replenish_target(0.0) if attempt == 0 else (self.store(), self.sku())
            on_hand, dc = max((self._pos(d, sku)[0], d) for d in self.dcs)
            if on_hand >= (qty := self._pack(store, sku)) or on_hand >= CASE_PACKS[-1]:
                break
        qty = min(qty, max(on_hand, CASE_PACKS[0]))
        self.n_sup += 1
        sid = f"TO-{self.tag}-{self.n_sup:07d}"
        self._pos(dc, sku)[0] -= qty
        self.supplies.append(_Hold(sid, store, sku, qty))
        ev = self._ev("transfer_out", dc, sku, ms, qty=qty, to_location_id=self.locs[store])
        ev.update(eta=self._eta(ms, 1, 3), supply_id=sid)
        return ev

    def _inbound(self, ms: int) -> dict[str, Any]:
        s = self._take(self.supplies) if self.rng.random() < 0.05 else None
        if s is not None and s.ident[0] == "P":  # an ASN revises an open PO: same id, new qty
            s.qty = max(12, s.qty + 12 * self.rng.randint(-3, 3))
        else:
            loc, sku = self._loc(0.7), self.sku()
            self.n_sup += 1
            s = _Hold(f"PO-{self.tag}-{self.n_sup:07d}", loc, sku, self._pack(loc, sku))
            self.supplies.append(s)
        ev = self._ev("inbound", s.loc, s.sku, ms, qty=s.qty, eta=self._eta(ms, 2, 10))
        ev["supply_id"] = s.ident
        return ev

    def _inbound_cancel(self, ms: int) -> dict[str, Any]:
        if (s := self._take(self.supplies)) is None:
            return self._inbound(ms)
        s.alive = False
        return self._ev("inbound_cancel", s.loc, s.sku, ms, supply_id=s.ident)

    def _set_safety_stock(self, ms: int) -> dict[str, Any]:
        loc, sku, qty = self.store(), self.sku(), self.rng.choice((0, 1, 1, 2, 2, 2, 3, 5))
        self._pos(loc, sku)[2] = qty
        return self._ev("set_safety_stock", loc, sku, ms, qty=qty)

    # --- malformed lines ---------------------------------------------------------------------
    def _bad_line(self, ms: int) -> bytes:
        """The next kind of ``BAD_KINDS``, built from an event the shadow state never applies."""
        rng, kind = self.rng, BAD_KINDS[self.n_bad % len(BAD_KINDS)]
        self.n_bad += 1
        typ = "reserve" if kind == "ttl_range" else rng.choice(("sale", "receipt"))
        ev = self._ev(typ, self.store(), self.sku(), ms, qty=rng.randint(1, 3))
        if typ == "reserve":
            ev["reservation_id"] = f"r{self.tag}-x{self.n_bad:06d}"
        text = orjson.dumps(ev)
        if kind == "truncated":  # cut after the event id, so that no two are alike
            return text[: rng.randint(len(text) // 3, len(text) - 1)]
        if kind == "not_object":  # a batch, JSON encoded twice, or just numbers
            return orjson.dumps(rng.choice(([ev], text.decode(), [self.n_bad, 2])))
        if kind == "missing_field":
            del ev[rng.choice(("event_id", "location_id", "sku", "ts", "qty", "type"))]
        else:
            name, values = _BREAKS[kind]
            ev[name] = rng.choice(values)
        return orjson.dumps(ev)


def _check(p: WorkloadParams) -> None:
    if min(p.events, p.seed) < 0 or min(p.stores, p.dcs, p.skus) < 1 or p.events_per_s <= 0:
        raise ValueError("need events, seed >= 0, stores, dcs, skus >= 1 and events_per_s > 0")
    if not (0 <= p.dup_rate < 1 and 0 <= p.bad_rate < 1) or p.ts_format not in TS_FORMATS:
        raise ValueError(f"need dup_rate, bad_rate in [0, 1) and ts_format in {TS_FORMATS}")
    if any(t not in dict(DEFAULT_MIX) or w < 0 for t, w in p.mix) or sum(dict(p.mix).values()) <= 0:
        raise ValueError("mix: known event types, weights >= 0 with a positive sum")


def generate(params: WorkloadParams, catalogue: Catalogue | None = None) -> Iterator[bytes]:
    """The event log, one JSON line per item, without trailing newline."""
    _check(params)
    return _Workload(params, catalogue or default_catalogue(params)).lines()


def write_log(path: str | Path, params: WorkloadParams, catalogue: Catalogue | None = None) -> int:
    """Write the log as JSONL (each line ends with a newline); returns the number of lines."""
    lines, count = generate(params, catalogue), 0
    with Path(path).open("wb") as out:
        while chunk := list(islice(lines, 8192)):
            out.write(b"\n".join(chunk) + b"\n")
            count += len(chunk)
    return count


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.workload --events N --out PATH [...]``."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.workload", description=__doc__)
    ap.add_argument("--out", required=True, help="output JSONL path")
    for f in fields(WorkloadParams):
        if f.name == "mix":
            continue
        choices = TS_FORMATS if f.name == "ts_format" else None
        flag = f"--{f.name.replace('_', '-')}"
        ap.add_argument(flag, type=type(f.default), default=f.default, choices=choices)
    args = vars(ap.parse_args(argv))
    out, started = args.pop("out"), time.perf_counter()
    try:
        count = write_log(out, WorkloadParams(**args))
    except ValueError as exc:
        ap.error(str(exc))
    print(f"wrote {count} lines to {out} in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
