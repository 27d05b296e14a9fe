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

Carts and kits (docs/events.md §12, as the engine's carts commit states them): a cart is one
reservation with ``lines`` (``sku -> qty`` it holds now; ``qty`` their sum), decided all or
none on each line's channel ATP after every due hold of the location has expired; a kit (the
policy's ``kits``) is no position: its reserve is a cart of its components (whole kits with
``allow_partial``), its sale a sale of each, any other event naming it a dead letter. A cart
sits at every line's position: a due cart found there (by any event of that position) ends
every line at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from engine.events import parse
from engine.outputs import Rejected
from engine.policy import DEFAULT_POLICY, Channel, Policy
from engine.timefmt import BEFORE_ALL

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

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
    sku: str | None  # None for a cart
    status: str
    qty: int
    expires_at: datetime
    first_status: str
    first_qty: int
    ended_at: datetime | None = None
    reason: str | None = None  # of the first outcome, when rejected
    group: str | None = None  # the reserve's location_group
    lines: dict[str, int] | None = None  # a cart's: sku -> what that line holds now
    short: tuple[tuple[str, int, int], ...] | None = None  # a refused cart's (sku, asked, atp)
    kit: str | None = None  # the kit sku a kit reserve named

    @property
    def active(self) -> bool:
        return self.status in ("confirmed", "partial")

    def skus(self) -> list[str]:
        """The positions it sits at: its sku's, or every line's."""
        return list(self.lines) if self.lines is not None else [self.sku or ""]

    def sits_at(self, sku: str) -> bool:
        """Whether the reservation is one of the position ``sku``'s holds: a one-sku
        reservation of that sku, or a cart with a line of it (even a line used up)."""
        return sku in self.lines if self.lines is not None else self.sku == sku


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
        self.claims: dict[str, tuple[str, str | None]] = {}  # a cart's sku: None
        # reservation_id -> (status, qty) of the latest outcome of the reservation the id
        # names (its claim's), over the whole log: what ``replay --reservations`` lists
        self.ledger: dict[str, tuple[str, int]] = {}
        # reservation_id -> the lines of that latest outcome, when it is a cart's
        self.lines: dict[str, tuple[tuple[str, int], ...]] = {}
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

    def _remembered_id(self, first: datetime, loc: str) -> bool:
        """An event id first applied at ``first`` is remembered while its bucket of event
        time (a sixteenth of the window, from the epoch) is not before the bucket of the
        location's clock less the window."""
        window_ms = self.window // timedelta(milliseconds=1)
        granule = max(1, -(-window_ms // 16))
        horizon = self.watermark.get(loc, BEFORE_ALL) - self.window

        def ms(t: datetime) -> int:
            return (t - EPOCH) // timedelta(milliseconds=1)

        return ms(first) // granule >= ms(horizon) // granule

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
            if r.lines is None:
                self.lines.pop(rid, None)
            else:
                self.lines[rid] = tuple(r.lines.items())

    def _end(self, loc: str, rid: str, status: str, at: datetime) -> None:
        r = self.reservations[(loc, rid)]
        if r.lines is None:
            self._pos(loc, r.sku).reserved -= r.qty  # type: ignore[arg-type]
        else:
            for sku, held in r.lines.items():
                self._pos(loc, sku).reserved -= held
                r.lines[sku] = 0
        r.qty, r.status, r.ended_at = 0, status, at
        self._note(loc, rid)

    def _expire(self, loc: str, sku: str | None, at: datetime) -> None:
        """The location's active reservations due by ``at`` expire: those at the position
        ``sku`` (a cart with a line there ends whole), or every one of the location."""
        due = sorted(
            (r.expires_at, rid)
            for (where, rid), r in self.reservations.items()
            if where == loc and r.active and r.expires_at <= at and (sku is None or r.sits_at(sku))
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
        kits = self.policy.kits
        if kind == "TransferOut" and sku not in kits:
            # the destination's supply travels on its own (engine.routing); a kit's, nowhere
            self._supply_arrives(e)
        first = self.seen.get((loc, e.event_id))
        if first is not None and self._remembered_id(first, loc):
            return "duplicate"
        held: NaiveReservation | None = None
        if kind in ("Release", "Fulfil"):
            held = self._remembered(loc, e.reservation_id)
            if held is None or not held.active or held.expires_at <= ts:
                return "rejected"  # unknown_reservation, reservation_ended
            if held.lines is None and sku is not None and held.sku != sku:
                return "rejected"  # reservation_elsewhere (a cart's sku is not read)
            if kind == "Fulfil" and held.lines is None:
                if e.lines is not None:
                    return "rejected"  # bad_lines: not a cart
                if e.qty is not None and e.qty > held.qty:
                    return "rejected"  # fulfil_exceeds_held
            if kind == "Fulfil" and held.lines is not None:
                if e.qty is not None:
                    return "rejected"  # bad_lines: a cart is fulfilled by lines
                if any(line.qty > held.lines.get(line.sku, 0) for line in e.lines or ()):
                    return "rejected"  # fulfil_exceeds_held
        elif sku in kits and kind not in ("Reserve", "Sale"):
            return "rejected"  # kit_has_no_stock
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
        if kind == "Reserve" and (e.lines is not None or sku in kits):
            self._reserve_cart(loc, e)
            self._applied(loc, e)
            self._claim(loc, None, e)
            return "applied"
        if kind == "Sale" and sku in kits:
            self._sell_kit(loc, e)
            self._applied(loc, e)
            return "applied"
        if held is not None and held.lines is not None:
            self._use_cart(loc, held, e)
            self._applied(loc, e)
            return "applied"
        if held is not None:
            sku = held.sku  # a release or fulfil may leave its sku out
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
            if r is not None and r.active and r.lines is None and r.sku == sku:
                self._take(loc, e.reservation_id, min(e.qty, r.qty), ts)
            elif r is not None and r.active and r.lines is not None and r.lines.get(sku, 0) > 0:
                # a sale of one sku naming a cart: that sku's line gives up to the sale's qty
                self._take_lines(loc, e.reservation_id, [(sku, min(e.qty, r.lines[sku]))], ts)
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
        self._applied(loc, e)
        if kind == "Reserve":
            self._claim(loc, sku, e)
        return "applied"

    def _applied(self, loc: str, e: Any) -> None:
        """An applied event: its id is remembered here, the location's clock moves."""
        ts = e.ts
        self.seen[(loc, e.event_id)] = ts
        self.watermark[loc] = max(self.watermark.get(loc, BEFORE_ALL), ts)
        self.max_ts = ts if self.max_ts is None else max(self.max_ts, ts)

    # -- carts and kits -------------------------------------------------------------------
    def parts(self, e: Any) -> dict[str, int]:
        """What a cart or kit reserve asks of each stock sku, in the order first named: a kit
        (its own, or on a line) counts as its components, and lines naming one sku add up."""
        kits = self.policy.kits
        asked = [(e.sku, e.qty)] if e.lines is None else [(x.sku, x.qty) for x in e.lines]
        wanted: dict[str, int] = {}
        for sku, qty in asked:
            for part, each in kits.get(sku, ((sku, 1),)):
                wanted[part] = wanted.get(part, 0) + qty * each
        return wanted

    def _reserve_cart(self, loc: str, e: Any) -> None:
        """A cart or kit reserve: every due hold of the location expires first; then it holds
        every line or none (a kit with ``allow_partial``: as many whole kits as every
        component allows); every line's position is made and gets ``as_of``."""
        ts = e.ts
        self._expire(loc, None, ts)
        wanted = self.parts(e)
        for sku in wanted:
            self._pos(loc, sku)
        kit = e.sku if e.lines is None else None
        channel = self.channel_taken_as(e.channel)
        expires_at = e.ts + timedelta(seconds=e.ttl_s)
        granted: dict[str, int] | None = None
        short: tuple[tuple[str, int, int], ...] | None = None
        status, reason = "rejected", UNKNOWN_CHANNEL
        if channel is not None:
            reason = INSUFFICIENT_STOCK
            room = {sku: self.channel_atp((loc, sku), channel) for sku in wanted}
            if all(qty <= room[sku] for sku, qty in wanted.items()):
                status, granted = "confirmed", dict(wanted)
            elif kit is not None and e.allow_partial:
                per_kit = dict(self.policy.kits[kit])
                for whole in range(e.qty - 1, 0, -1):
                    if all(whole * each <= room[sku] for sku, each in per_kit.items()):
                        status = "partial"
                        granted = {sku: whole * each for sku, each in per_kit.items()}
                        break
            if granted is None:
                short = tuple(
                    (sku, qty, room[sku]) for sku, qty in wanted.items() if qty > room[sku]
                )
        rid, group = e.reservation_id, e.location_group
        if granted is None:
            self.reservations[(loc, rid)] = NaiveReservation(
                loc,
                None,
                "rejected",
                0,
                expires_at,
                "rejected",
                0,
                ts,
                reason,
                group,
                lines={sku: 0 for sku in wanted},
                short=short,
                kit=kit,
            )
        else:
            total = sum(granted.values())
            self.reservations[(loc, rid)] = NaiveReservation(
                loc,
                None,
                status,
                total,
                expires_at,
                status,
                total,
                None,
                None,
                group,
                lines=granted,
                kit=kit,
            )
            for sku, qty in granted.items():
                self._pos(loc, sku).reserved += qty
        for sku in wanted:
            self._pos(loc, sku).as_of = ts

    def _sell_kit(self, loc: str, e: Any) -> None:
        """A sale of ``n`` kits: a sale of ``n x qty`` of each component, after each component
        position's due holds expire; naming a cart held here, each component's line gives up
        to that much."""
        ts, n = e.ts, e.qty
        day = ts.astimezone(UTC).date()
        parts = self.policy.kits[e.sku]
        for sku, _ in parts:
            self._expire(loc, sku, ts)
        for sku, each in parts:
            p = self._pos(loc, sku)
            p.on_hand -= n * each
            p.sales.append((day, n * each))
        r = self._remembered(loc, e.reservation_id) if e.reservation_id else None
        if r is not None and r.active and r.lines is not None:
            used = [(sku, min(n * each, r.lines.get(sku, 0))) for sku, each in parts]
            used = [(sku, qty) for sku, qty in used if qty > 0]
            if used:
                self._take_lines(loc, e.reservation_id, used, ts)
        for sku, _ in parts:
            self._pos(loc, sku).as_of = ts

    def _use_cart(self, loc: str, r: NaiveReservation, e: Any) -> None:
        """A cart's release (every line ends) or fulfil (the lines named, by default every
        line's remainder, are picked), after the due holds of each line's position."""
        ts = e.ts
        lines = r.lines or {}
        for sku in list(lines):
            self._expire(loc, sku, ts)
        if type(e).__name__ == "Release":
            self._end(loc, e.reservation_id, "released", ts)
        else:
            if e.lines is None:
                picked = [(sku, qty) for sku, qty in lines.items() if qty > 0]
            else:
                picked = [(line.sku, line.qty) for line in e.lines]
            day = ts.astimezone(UTC).date()
            for sku, qty in picked:
                p = self._pos(loc, sku)
                p.on_hand -= qty
                p.sales.append((day, qty))
            self._take_lines(loc, e.reservation_id, picked, ts)
        for sku in lines:
            self._pos(loc, sku).as_of = ts

    def _take_lines(self, loc: str, rid: str, picked: list[tuple[str, int]], ts: datetime) -> None:
        """Lines sold or picked leave the cart; it is fulfilled once it holds nothing."""
        r = self.reservations[(loc, rid)]
        lines = r.lines or {}
        for sku, qty in picked:
            lines[sku] -= qty
            r.qty -= qty
            self._pos(loc, sku).reserved -= qty
        if r.qty <= 0:
            self._end(loc, rid, "fulfilled", ts)
        else:
            self._note(loc, rid)

    def _claim(self, loc: str, sku: str | None, e: Any) -> None:
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
                    if lost.active and lost.lines is not None:  # a cart: every line
                        for part, qty in lost.lines.items():
                            self._pos(loc, part).reserved -= qty
                    elif lost.active and sku is not None:
                        self._pos(loc, sku).reserved -= lost.qty
                        self.revoked = ((loc, sku), lost.qty)
                    del self.reservations[(loc, rid)]
                    return
        self.claims[rid] = (loc, sku)
        self._note(loc, rid)

    def _supply_arrives(self, e: Any) -> None:
        dest, key = e.to_location_id, (e.location_id, e.event_id)
        first = self.seen.get((dest, key))
        if first is not None and self._remembered_id(first, dest):
            return
        self.seen[(dest, key)] = e.ts
        self._pos(dest, e.sku).inbound[e.supply_id] = (e.qty, e.eta)

    def _take(self, loc: str, rid: str, qty: int, ts: datetime) -> None:
        r = self.reservations[(loc, rid)]
        if qty >= r.qty:
            self._end(loc, rid, "fulfilled", ts)
            return
        r.qty -= qty
        self._pos(loc, r.sku).reserved -= qty  # type: ignore[arg-type]
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

    def carts(
        self,
    ) -> dict[tuple[str, str], tuple[tuple[tuple[str, int], ...], Any, str | None]]:
        """``(location, reservation_id) -> (lines, short, kit)`` of every cart a location still
        remembers."""
        return {
            key: (tuple(r.lines.items()), r.short, r.kit)
            for key, r in self.reservations.items()
            if r.lines is not None and self._remembered(*key) is not None
        }

    def rows(self) -> list[dict[str, Any]]:
        """``replay --reservations``: one row per id of the log, sorted, a cart's with its
        lines (docs/api.md §8)."""
        rows = []
        for rid, (status, qty) in sorted(self.ledger.items()):
            row: dict[str, Any] = {
                "reservation_id": rid,
                "status": "active" if status == "confirmed" else status,
                "qty": qty,
            }
            if rid in self.lines:
                row["lines"] = [{"sku": sku, "qty": q} for sku, q in self.lines[rid]]
            rows.append(row)
        return rows

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
