"""The optional ``cart`` event kind: carts (reserves with ``lines``) and kits (docs/events.md §12).

A ``cart`` draw of a mix makes, at one location, one of:

- about 45 % (50 % without kits): a new cart reserve, 2-4 distinct skus that show in stock
  (1 unit mostly, up to 3), the channel, location and ttl drawn as for a reserve; with kits
  on, 30 % of these are a kit reserve instead (1 kit, 25 % 2; 30 % with ``allow_partial``)
  and 15 % of carts carry a kit on one of their lines;
- about 45 % (50 % without kits): for an earlier cart (or kit reservation) believed active,
  older ones likelier: its release (25 %), its fulfil (55 %: whole, without ``lines``, or
  picking some lines, some of them in part) or a sale naming it of one of its skus (20 %);
  1 % name one that just expired; with none active, a new cart reserve;
- with kits on, 10 %: a sale of a kit (1 or 2), half of them collecting an active kit
  reservation (``reservation_id``), the others off the shelf.

Carts name no ``sku`` on their reserve, release and fulfil. The shadow state follows the
engine's rules (a cart is held whole or refused; a kit with ``allow_partial`` holds the most
whole kits that fit); 3 % of carts are abandoned to expire. Cart ids are ``c<tag>-N``, kit
reservations ``k<tag>-N``.
"""

from __future__ import annotations

from heapq import heappush
from typing import Any

from .params import ABANDON_SHARE, CHANNELS, STALE_SHARE
from .state import ONLINE, SHELF, TILL, Cart, State

KIT_SALE_SHARE, CART_END_SHARE, KIT_RESERVE_SHARE, KIT_LINE_SHARE = 0.10, 0.45, 0.30, 0.15


class Carts(State):
    """The builder of the ``cart`` kind (``Workload`` calls ``_cart`` for its draws)."""

    def _reserve(self, ms: int) -> dict[str, Any]:  # a one-sku reserve: ``Workload``'s
        raise NotImplementedError

    def _cart(self, ms: int) -> dict[str, Any]:
        rng, x = self.rng, self.rng.random()
        if self.kits and x < KIT_SALE_SHARE:
            return self._kit_sale(ms)
        ends = KIT_SALE_SHARE + CART_END_SHARE if self.kits else 0.5
        if x < ends and (c := self._cart_consumer()) is not None:
            y = rng.random()
            if y < 0.25 or not c.alive:
                return self._cart_end(c, ms, "release" if y < 0.5 else "fulfil")
            if y < 0.8:
                return self._cart_end(c, ms, "fulfil")
            return self._cart_sale(c, ms)
        if self.kits and rng.random() < KIT_RESERVE_SHARE:
            return self._kit_reserve(ms)
        return self._cart_reserve(ms)

    # --- reserves ----------------------------------------------------------------------------
    def _where(self) -> tuple[str, int, int]:
        """A reserve's channel, location and view, drawn as ``_reserve`` draws them."""
        channel = CHANNELS[self.channel()][0]
        at_store = channel == "pos" or self.rng.random() < 0.75
        return (
            channel,
            self.store() if at_store else self._dc(),
            TILL if channel == "pos" else ONLINE,
        )

    def _free(self, loc: int, sku: int, view: int) -> int:
        pos = self._pos(loc, sku)
        return pos[0] if view == SHELF else pos[0] - pos[1] - (pos[2] if view == ONLINE else 0)

    def _line_sku(self, loc: int, need: int, view: int, taken: set[int]) -> int:
        """A sku not in ``taken`` showing ``need`` in stock at ``loc`` (a few tries)."""
        sku = -1
        for _ in range(8):  # as many as a one-sku reserve
            if (pick := self.sku()) in taken:
                continue
            sku = pick
            if self._free(loc, sku, view) >= need or self.rng.random() < 0.02:
                break
        for _ in range(50):  # a small catalogue: any sku not taken
            if sku >= 0:
                return sku
            if (pick := self.sku()) not in taken:
                sku = pick
        return next(i for i in range(self.n_skus) if i not in taken)

    def _cart_reserve(self, ms: int) -> dict[str, Any]:
        rng = self.rng
        channel, loc, view = self._where()
        lines: list[dict[str, Any]] = []
        wanted: dict[int, int] = {}
        if self.kits and rng.random() < KIT_LINE_SHARE:  # a kit on one line: its components
            k = rng.randrange(len(self.kits))
            lines.append({"sku": self.kits[k][0], "qty": 1})
            for sku, qty in self.kits[k][1]:
                wanted[sku] = wanted.get(sku, 0) + qty
        n_lines = min(rng.choice((2, 2, 2, 3, 3, 4)), len(lines) + self.n_skus)
        if n_lines < 2:  # one sku and no kits: a cart cannot be made
            return self._reserve(ms)
        taken: set[int] = set()
        while len(lines) < n_lines:
            x = rng.random()
            qty = 1 if x < 0.75 else 2 if x < 0.95 else 3
            sku = self._line_sku(loc, qty, view, taken)
            taken.add(sku)
            wanted[sku] = wanted.get(sku, 0) + qty
            lines.append({"sku": self.skus[sku], "qty": qty})
        held = wanted if all(q <= self._free(loc, s, view) for s, q in wanted.items()) else None
        return self._hold("c", loc, channel, ms, held, {"lines": lines})

    def _kit_reserve(self, ms: int) -> dict[str, Any]:
        rng = self.rng
        k = rng.randrange(len(self.kits))
        name, parts = self.kits[k]
        n, partial = 1 if rng.random() < 0.75 else 2, rng.random() < 0.3
        for _ in range(6):  # a location where the kit shows in stock
            channel, loc, view = self._where()
            fits = min(self._free(loc, s, view) // q for s, q in parts)
            if fits >= n:
                break
        whole = n if fits >= n else max(fits, 0) if partial else 0
        held = {s: whole * q for s, q in parts} if whole else None
        extra: dict[str, Any] = {"sku": name, "qty": n}
        if partial or rng.random() < 0.1:
            extra["allow_partial"] = partial
        return self._hold("k", loc, channel, ms, held, extra, k, whole)

    def _hold(
        self,
        prefix: str,
        loc: int,
        channel: str,
        ms: int,
        held: dict[int, int] | None,
        extra: dict[str, Any],
        kit: int = -1,
        n: int = 0,
    ) -> dict[str, Any]:
        """The reserve event (``extra``: its lines, or its kit and qty), holding ``held``."""
        rng, y = self.rng, self.rng.random()
        ttl = 900 if y < 0.8 else 300 if y < 0.9 else 3600
        self.n_cart += 1
        rid = f"{prefix}{self.tag}-{self.n_cart:07d}"
        ev = self._bare("reserve", loc, ms, reservation_id=rid, **extra)
        if ttl != 900 or rng.random() < 0.5:
            ev["ttl_s"] = ttl
        if channel != "web" or rng.random() < 0.7:
            ev["channel"] = channel
        if held:
            c = Cart(rid, loc, held, ms + ttl * 1000, kit, n)
            for sku, qty in held.items():
                self._pos(loc, sku)[1] += qty
            heappush(self.expiry, (c.expires, -self.n_cart, c))
            if rng.random() >= ABANDON_SHARE:
                self.carts.append(c)
        return ev

    # --- what follows a cart -----------------------------------------------------------------
    def _cart_consumer(self) -> Cart | None:
        if self.expired_carts and self.rng.random() < STALE_SHARE:
            return self.expired_carts[self.rng.randrange(len(self.expired_carts))]
        return self._take(self.carts)

    def _cart_end(self, c: Cart, ms: int, kind: str) -> dict[str, Any]:
        """A release, or a fulfil of the whole cart or of some of its lines."""
        ev = self._bare(kind, c.loc, ms, reservation_id=c.ident)
        if not c.alive:
            return ev
        if kind == "release":
            self._end_cart(c)
            return ev
        rng, live = self.rng, {s: q for s, q in c.lines.items() if q}
        picked = live
        if len(live) > 1 and rng.random() < 0.5:  # some lines now, the rest later
            picked = {s: live[s] for s in rng.sample(sorted(live), rng.randint(1, len(live) - 1))}
        if len(picked) < len(live) or rng.random() < 0.5:  # else: no lines, every remainder
            for sku, qty in picked.items():  # a line picked in part now and then
                if qty > 1 and rng.random() < 0.2:
                    picked[sku] = rng.randint(1, qty - 1)
            ev["lines"] = [{"sku": self.skus[s], "qty": q} for s, q in picked.items()]
        for sku, qty in picked.items():
            self._take_line(c, sku, qty, qty)
        return ev

    def _cart_sale(self, c: Cart, ms: int) -> dict[str, Any]:
        """The shopper collects one of the cart's skus at the till."""
        sku, held = self.rng.choice([(s, q) for s, q in c.lines.items() if q])
        qty = held if held < 2 or self.rng.random() < 0.8 else self.rng.randint(1, held - 1)
        self._take_line(c, sku, qty, qty)
        return self._ev("sale", c.loc, sku, ms, qty=qty, reservation_id=c.ident)

    def _take_line(self, c: Cart, sku: int, sold: int, consumed: int) -> None:
        """``sold`` units of ``sku`` leave the location, ``consumed`` of them from the cart."""
        pos = self._pos(c.loc, sku)
        consumed = min(consumed, c.lines.get(sku, 0))
        pos[0] -= sold
        pos[1] -= consumed
        if sku in c.lines:
            c.lines[sku] -= consumed
        c.alive = any(c.lines.values())
        self._watch(c.loc, sku, pos)

    def _kit_sale(self, ms: int) -> dict[str, Any]:
        """A sale of a kit: collecting an active kit reservation, or off the shelf."""
        rng = self.rng
        c = None
        if rng.random() < 0.5:
            for _ in range(8):
                if (c := self._take(self.carts)) is None or c.kit >= 0:
                    break
            c = c if c is not None and c.kit >= 0 else None
        if c is not None:
            name, parts = self.kits[c.kit]
            n = c.n
            for sku, qty in parts:
                self._take_line(c, sku, n * qty, n * qty)
            return self._bare("sale", c.loc, ms, sku=name, qty=n, reservation_id=c.ident)
        name, parts = self.kits[rng.randrange(len(self.kits))]
        n = 1 if rng.random() < 0.9 else 2
        for _ in range(5):  # a store where the kit is on the shelf
            loc = self.store()
            if min(self._free(loc, s, SHELF) // q for s, q in parts) >= n:
                break
        for sku, qty in parts:
            pos = self._pos(loc, sku)
            pos[0] -= n * qty
            self._watch(loc, sku, pos)
        return self._bare("sale", loc, ms, sku=name, qty=n)

    def _bare(self, typ: str, loc: int, ms: int, **extra: Any) -> dict[str, Any]:
        """An event of no catalogue sku (a cart's, or naming a kit in ``extra``)."""
        self.n_ev += 1
        ev: dict[str, Any] = {
            "event_id": f"e{self.tag}-{self.n_ev:08d}",
            "type": typ,
            "location_id": self.locs[loc],
        }
        if "sku" in extra:
            ev["sku"] = extra.pop("sku")
        ev["ts"] = self.stamp.ts(ms, loc)
        ev.update(extra)
        return ev
