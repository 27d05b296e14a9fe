"""The generator state machine: the main loop and one builder per event type."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from heapq import heappush
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from .bad import bad_kind, break_event
from .carts import Carts
from .params import (
    ABANDON_SHARE,
    BOPIS_SHARE,
    CASE_PACKS,
    CHANNELS,
    SUPPLY_RECEIPT_SHARE,
    Catalogue,
    WorkloadParams,
    check,
    default_catalogue,
    seeding_lines,
)
from .state import ONLINE, SHELF, TILL, Hold


class Workload(Carts):
    """The generator: draws each line's type and builds it against the shadow state."""

    def __init__(self, p: WorkloadParams, cat: Catalogue) -> None:
        super().__init__(p, cat)
        self.types = [t for t, _ in p.mix]
        self.builders: list[Callable[[int], dict[str, Any]]] = [
            getattr(self, f"_{t}") for t in self.types
        ]

    # --- main loop ---------------------------------------------------------------------------
    def lines(self) -> Iterator[bytes]:
        n, rng, dumps = self.p.events, self.rng, orjson.dumps
        lo, k_dup = min(8, n), round(n * self.p.dup_rate)
        special = rng.sample(range(lo, n), min(k_dup + round(n * self.p.bad_rate), n - lo))
        dups, bads = set(special[:k_dup]), set(special[k_dup:])
        recent: deque[bytes] = deque(maxlen=256)
        n_seed, draw, builders = seeding_lines(n), self.type_draw, self.builders
        clock = self.clock()
        reserve = self.types.index("reserve") if "reserve" in self.types else -1
        for i in range(n):
            if i in dups:
                yield recent[-1 - int(rng.random() ** 2 * len(recent))]
                continue
            ms = self.now = clock() if i else self.p.start_ms
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
        loc, sku, pos, _ = self._stocked(self.store, qty, 5, SHELF)
        pos[0] -= qty
        self._watch(loc, sku, pos)
        return self._ev("sale", loc, sku, ms, qty=qty)

    def _reserve(self, ms: int) -> dict[str, Any]:
        rng = self.rng
        channel, x, y = CHANNELS[self.channel()][0], rng.random(), rng.random()
        qty = 1 if x < 0.7 else 2 if x < 0.93 else rng.randint(3, 4)
        at_store = channel == "pos" or rng.random() < 0.75
        view = TILL if channel == "pos" else ONLINE
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
            r = Hold(rid, loc, sku, held, ms + ttl * 1000)
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
        if rng.random() < SUPPLY_RECEIPT_SHARE and (s := self._take(self.supplies)) is not None:
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
        self.supplies.append(Hold(sid, store, sku, qty))
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
            s = Hold(f"PO-{self.tag}-{self.n_sup:07d}", loc, sku, self._pack(loc, sku))
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
        rng, kind = self.rng, bad_kind(self.n_bad)
        self.n_bad += 1
        typ = "reserve" if kind == "ttl_range" else rng.choice(("sale", "receipt"))
        ev = self._ev(typ, self.store(), self.sku(), ms, qty=rng.randint(1, 3))
        if typ == "reserve":
            ev["reservation_id"] = f"r{self.tag}-x{self.n_bad:06d}"
        return break_event(ev, kind, rng, self.n_bad)


def generate(params: WorkloadParams, catalogue: Catalogue | None = None) -> Iterator[bytes]:
    """The event log, one JSON line per item, without trailing newline."""
    check(params)
    return Workload(params, catalogue or default_catalogue(params)).lines()


def write_log(path: str | Path, params: WorkloadParams, catalogue: Catalogue | None = None) -> int:
    """Write the log as JSONL (each line ends with a newline); returns the number of lines."""
    lines, count = generate(params, catalogue), 0
    with Path(path).open("wb") as out:
        while chunk := list(islice(lines, 8192)):
            out.write(b"\n".join(chunk) + b"\n")
            count += len(chunk)
    return count
