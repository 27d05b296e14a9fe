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
- ``ReservationView`` per ``reservation_id``: its latest outcome plus its first one. Ids are
  taken as unique across locations (the engine scopes them to a location; a retailer's ids
  are unique anyway). Like the engine, it forgets a reservation ``window`` after it ended
  (measured by the latest outcome's ``ts``), so memory stays bounded.
- ``alerts``: the latest 10,000 ``omnistock.alerts`` messages, and the streams following them
  (``api.alertlog.AlertLog``).

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
from engine.outputs import PositionRecord, ReservationChanged

ACTIVE: Final = frozenset({"confirmed", "partial"})
FIRST: Final = frozenset({"confirmed", "partial", "rejected"})
_MIN_CAPACITY: Final = 64


class ReservationView(msgspec.Struct, frozen=True, gc=False):
    """What ``GET /v1/reservations/{id}`` answers: the latest outcome and the first one."""

    reservation_id: str
    location_id: str
    sku: str
    status: str
    qty: int
    expires_at: datetime
    updated_at: datetime | None
    reason: str | None
    first_status: str
    first_qty: int
    first_event_id: str | None
    first_reason: str | None = None
    location_group: str | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


decode_position = msgspec.json.Decoder(PositionRecord).decode
decode_outcome = msgspec.json.Decoder(ReservationChanged).decode


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

    # -- writes -------------------------------------------------------------------------------

    def take(self, topic: str, value: bytes) -> ReservationChanged | None:
        """One message the dataflow published, by its logical topic (``atp``,
        ``reservations``, ``alerts``; others are not kept here): returns the outcome it
        carried, if any."""
        if topic == "atp":
            self.put_position(decode_position(value))
        elif topic == "alerts":
            self.alerts.put(value)
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
            status, qty = outcome.status, outcome.qty
            if outcome.repeat:  # the first outcome, with the reservation as it stands now
                if before is not None:
                    return  # a repeat changes nothing
                first_status, first_qty, first_event = status, qty, None
                first_reason = outcome.reason
                status = outcome.current_status or status
                qty = qty if outcome.current_qty is None else outcome.current_qty
            elif before is None or (status in FIRST and not before.active):
                # new, or an id used again after the engine forgot it
                first_status, first_qty, first_event = status, qty, outcome.event_id
                first_reason = outcome.reason
            else:
                first_status, first_qty = before.first_status, before.first_qty
                first_event = before.first_event_id
                first_reason = before.first_reason
            self._remember(outcome, status)
            self.reservations[outcome.reservation_id] = ReservationView(
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
            self.reservations.pop(key, None)

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
