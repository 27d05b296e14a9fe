"""The API's read model: positions and reservation outcomes, as the engine last published them.

One feed fills it, whatever the mode: the dataflow's published messages, through ``take``. In
embedded mode the dataflow runs in this process and hands them over as it emits them
(``api.backends.embedded``); in Kafka mode a consumer thread reads ``omnistock.atp`` and
``omnistock.reservations`` from their beginning, and the last 10,000 messages of each
partition of ``omnistock.alerts`` (``api.backends.kafka``). Routes only read it.

What it holds:

- ``PositionRecord`` per ``(location_id, sku)``: the ``omnistock.atp`` value, for ``GET``.
- per sku, a numpy ``int64`` array of the ATP of ``promise_channel`` (``web``: what a product
  page promises; docs/policy.md) indexed by location index, for the promise kernels:
  ``atp_array(sku)`` returns a view (no copy). Location indexes start with the delivery
  network's location list when one is given (``ReadModel(locations=network_ids)``), so index
  ``i`` here is location ``i`` of the network; locations the network does not list are
  appended after them as they appear. Unknown positions read as 0.
- ``ReservationView`` per ``reservation_id``: its latest outcome plus its first one; a cart's
  (docs/events.md §12) with its ``lines`` in place of ``sku`` and ``qty``. Ids are
  taken as unique across locations (the engine scopes them to a location; a retailer's ids
  are unique anyway). Like the engine, it forgets a reservation ``window`` after it ended
  (measured by the latest outcome's ``ts``), so memory stays bounded.
- ``alerts``: the latest 10,000 ``omnistock.alerts`` messages, and the streams following them
  (``api.alertlog.AlertLog``).
- ``promises``: the promise table, the latest ``omnistock.promises`` entry per sku, and the
  streams following it (``api.promise_table.PromiseTable``).

Reads take no lock: each update replaces whole objects (one dict store, one array element), so
a reader sees the old value or the new one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec
import numpy as np
import numpy.typing as npt

from api.alertlog import AlertLog
from api.promise_table import PromiseTable
from engine.outputs import PositionRecord, ReservationChanged

LinePairs = tuple[tuple[str, int], ...]

ACTIVE: Final = frozenset({"confirmed", "partial"})
FIRST: Final = frozenset({"confirmed", "partial", "rejected"})
_MIN_CAPACITY: Final = 64


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
decode_position = msgspec.json.Decoder(PositionRecord).decode


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


class ReadModel:
    """Positions and reservations, updated by one feed, read by any number of requests."""

    def __init__(
        self,
        locations: Iterable[str] = (),
        window: timedelta = timedelta(days=7),
        promise_channel: str = "web",
    ) -> None:
        self.positions: dict[str, dict[str, PositionRecord]] = {}  # sku -> location -> record
        self.reservations: dict[str, ReservationView] = {}
        self.carts: dict[str, dict[str, str]] = {}  # cross-location cart -> location -> part id
        self.location_ids: list[str] = []
        self.location_index: dict[str, int] = {}
        self._atp: dict[str, npt.NDArray[np.int64]] = {}
        self._capacity = _MIN_CAPACITY
        self._write = threading.Lock()  # one writer at a time (expiry thread + requests)
        for location_id in locations:
            self._index_of(location_id)
        self.position_count = 0
        self.on_outcome: Callable[[ReservationChanged], None] | None = None  # metrics hook
        self.window = window
        self.promise_channel = promise_channel  # whose ATP the promise arrays hold
        self._ended: dict[str, datetime] = {}  # ended reservations, roughly in time order
        self._latest = datetime.min.replace(tzinfo=UTC)
        self._puts = 0
        self.alerts = AlertLog()  # GET /v1/alerts and its stream
        self.promises = PromiseTable()  # POST /v1/promise/listing by region, its stream

    # -- reads --------------------------------------------------------------------------------

    def position(self, location_id: str, sku: str) -> PositionRecord | None:
        by_location = self.positions.get(sku)
        return None if by_location is None else by_location.get(location_id)

    def positions_of(self, sku: str) -> dict[str, PositionRecord]:
        """Every known position of ``sku``, by location (do not modify)."""
        return self.positions.get(sku, {})

    def atp_array(self, sku: str) -> npt.NDArray[np.int64]:
        """ATP of ``sku`` per location index (a view, no copy; zeros for an unknown sku)."""
        found = self._atp.get(sku)
        if found is None:
            return np.zeros(len(self.location_ids), dtype=np.int64)
        return found[: len(self.location_ids)]

    def atp_lookup(self, sku: str, location_id: str) -> int:
        found = self.position(location_id, sku)
        return 0 if found is None else found.atp

    def reservation(self, reservation_id: str) -> ReservationView | None:
        return self.reservations.get(reservation_id)

    def parts_of(self, cart_id: str) -> dict[str, ReservationView]:
        """The known parts of a cross-location cart, by location (empty when none is known)."""
        found = {}
        for location_id, part_id in self.carts.get(cart_id, {}).items():
            view = self.reservations.get(part_id)
            if view is not None:
                found[location_id] = view
        return found

    # -- writes -------------------------------------------------------------------------------

    def take(self, topic: str, value: bytes) -> ReservationChanged | None:
        """One message the dataflow published, by its logical topic (``atp``,
        ``reservations``, ``alerts``, ``promises``; others are not kept here): returns the
        outcome it carried, if any."""
        if topic == "atp":
            self.put_position(decode_position(value))
        elif topic == "alerts":
            self.alerts.put(value)
        elif topic == "promises":
            self.promises.put(value)
        elif topic == "reservations":
            outcome = decode_outcome(value)
            self.put_outcome(outcome)
            return outcome
        return None

    def put_position(self, record: PositionRecord) -> None:
        with self._write:
            by_location = self.positions.get(record.sku)
            if by_location is None:
                by_location = self.positions[record.sku] = {}
            if record.location_id not in by_location:
                self.position_count += 1
            by_location[record.location_id] = record
            index = self._index_of(record.location_id)
            array = self._atp.get(record.sku)
            if array is None:
                array = self._atp[record.sku] = np.zeros(self._capacity, dtype=np.int64)
            array[index] = record.channels.get(self.promise_channel, record.atp)

    def put_outcome(self, outcome: ReservationChanged) -> None:
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        with self._write:
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

    def _index_of(self, location_id: str) -> int:
        index = self.location_index.get(location_id)
        if index is not None:
            return index
        index = len(self.location_ids)
        if index >= self._capacity:
            self._grow()
        self.location_ids.append(location_id)
        self.location_index[location_id] = index
        return index

    def _grow(self) -> None:
        """Double every array (rare: once per doubling of the locations)."""
        capacity = self._capacity * 2
        for sku, array in self._atp.items():
            grown = np.zeros(capacity, dtype=np.int64)
            grown[: self._capacity] = array
            self._atp[sku] = grown
        self._capacity = capacity
