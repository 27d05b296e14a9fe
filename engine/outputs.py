"""What the rules emit besides the positions they change (docs/events.md §8, §11).

Facts in the past tense, frozen and slotted (msgspec structs: C-speed construction). A rule
returns them in a list; the dataflow sends each to its topic and ``replay`` counts or writes them.
Changed positions are returned as the ``Position`` objects themselves (see ``engine.position``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import msgspec

# Why a ``reserve`` is refused (docs/events.md §8, docs/policy.md).
INSUFFICIENT_STOCK: Final = "insufficient_stock"
UNKNOWN_CHANNEL: Final = "unknown_channel"


def first_reason(first_status: str) -> str | None:
    """The reason of a reservation's first outcome, which a repeat answers again."""
    return INSUFFICIENT_STOCK if first_status == "rejected" else None


class Rejected(msgspec.Struct, frozen=True, gc=False):
    """An event that changed nothing and goes to the dead letters.

    Attributes:
        code: stable machine-readable cause (``bad_json``, ``missing_field``,
            ``unknown_reservation``...).
        message: what exactly is wrong, with the JSON path where there is one.
    """

    code: str
    message: str

    @property
    def reason(self) -> str:
        """The dead letter's ``reason``: ``code: message``."""
        return f"{self.code}: {self.message}"


class Duplicate(msgspec.Struct, frozen=True, gc=False):
    """An event whose ``event_id`` was already applied at this location: ignored."""

    event_id: str


class ReservationChanged(msgspec.Struct, frozen=True, gc=False):
    """A reservation outcome for ``omnistock.reservations`` (key ``reservation_id``).

    ``status`` is the reservation's status after the change: ``confirmed``, ``partial`` and
    ``rejected`` first, then ``released``, ``expired`` or ``fulfilled``; a partial use by a sale
    or a fulfil emits the unchanged active status with the smaller ``qty``. ``repeat`` marks the
    answer to a ``reserve`` whose id was seen before, which is the first outcome (docs/events.md
    §8: its status, qty, ``expires_at`` and reason), with the reservation as it stands now in
    ``current_status``/``current_qty``: a consumer that tracks reservations skips repeats.
    ``ts`` is the instant of the change or answer (the event's time; for an expiry, on events or
    on the clock, its ``expires_at``);
    ``event_id`` the event that caused it, if any.

    A cart's (docs/events.md §12) has ``sku`` ``None``, ``qty`` the sum of ``lines``
    (``(sku, qty)``: what each line holds now, or for a repeat what its first outcome held,
    with ``current_lines`` beside), ``short`` (``(sku, qty, atp)``) on a refusal for want of
    stock, and ``kit``, the kit sku, when a kit was reserved.
    """

    reservation_id: str
    location_id: str
    sku: str | None
    status: str
    qty: int
    expires_at: datetime
    ts: datetime
    event_id: str | None = None
    reason: str | None = None
    repeat: bool = False
    current_status: str | None = None
    current_qty: int | None = None
    location_group: str | None = None
    lines: tuple[tuple[str, int], ...] | None = None
    short: tuple[tuple[str, int, int], ...] | None = None
    kit: str | None = None
    current_lines: tuple[tuple[str, int], ...] | None = None


class Claim(msgspec.Struct, gc=False):
    """Who holds a reservation id across locations (``engine.claims``): its first outcome,
    and the reservation as it stands now."""

    first: ReservationChanged
    status: str
    qty: int
    expires_at: datetime
    lines: tuple[tuple[str, int], ...] | None = None


class SupplyExpected(msgspec.Struct, frozen=True, gc=False):
    """Expected supply at ``location_id``, made by a ``transfer_out`` from ``from_location_id``.

    ``engine.routing.route`` sends it to the destination alongside the transfer (so the dataflow
    needs no loop between locations). Applying it upserts the supply and does nothing else there
    (no expiry, no ``as_of``); the destination remembers ``(from_location_id, event_id)`` for the
    dedup window, so a repeated transfer adds nothing.
    """

    location_id: str
    sku: str
    supply_id: str
    qty: int
    eta: datetime
    event_id: str
    ts: datetime
    from_location_id: str


class Supply(msgspec.Struct, frozen=True, gc=False):
    """Expected supply of a published position."""

    supply_id: str
    qty: int
    eta: datetime


class PositionRecord(msgspec.Struct, frozen=True, gc=False):
    """A position as published on ``omnistock.atp`` and printed by ``replay`` (docs/events.md
    §11): ``Position.wire()`` builds it, the API's read model decodes it. The shape of
    ``Position.record()``; a struct encodes faster than the dict (its keys are encoded
    once, not per message)."""

    location_id: str
    sku: str
    on_hand: int
    reserved: int
    safety_stock: int
    unsellable: int
    available: int
    atp: int
    oversold: int
    inbound: list[Supply]
    as_of: datetime | None
    channels: dict[str, int] = {}
    sold_7d: int = 0
    stockout_eta: datetime | None = None

    def atp_at(self, at: datetime) -> int:
        """ATP on the instant ``at``: available plus the supply due by then, at least 0."""
        due = sum(s.qty for s in self.inbound if s.eta <= at)
        return max(0, self.available + due)


def dead_letter(rejected: Rejected, raw: bytes | str, source: str) -> dict[str, str]:
    """The dead-letter record: ``reason``, ``raw`` (the original text), ``source``."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "backslashreplace")
    return {"reason": rejected.reason, "raw": raw.rstrip("\r\n"), "source": source}


class Alert(msgspec.Struct, frozen=True, gc=False):
    """A position crossed a line (docs/events.md §11). Carries the figures after the change."""

    kind: str
    location_id: str
    sku: str
    ts: datetime
    on_hand: int
    reserved: int
    safety_stock: int
    unsellable: int
    available: int
    atp: int
    oversold: int
    inbound_qty: int
    sold_7d: int = 0
    stockout_eta: datetime | None = None


def outcome_record(outcome: ReservationChanged) -> dict[str, Any]:
    """A reservation outcome as published on ``omnistock.reservations``."""
    record: dict[str, Any] = {
        "reservation_id": outcome.reservation_id,
        "location_id": outcome.location_id,
        "sku": outcome.sku,
        "status": outcome.status,
        "qty": outcome.qty,
        "expires_at": outcome.expires_at,
        "reason": outcome.reason,
        "ts": outcome.ts,
        "event_id": outcome.event_id,
    }
    if outcome.repeat:
        record["repeat"] = True
        record["current_status"] = outcome.current_status
        record["current_qty"] = outcome.current_qty
    if outcome.location_group is not None:
        record["location_group"] = outcome.location_group
    if outcome.lines is not None:  # a cart: its lines in place of sku and qty
        del record["sku"], record["qty"]
        record["lines"] = lines_record(outcome.lines)
        if outcome.repeat:
            record["current_lines"] = lines_record(outcome.current_lines or ())
        if outcome.short is not None:
            record["short"] = [{"sku": s, "qty": q, "atp": a} for s, q, a in outcome.short]
        if outcome.kit is not None:
            record["kit"] = outcome.kit
    return record


def lines_record(lines: tuple[tuple[str, int], ...]) -> list[dict[str, Any]]:
    """A cart's lines as JSON: ``[{"sku", "qty"}]``."""
    return [{"sku": sku, "qty": qty} for sku, qty in lines]


def alert_record(alert: Alert) -> dict[str, Any]:
    """An alert as published on ``omnistock.alerts``."""
    return {
        "kind": alert.kind,
        "location_id": alert.location_id,
        "sku": alert.sku,
        "ts": alert.ts,
        "on_hand": alert.on_hand,
        "reserved": alert.reserved,
        "safety_stock": alert.safety_stock,
        "unsellable": alert.unsellable,
        "available": alert.available,
        "atp": alert.atp,
        "oversold": alert.oversold,
        "inbound_qty": alert.inbound_qty,
        "sold_7d": alert.sold_7d,
        "stockout_eta": alert.stockout_eta,
    }
