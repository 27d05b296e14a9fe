"""A deliberately naive implementation of docs/events.md §3, §8, for differential tests.

Written for clarity, not speed: flat dicts keyed by tuples, every rule spelled out in one place,
nothing shared with ``engine.rules`` (only the parser, which has its own tests). The property
tests check that the engine agrees with it on every position and reservation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine.events import parse
from engine.outputs import Rejected
from engine.timefmt import BEFORE_ALL

WEEK_MS = 7 * 86_400_000


@dataclass
class NaivePosition:
    on_hand: int = 0
    reserved: int = 0
    safety_stock: int = 0
    unsellable: int = 0
    as_of: datetime | None = None
    inbound: dict[str, tuple[int, datetime]] = field(default_factory=dict)


@dataclass
class NaiveReservation:
    location_id: str
    sku: str
    status: str
    qty: int
    expires_at: datetime
    first_status: str
    first_qty: int
    ended_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status in ("confirmed", "partial")


class NaiveModel:
    def __init__(self, window_ms: int = WEEK_MS) -> None:
        self.window = timedelta(milliseconds=window_ms)
        self.positions: dict[tuple[str, str], NaivePosition] = {}
        self.reservations: dict[tuple[str, str], NaiveReservation] = {}
        # (location, event_id), or (destination, (sender, event_id)) for a transfer's supply
        self.seen: dict[tuple[str, str | tuple[str, str]], datetime] = {}
        self.watermark: dict[str, datetime] = {}
        self.outcomes: list[tuple[str, str, int]] = []  # (reservation_id, status, qty)
        self.max_ts: datetime | None = None
        # reservation_id -> (location, sku) of its first reserve, while that location remembers it
        self.claims: dict[str, tuple[str, str]] = {}
        self.revoked: tuple[tuple[str, str], int] | None = None  # the last event's revoked hold

    # -- helpers ------------------------------------------------------------------------
    def _horizon(self, loc: str) -> datetime:
        return self.watermark.get(loc, BEFORE_ALL) - self.window

    def _remembered(self, loc: str, rid: str) -> NaiveReservation | None:
        r = self.reservations.get((loc, rid))
        if r is not None and r.ended_at is not None and r.ended_at < self._horizon(loc):
            return None
        return r

    def _pos(self, loc: str, sku: str) -> NaivePosition:
        return self.positions.setdefault((loc, sku), NaivePosition())

    def _end(self, loc: str, rid: str, status: str, at: datetime) -> None:
        r = self.reservations[(loc, rid)]
        self._pos(loc, r.sku).reserved -= r.qty
        r.qty, r.status, r.ended_at = 0, status, at
        self.outcomes.append((rid, status, 0))

    def _expire(self, loc: str, sku: str | None, at: datetime) -> None:
        due = sorted(
            (r.expires_at, rid)
            for (where, rid), r in self.reservations.items()
            if where == loc and r.active and r.expires_at <= at and (sku is None or r.sku == sku)
        )
        for expires_at, rid in due:
            self._end(loc, rid, "expired", expires_at)

    # -- the rules ----------------------------------------------------------------------
    def apply(self, raw: bytes) -> str:
        """Apply one line; returns ``applied``, ``duplicate`` or ``rejected``."""
        e: Any = parse(raw)
        self.revoked = None
        if isinstance(e, Rejected):
            return "rejected"
        loc, sku, ts, kind = e.location_id, e.sku, e.ts, type(e).__name__
        if kind == "TransferOut":  # the destination's supply travels on its own (engine.routing)
            self._supply_arrives(e)
        first = self.seen.get((loc, e.event_id))
        if first is not None and first >= self._horizon(loc):
            return "duplicate"
        if kind in ("Release", "Fulfil"):
            r = self._remembered(loc, e.reservation_id)
            if r is None or r.sku != sku or not r.active or r.expires_at <= ts:
                return "rejected"
            if kind == "Fulfil" and e.qty is not None and e.qty > r.qty:
                return "rejected"
        if kind == "Reserve" and self._remembered(loc, e.reservation_id) is not None:
            # a repeat: answered with the first outcome, nothing else changes but the clock
            self.seen[(loc, e.event_id)] = ts
            self.watermark[loc] = max(self.watermark.get(loc, BEFORE_ALL), ts)
            self.max_ts = ts if self.max_ts is None else max(self.max_ts, ts)
            return "applied"
        self._expire(loc, sku, ts)
        p = self._pos(loc, sku)
        if kind == "Receipt":
            p.on_hand += e.qty
            if e.supply_id in p.inbound:
                q, eta = p.inbound[e.supply_id]
                if q - e.qty > 0:
                    p.inbound[e.supply_id] = (q - e.qty, eta)
                else:
                    del p.inbound[e.supply_id]
        elif kind == "Sale":
            p.on_hand -= e.qty
            r = self._remembered(loc, e.reservation_id) if e.reservation_id else None
            if r is not None and r.active and r.sku == sku:
                self._take(loc, e.reservation_id, min(e.qty, r.qty), ts)
        elif kind == "Return":
            if e.sellable:
                p.on_hand += e.qty
            else:
                p.unsellable += e.qty
        elif kind == "Adjust":
            p.on_hand += e.delta
        elif kind == "CycleCount":
            p.on_hand = e.qty
        elif kind == "TransferOut":
            p.on_hand -= e.qty
        elif kind == "Inbound":
            p.inbound[e.supply_id] = (e.qty, e.eta)
        elif kind == "InboundCancel":
            p.inbound.pop(e.supply_id, None)
        elif kind == "SetSafetyStock":
            p.safety_stock = e.qty
        elif kind == "Reserve":
            self._reserve(loc, sku, e)
        elif kind == "Release":
            self._end(loc, e.reservation_id, "released", ts)
        elif kind == "Fulfil":
            r = self.reservations[(loc, e.reservation_id)]
            qty = r.qty if e.qty is None else e.qty
            p.on_hand -= qty
            self._take(loc, e.reservation_id, qty, ts)
        p.as_of = ts
        self.seen[(loc, e.event_id)] = ts
        self.watermark[loc] = max(self.watermark.get(loc, BEFORE_ALL), ts)
        self.max_ts = ts if self.max_ts is None else max(self.max_ts, ts)
        if kind == "Reserve":
            self._claim(loc, sku, e.reservation_id)
        return "applied"

    def _claim(self, loc: str, sku: str, rid: str) -> None:
        """One reservation per id across locations: a reserve of an id another location still
        remembers holds nothing (its hold is given back, the id forgotten here); a rejected one
        stays remembered here, as it held nothing."""
        claim = self.claims.get(rid)
        if claim is not None and claim != (loc, sku):
            winner = self._remembered(claim[0], rid)
            if winner is not None and winner.sku == claim[1]:
                lost = self.reservations[(loc, rid)]
                if lost.active:
                    self._pos(loc, sku).reserved -= lost.qty
                    self.revoked = ((loc, sku), lost.qty)
                    del self.reservations[(loc, rid)]
                return
        self.claims[rid] = (loc, sku)

    def _supply_arrives(self, e: Any) -> None:
        dest, key = e.to_location_id, (e.location_id, e.event_id)
        first = self.seen.get((dest, key))
        if first is not None and first >= self._horizon(dest):
            return
        self.seen[(dest, key)] = e.ts
        self._pos(dest, e.sku).inbound[e.supply_id] = (e.qty, e.eta)

    def _take(self, loc: str, rid: str, qty: int, ts: datetime) -> None:
        r = self.reservations[(loc, rid)]
        if qty >= r.qty:
            self._end(loc, rid, "fulfilled", ts)
            return
        r.qty -= qty
        self._pos(loc, r.sku).reserved -= qty
        self.outcomes.append((rid, r.status, r.qty))

    def _reserve(self, loc: str, sku: str, e: Any) -> None:
        p = self._pos(loc, sku)
        room = p.on_hand - p.reserved - (0 if e.channel == "pos" else p.safety_stock)
        expires_at = e.ts + timedelta(seconds=e.ttl_s)
        if e.qty <= room:
            status, qty = "confirmed", e.qty
        elif e.allow_partial and room >= 1:
            status, qty = "partial", room
        else:
            self.reservations[(loc, e.reservation_id)] = NaiveReservation(
                loc, sku, "rejected", 0, expires_at, "rejected", 0, e.ts
            )
            self.outcomes.append((e.reservation_id, "rejected", 0))
            return
        self.reservations[(loc, e.reservation_id)] = NaiveReservation(
            loc, sku, status, qty, expires_at, status, qty
        )
        p.reserved += qty
        self.outcomes.append((e.reservation_id, status, qty))

    def finish(self, as_of: datetime | None = None) -> None:
        at = self.max_ts if as_of is None else as_of
        if at is not None:
            for loc in {loc for loc, _ in self.reservations}:
                self._expire(loc, None, at)

    # -- views ----------------------------------------------------------------------------
    def figures(self) -> dict[tuple[str, str], tuple[Any, ...]]:
        return {
            key: (
                p.on_hand,
                p.reserved,
                p.safety_stock,
                p.unsellable,
                p.as_of,
                tuple(sorted(p.inbound.items())),
            )
            for key, p in self.positions.items()
        }

    def statuses(self) -> dict[tuple[str, str], tuple[str, int]]:
        return {
            key: (r.status, r.qty)
            for key, r in self.reservations.items()
            if self._remembered(*key) is not None
        }
