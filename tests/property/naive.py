"""A deliberately naive implementation of docs/events.md §2-3, §8, §11 and the policy
(docs/policy.md, docs/events.md §4, §11), for differential tests.

Written for clarity, not speed: flat dicts keyed by tuples, every rule spelled out in one place,
every derived figure computed afresh when asked, nothing shared with ``engine.rules``,
``engine.position`` or ``engine.policy``'s arithmetic (only the parser, which has its own tests,
and the fields of a ``Policy`` object). The property tests check that the engine agrees with it
on every position, reservation and alert.

What it keeps per position: the stored quantities, the safety stock set there (without a channel
and per channel), the alert thresholds set there, and every sale or fulfil as ``(UTC date,
units)``. What it derives: the safety stock for a channel (set with the channel; set without
one; the policy's for the sku; the policy's default), each channel's ATP, ``sold_7d``,
``stockout_eta`` and the thresholds that apply.

Kits are not modelled (the drawn policies have none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from engine.events import parse
from engine.outputs import Rejected
from engine.policy import DEFAULT_POLICY, Channel, Policy
from engine.timefmt import BEFORE_ALL

WEEK_MS = 7 * 86_400_000
INSUFFICIENT_STOCK = "insufficient_stock"
UNKNOWN_CHANNEL = "unknown_channel"
THRESHOLDS = ("low_stock", "reorder_point", "stockout_days")

Key = tuple[str, str]  # (location_id, sku)


@dataclass
class NaivePosition:
    on_hand: int = 0
    reserved: int = 0
    unsellable: int = 0
    as_of: datetime | None = None
    inbound: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    own_safety_stock: int | None = None  # set_safety_stock without a channel
    channel_safety_stock: dict[str, int] = field(default_factory=dict)  # with one
    thresholds: dict[str, int] = field(default_factory=dict)  # set_alert_thresholds, per field
    sales: list[tuple[date, int]] = field(default_factory=list)  # sales and fulfils


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
    reason: str | None = None  # of the first outcome, when rejected
    group: str | None = None  # the reserve's location_group

    @property
    def active(self) -> bool:
        return self.status in ("confirmed", "partial")


class NaiveModel:
    """The rules over a ``Policy`` (default: v1's) with the settings' alert thresholds, which
    the policy's ``alerts`` override where it gives them."""

    def __init__(
        self,
        window_ms: int = WEEK_MS,
        policy: Policy = DEFAULT_POLICY,
        low_stock: int = 2,
        reorder_point: int = 5,
        stockout_days: int = 2,
    ) -> None:
        self.window = timedelta(milliseconds=window_ms)
        self.policy = policy
        self.default_thresholds: dict[str, int] = {
            "low_stock": low_stock if policy.low_stock is None else policy.low_stock,
            "reorder_point": (
                reorder_point if policy.reorder_point is None else policy.reorder_point
            ),
            "stockout_days": (
                stockout_days if policy.stockout_days is None else policy.stockout_days
            ),
        }
        self.positions: dict[Key, NaivePosition] = {}
        self.reservations: dict[tuple[str, str], NaiveReservation] = {}
        # (location, event_id), or (destination, (sender, event_id)) for a transfer's supply
        self.seen: dict[tuple[str, str | tuple[str, str]], datetime] = {}
        self.watermark: dict[str, datetime] = {}
        self.max_ts: datetime | None = None
        # reservation_id -> (location, sku) of its first reserve, while that location remembers it
        self.claims: dict[str, Key] = {}
        # reservation_id -> (status, qty) of the latest outcome of the reservation the id
        # names (its claim's), over the whole log: what ``replay --reservations`` lists
        self.ledger: dict[str, tuple[str, int]] = {}
        self.revoked: tuple[Key, int] | None = None  # the last event's revoked hold

    # -- the policy -----------------------------------------------------------------------
    def channel_taken_as(self, name: str) -> Channel | None:
        """The channel a reserve naming ``name`` is decided on: that one, else the default
        channel, else none (``unknown_channel``)."""
        for channel in self.policy.channels:
            if channel.name == name:
                return channel
        for channel in self.policy.channels:
            if channel.name == self.policy.default_channel:
                return channel
        return None

    def names_channel(self, name: str) -> bool:
        return any(channel.name == name for channel in self.policy.channels)

    # -- derived figures ----------------------------------------------------------------------
    def view(self, key: Key) -> NaivePosition:
        """A position as it stands; one never seen is an empty one."""
        return self.positions.get(key) or NaivePosition()

    def safety_stock(self, key: Key) -> int:
        """The position's ``safety_stock`` field: set here without a channel, else the policy's
        for the sku, else the policy's default."""
        p = self.view(key)
        if p.own_safety_stock is not None:
            return p.own_safety_stock
        sku = key[1]
        if sku in self.policy.safety_skus:
            return self.policy.safety_skus[sku]
        return self.policy.safety_default

    def safety_stock_for(self, key: Key, channel: str) -> int:
        """The safety stock for ``channel``: set here for it, else ``safety_stock``."""
        p = self.view(key)
        if channel in p.channel_safety_stock:
            return p.channel_safety_stock[channel]
        return self.safety_stock(key)

    def atp(self, key: Key) -> int:
        p = self.view(key)
        return max(0, p.on_hand - p.reserved - self.safety_stock(key))

    def channel_atp(self, key: Key, channel: Channel) -> int:
        loc = key[0]
        if channel.locations is not None and loc not in channel.locations:
            return 0
        p = self.view(key)
        x = p.on_hand - p.reserved - channel.protect_units
        if channel.safety_stock:
            x -= self.safety_stock_for(key, channel.name)
        if x <= 0:
            return 0
        return x * (100 - channel.buffer_pct) // 100

    def channels(self, key: Key) -> dict[str, int]:
        return {c.name: self.channel_atp(key, c) for c in self.policy.channels}

    def sold_7d(self, key: Key) -> int:
        """Units sold (sales, fulfils) on the 7 UTC dates ending with the date of ``as_of``."""
        p = self.view(key)
        if p.as_of is None:
            return 0
        last = p.as_of.astimezone(UTC).date()
        first = last - timedelta(days=6)
        return sum(units for day, units in p.sales if first <= day <= last)

    def stockout_eta(self, key: Key) -> datetime | None:
        p = self.view(key)
        sold, atp = self.sold_7d(key), self.atp(key)
        if sold <= 0 or atp <= 0 or p.as_of is None:
            return None
        return p.as_of + timedelta(seconds=atp * 7 * 86_400 // sold)

    def thresholds(self, key: Key) -> tuple[int, int, int]:
        """``(low_stock, reorder_point, stockout_days)`` at the position: each set there, else
        the policy's, else the settings'."""
        own = self.view(key).thresholds
        low, reorder, days = (own.get(name, self.default_thresholds[name]) for name in THRESHOLDS)
        return low, reorder, days

    def record(self, key: Key) -> dict[str, Any]:
        """The position as ``omnistock.atp`` carries it (docs/events.md §4, docs/policy.md §3)."""
        p = self.view(key)
        safety = self.safety_stock(key)
        available = p.on_hand - p.reserved - safety
        return {
            "location_id": key[0],
            "sku": key[1],
            "on_hand": p.on_hand,
            "reserved": p.reserved,
            "safety_stock": safety,
            "unsellable": p.unsellable,
            "available": available,
            "atp": max(0, available),
            "oversold": max(0, p.reserved - p.on_hand),
            "inbound": sorted(
                ((sid, q, eta) for sid, (q, eta) in p.inbound.items()), key=lambda s: (s[2], s[0])
            ),
            "as_of": p.as_of,
            "channels": self.channels(key),
            "sold_7d": self.sold_7d(key),
            "stockout_eta": self.stockout_eta(key),
        }

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

    def _note(self, loc: str, rid: str) -> None:
        """An outcome of the reservation at ``loc``: the ledger's, when the id's claim is it."""
        r = self.reservations[(loc, rid)]
        if self.claims.get(rid) == (loc, r.sku):
            self.ledger[rid] = (r.status, r.qty)

    def _end(self, loc: str, rid: str, status: str, at: datetime) -> None:
        r = self.reservations[(loc, rid)]
        self._pos(loc, r.sku).reserved -= r.qty
        r.qty, r.status, r.ended_at = 0, status, at
        self._note(loc, rid)

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
        if kind in ("Restock", "WriteOff") and e.qty > self.view((loc, sku)).unsellable:
            return "rejected"  # exceeds_unsellable
        if kind == "SetSafetyStock" and e.channel is not None and not self.names_channel(e.channel):
            return "rejected"  # unknown_channel
        if kind == "Reserve" and self._remembered(loc, e.reservation_id) is not None:
            # a repeat: answered with the first outcome, nothing else changes but the clock
            self.seen[(loc, e.event_id)] = ts
            self.watermark[loc] = max(self.watermark.get(loc, BEFORE_ALL), ts)
            self.max_ts = ts if self.max_ts is None else max(self.max_ts, ts)
            return "applied"
        self._expire(loc, sku, ts)
        p = self._pos(loc, sku)
        day = ts.astimezone(UTC).date()
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
            p.sales.append((day, e.qty))
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
            if e.channel is None:
                p.own_safety_stock = e.qty
            else:
                p.channel_safety_stock[e.channel] = e.qty
        elif kind == "Restock":
            p.unsellable -= e.qty
            p.on_hand += e.qty
        elif kind == "WriteOff":
            p.unsellable -= e.qty
        elif kind == "SetAlertThresholds":
            for name in THRESHOLDS:
                if getattr(e, name) is not None:
                    p.thresholds[name] = getattr(e, name)
        elif kind == "Reserve":
            self._reserve(loc, sku, e)
        elif kind == "Release":
            self._end(loc, e.reservation_id, "released", ts)
        elif kind == "Fulfil":
            r = self.reservations[(loc, e.reservation_id)]
            qty = r.qty if e.qty is None else e.qty
            p.on_hand -= qty
            p.sales.append((day, qty))
            self._take(loc, e.reservation_id, qty, ts)
        p.as_of = ts
        self.seen[(loc, e.event_id)] = ts
        self.watermark[loc] = max(self.watermark.get(loc, BEFORE_ALL), ts)
        self.max_ts = ts if self.max_ts is None else max(self.max_ts, ts)
        if kind == "Reserve":
            self._claim(loc, sku, e)
        return "applied"

    def _claim(self, loc: str, sku: str, e: Any) -> None:
        """One reservation per id across locations: a reserve of an id another location still
        remembers holds nothing (its hold is given back) and the id is forgotten here, held or
        refused, so that this location never answers for it. A try of a reservation at a
        group after a refused try of the same group is no loser: it claims the id."""
        rid = e.reservation_id
        claim = self.claims.get(rid)
        if claim is not None and claim != (loc, sku):
            winner = self._remembered(claim[0], rid)
            if winner is not None and winner.sku == claim[1]:
                group_try = (
                    winner.status == "rejected"
                    and e.location_group is not None
                    and winner.group == e.location_group
                )
                if not group_try:
                    lost = self.reservations[(loc, rid)]
                    if lost.active:
                        self._pos(loc, sku).reserved -= lost.qty
                        self.revoked = ((loc, sku), lost.qty)
                    del self.reservations[(loc, rid)]
                    return
        self.claims[rid] = (loc, sku)
        self._note(loc, rid)

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
        self._note(loc, rid)

    def _reserve(self, loc: str, sku: str, e: Any) -> None:
        """Decided on the ATP of the reserve's channel here; the outcome reaches the ledger
        once ``_claim`` has seen it."""
        p = self._pos(loc, sku)
        channel = self.channel_taken_as(e.channel)
        if channel is None:
            room, reason = 0, UNKNOWN_CHANNEL
        else:
            room, reason = self.channel_atp((loc, sku), channel), INSUFFICIENT_STOCK
        expires_at = e.ts + timedelta(seconds=e.ttl_s)
        group = e.location_group
        if e.qty <= room:
            status, qty = "confirmed", e.qty
        elif e.allow_partial and room >= 1:
            status, qty = "partial", room
        else:
            self.reservations[(loc, e.reservation_id)] = NaiveReservation(
                loc, sku, "rejected", 0, expires_at, "rejected", 0, e.ts, reason, group
            )
            return
        self.reservations[(loc, e.reservation_id)] = NaiveReservation(
            loc, sku, status, qty, expires_at, status, qty, None, None, group
        )
        p.reserved += qty

    def finish(self, as_of: datetime | None = None) -> None:
        at = self.max_ts if as_of is None else as_of
        if at is not None:
            for loc in sorted({loc for loc, _ in self.reservations}):
                self._expire(loc, None, at)

    # -- views ----------------------------------------------------------------------------
    def records(self) -> dict[Key, dict[str, Any]]:
        """Every position's record, by ``(location_id, sku)``."""
        return {key: self.record(key) for key in self.positions}

    def statuses(self) -> dict[tuple[str, str], tuple[str, int, str | None]]:
        """``(location, reservation_id) -> (status, qty, first reason)`` of every reservation
        a location still remembers."""
        return {
            key: (r.status, r.qty, r.reason)
            for key, r in self.reservations.items()
            if self._remembered(*key) is not None
        }


def flatten_locations(spec: dict[str, Any], refs: list[str]) -> frozenset[str]:
    """The locations ``refs`` name in a policy spec: ids as they are, ``group:ID`` replaced by
    that group's, recursively (the spec has no cycles)."""
    groups = {g["id"]: g["locations"] for g in spec.get("groups", [])}
    found: set[str] = set()
    todo = list(refs)
    while todo:
        ref = todo.pop()
        if ref.startswith("group:"):
            todo.extend(groups[ref[len("group:") :]])
        else:
            found.add(ref)
    return frozenset(found)
