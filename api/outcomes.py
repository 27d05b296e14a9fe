"""The read model's reservations: each id's latest outcome and its first (``ReservationView``).

What ``GET /v1/reservations/{id}`` and the carts across locations (``api.carts``) read, filled
from ``omnistock.reservations`` (``decode_outcome``) or, in embedded mode, from the outcomes the
dataflow hands over. ``api.readmodel.ReadModel`` holds one ``Outcomes`` and writes it under its
lock.

One ``ReservationView`` per ``reservation_id``: its latest outcome plus its first one; a cart's
(docs/events.md §12) with its ``lines`` in place of ``sku`` and ``qty``. Ids are
taken as unique across locations (the engine scopes them to a location; a retailer's ids
are unique anyway). Like the engine, it forgets a reservation ``window`` after it ended
(measured by the latest outcome's ``ts``), so memory stays bounded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec

from engine.outputs import ReservationChanged

LinePairs = tuple[tuple[str, int], ...]

ACTIVE: Final = frozenset({"confirmed", "partial"})
FIRST: Final = frozenset({"confirmed", "partial", "rejected"})


class ReservationView(msgspec.Struct, frozen=True, gc=False):
    """What ``GET /v1/reservations/{id}`` answers: the latest outcome and the first one."""

    reservation_id: str
    location_id: str
    sku: str | None  # None for a cart
    status: str
    qty: int  # a cart's: the sum of its lines
    expires_at: datetime
    updated_at: datetime | None
    reason: str | None
    first_status: str
    first_qty: int
    first_event_id: str | None
    first_reason: str | None = None
    location_group: str | None = None
    lines: LinePairs | None = None  # a cart's: what each line holds now
    first_lines: LinePairs | None = None  # a cart's first outcome's lines
    first_short: tuple[tuple[str, int, int], ...] | None = None  # its refusal's short lines
    kit: str | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class _Line(msgspec.Struct, frozen=True, gc=False):
    sku: str
    qty: int


class _Short(msgspec.Struct, frozen=True, gc=False):
    sku: str
    qty: int
    atp: int


class _Outcome(msgspec.Struct, frozen=True, gc=False):
    """An outcome as ``engine.outputs.outcome_record`` writes it: a cart's carries ``lines``
    (objects) in place of ``sku`` and ``qty``."""

    reservation_id: str
    location_id: str
    status: str
    expires_at: datetime
    ts: datetime
    sku: str | None = None
    qty: int = 0
    event_id: str | None = None
    reason: str | None = None
    repeat: bool = False
    current_status: str | None = None
    current_qty: int | None = None
    location_group: str | None = None
    lines: list[_Line] | None = None
    short: list[_Short] | None = None
    kit: str | None = None
    current_lines: list[_Line] | None = None


def _pairs(lines: list[_Line] | None) -> LinePairs | None:
    return None if lines is None else tuple((line.sku, line.qty) for line in lines)


_decode_wire = msgspec.json.Decoder(_Outcome).decode


def decode_outcome(value: bytes) -> ReservationChanged:
    """An ``omnistock.reservations`` message as the engine's ``ReservationChanged`` (a cart's
    ``qty`` and ``current_qty``: the sums of its lines)."""
    wire = _decode_wire(value)
    lines = _pairs(wire.lines)
    current = _pairs(wire.current_lines)
    current_qty = wire.current_qty
    if current_qty is None and current is not None:
        current_qty = sum(q for _, q in current)
    return ReservationChanged(
        wire.reservation_id,
        wire.location_id,
        wire.sku,
        wire.status,
        wire.qty if lines is None else sum(q for _, q in lines),
        wire.expires_at,
        wire.ts,
        wire.event_id,
        wire.reason,
        wire.repeat,
        wire.current_status,
        current_qty,
        wire.location_group,
        lines,
        None if wire.short is None else tuple((s.sku, s.qty, s.atp) for s in wire.short),
        wire.kit,
        current,
    )


def part_base(reservation_id: str, location_id: str) -> str | None:
    """The cross-location cart a reservation is a part of (``{id}@{location_id}``), if any."""
    tail = f"@{location_id}"
    if reservation_id.endswith(tail) and len(reservation_id) > len(tail):
        return reservation_id[: -len(tail)]
    return None


class Outcomes:
    """Reservation views by id and the parts of each cart across locations, forgetting a
    reservation ``window`` after it ended."""

    def __init__(self, window: timedelta = timedelta(days=7)) -> None:
        self.reservations: dict[str, ReservationView] = {}
        self.carts: dict[str, dict[str, str]] = {}  # cross-location cart -> location -> part id
        self.window = window
        self._ended: dict[str, datetime] = {}  # ended reservations, roughly in time order
        self._latest = datetime.min.replace(tzinfo=UTC)
        self._puts = 0

    def put(self, outcome: ReservationChanged) -> None:
        """Keep ``outcome`` as its reservation's latest (its caller holds the read model's
        write lock)."""
        before = self.reservations.get(outcome.reservation_id)
        status, qty, lines = outcome.status, outcome.qty, outcome.lines
        if outcome.repeat:  # the first outcome, with the reservation as it stands now
            if before is not None:
                return  # a repeat changes nothing
            first_status, first_qty, first_event = status, qty, None
            first_reason, first_lines, first_short = outcome.reason, lines, outcome.short
            status = outcome.current_status or status
            qty = qty if outcome.current_qty is None else outcome.current_qty
            lines = outcome.current_lines if lines is not None else None
        elif before is None or (status in FIRST and not before.active):
            # new, or an id used again after the engine forgot it
            first_status, first_qty, first_event = status, qty, outcome.event_id
            first_reason, first_lines, first_short = outcome.reason, lines, outcome.short
        else:
            first_status, first_qty = before.first_status, before.first_qty
            first_event = before.first_event_id
            first_reason = before.first_reason
            first_lines, first_short = before.first_lines, before.first_short
        self._remember(outcome, status)
        rid = outcome.reservation_id
        base = None if "@" not in rid else part_base(rid, outcome.location_id)
        if base is not None and rid not in self.carts.get(base, {}):
            self.carts[base] = {**self.carts.get(base, {}), outcome.location_id: rid}
        self.reservations[rid] = ReservationView(
            outcome.reservation_id,
            outcome.location_id,
            outcome.sku,
            status,
            qty,
            outcome.expires_at,
            outcome.ts,
            outcome.reason if not outcome.repeat or status == "rejected" else None,
            first_status,
            first_qty,
            first_event,
            first_reason,
            outcome.location_group,
            lines,
            first_lines,
            first_short,
            outcome.kit,
        )

    def _remember(self, outcome: ReservationChanged, status: str) -> None:
        """Track ended reservations (``status`` is the reservation's now); every 1,000
        outcomes, forget those ended before the window (the write lock is held)."""
        rid, ts = outcome.reservation_id, outcome.ts
        self._ended.pop(rid, None)
        if ts is not None:
            self._latest = max(self._latest, ts)
            if status not in ACTIVE:
                self._ended[rid] = ts
        self._puts += 1
        if self._puts % 1000:
            return
        horizon = self._latest - self.window
        old = []
        for key, ended_at in self._ended.items():
            if ended_at >= horizon:
                break
            old.append(key)
        for key in old:
            del self._ended[key]
            gone = self.reservations.pop(key, None)
            base = None if gone is None else part_base(key, gone.location_id)
            if base is not None and base in self.carts:
                left = {loc: rid for loc, rid in self.carts[base].items() if rid != key}
                if left:
                    self.carts[base] = left
                else:
                    del self.carts[base]
