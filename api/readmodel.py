"""The API's read model: positions and reservation outcomes, as the engine last published them.

One feed fills it, whatever the mode: the dataflow's published messages, through ``take``. In
embedded mode the dataflow runs in this process and hands them over as it emits them
(``api.backends.embedded``); in Kafka mode a consumer thread reads ``omnistock.atp`` and
``omnistock.reservations`` from their beginning, and the last 10,000 messages of each
partition of ``omnistock.alerts`` (``api.backends.kafka``). Routes only read it.

What it holds:

- positions, compact and columnar (issue #19: a replica holding a million positions spends
  tens of bytes on each, not the ~650 of a decoded record; the block and its bits are in
  ``api.columns``). Per sku, one numpy block of rows
  by location index (``int32``; the whole block becomes ``int64`` the first time a figure of
  that sku does not fit): ``META`` (the bits below), ``on_hand`` and ``as_of`` in whole
  seconds from ``AS_OF_BASE`` (its milliseconds are in ``META``) always, then a row for each
  of ``reserved``, ``safety_stock``, ``unsellable`` and ``sold_7d`` once some position of the
  sku has it other than 0 (the block's ``layout``; ``SLOTS``). What follows from those is not
  stored but checked, when a position is taken, to be what the record says: ``available``,
  ``atp``, ``oversold`` (docs/events.md §4), ``stockout_eta`` (``as_of + atp x 7 days /
  sold_7d``) and ``channels``, each channel's value being 0, ``atp`` or ``max(0, on_hand -
  reserved)`` (a channel with no buffer and no protected units that holds safety stock back,
  or not: the default policy's four) under a pattern ``(channel, which of the three)...``
  numbered in a table shared by every sku. The rare rest sits in the sku's side dict, by
  location index: the expected supply (``inbound``, as decoded), an ``as_of`` finer than a
  millisecond or not in UTC, a ``stockout_eta`` or ``channels`` that does not follow (a
  buffered channel's), and, for a record the columns cannot say at all (a figure beyond
  ``int64``, derived figures that disagree), the record itself. ``position()`` and
  ``positions_of()`` rebuild the ``PositionRecord`` that was published, every field the same
  value and type, so a route's JSON is the same bytes; ``channel_atp()`` reads one channel's
  value without building it.
- per sku, a numpy ``int64`` array of the ATP of ``promise_channel`` (``web``: what a product
  page promises; docs/policy.md) indexed by location index, for the promise kernels:
  ``atp_array(sku)`` returns a view (no copy). Location indexes start with the delivery
  network's location list when one is given (``ReadModel(locations=network_ids)``), so index
  ``i`` here is location ``i`` of the network; locations the network does not list are
  appended after them as they appear. Unknown positions read as 0; an ATP beyond ``int64``
  reads as its bound.
- ``ReservationView`` per ``reservation_id``: its latest outcome and its first one
  (``api.outcomes``), forgetting a reservation ``window`` after it ended.
- ``alerts``: the latest 10,000 ``omnistock.alerts`` messages, and the streams following them
  (``api.alertlog.AlertLog``).
- ``promises``: the promise table, the latest ``omnistock.promises`` entry per sku, and the
  streams following it (``api.promise_table.PromiseTable``).

One writer at a time (``_write``: the feed's thread, the expiry thread, requests). Reads take
no lock. A reservation update replaces a whole object (one dict store), and an ATP update is
one array element, so a reader sees the old value or the new one. A position spans several
cells and maybe a side entry, so its writes are guarded by the sku block's generation, a
seqlock: the writer makes it odd, writes the position's cells and side entry, makes it even
again; a reader reads the generation, the cells and the side entry, then the generation again,
and builds the record only if it was even and has not moved. If it moved (a thread switch
fell inside a write of that very sku, which is rare: the GIL switches every few
milliseconds, a read takes microseconds), the reader reads again under the writer's lock. A
position is therefore never a mix of two versions: no route can show, say, the ``reserved``
of one event beside the ``on_hand`` of the next. A block that grows (more locations) or
widens (to ``int64``, or to a figure's row) is a copy that replaces the sku's entry in one
dict store; the old one is never written again, so a reader that holds it reads an older,
whole position. (This leans on the GIL, whose switches order one thread's writes before
another's reads; a free-threaded build would need the lock, or atomics, for reads too.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt

from api.alertlog import AlertLog
from api.columns import (
    AS_OF_BASE,
    AS_OF_NONE,
    AS_OF_S,
    AS_OF_SIDE,
    CHANNELS_SIDE,
    ETA_SIDE,
    FREE,
    HAS_RESERVED,
    HAS_SAFETY_STOCK,
    HAS_SOLD_7D,
    HAS_UNSELLABLE,
    I32_MAX,
    I32_MIN,
    I64_MAX,
    I64_MIN,
    INBOUND,
    KNOWN,
    MAX_PATTERNS,
    META,
    MS_SHIFT,
    ON_HAND,
    PATTERN_SHIFT,
    ROWS,
    SIDE,
    SLOTS,
    WHOLE,
    ZERO,
    Figures,
    Patterns,
    Side,
    Sku,
    clamped,
    same,
    snapshot,
    stockout_eta,
    well_typed,
)
from api.outcomes import Outcomes, ReservationView, decode_outcome
from api.promise_table import PromiseTable
from engine.outputs import PositionRecord, ReservationChanged

_MIN_CAPACITY: Final = 64


decode_position = msgspec.json.Decoder(PositionRecord).decode


class ReadModel:
    """Positions and reservations, updated by one feed, read by any number of requests."""

    def __init__(
        self,
        locations: Iterable[str] = (),
        window: timedelta = timedelta(days=7),
        promise_channel: str = "web",
    ) -> None:
        self.outcomes = Outcomes(window)  # the reservations (api.outcomes)
        self.reservations = self.outcomes.reservations  # by id (the same dicts, never rebound)
        self.carts = self.outcomes.carts  # cross-location cart -> location -> part id
        self.location_ids: list[str] = []
        self.location_index: dict[str, int] = {}
        self._skus: dict[str, Sku] = {}
        self._patterns = Patterns()  # the channel patterns, by number (api.columns)
        self._capacity = _MIN_CAPACITY
        self._write = threading.Lock()  # one writer at a time (expiry thread + requests)
        for location_id in locations:
            self._index_of(location_id)
        self.position_count = 0
        self.on_outcome: Callable[[ReservationChanged], None] | None = None  # metrics hook
        self.promise_channel = promise_channel  # whose ATP the promise arrays hold
        self.alerts = AlertLog()  # GET /v1/alerts and its stream
        self.promises = PromiseTable()  # POST /v1/promise/listing by region, its stream

    # -- reads --------------------------------------------------------------------------------

    def position(self, location_id: str, sku: str) -> PositionRecord | None:
        """The position as last published (a record built anew: equal, not the same object)."""
        found = self._read(location_id, sku)
        return None if found is None else self._record(location_id, sku, *found)

    def channel_atp(self, location_id: str, sku: str, channel: str) -> int | None:
        """``channel``'s ATP at the position (0 when its record has no such channel), without
        building the record; ``None`` for a position never seen."""
        found = self._read(location_id, sku)
        if found is None:
            return None
        row, entry, layout = found
        meta = row[META]
        if meta & WHOLE:
            whole: PositionRecord = entry
            return whole.channels.get(channel, 0)
        if meta & CHANNELS_SIDE:
            explicit: dict[str, int] = entry.channels
            return explicit.get(channel, 0)
        code = self._patterns.codes[(meta >> PATTERN_SHIFT) & (MAX_PATTERNS - 1)].get(channel)
        if code is None or code == ZERO:
            return 0
        reserved, safety_stock, _, _ = SLOTS[layout]
        free = row[ON_HAND] - row[reserved]
        if code == FREE:
            return free if free > 0 else 0
        available = free - row[safety_stock]
        return available if available > 0 else 0

    def _read(self, location_id: str, sku: str) -> tuple[list[int], Any, int] | None:
        """A position's column (a 0 appended: see ``SLOTS``), side entry and layout, of one
        version (see the module's docstring); ``None`` for a position never seen."""
        block = self._skus.get(sku)
        index = self.location_index.get(location_id)
        if block is None or index is None:
            return None
        gen = block.gen
        cols = block.cols
        if index >= cols.shape[1]:  # a block a grow has just replaced: not there yet
            return None
        row: list[int] = cols[:, index].tolist()
        meta = row[META]
        if not meta & KNOWN:
            return None
        side = block.side
        entry = None if side is None or not meta & SIDE else side.get(index)
        layout = block.layout
        if gen & 1 or block.gen != gen:  # a write of this sku came in between
            with self._write:
                block = self._skus[sku]
                row = block.cols[:, index].tolist()
                side = block.side
                entry = None if side is None else side.get(index)
                layout = block.layout
        row.append(0)
        return row, entry, layout

    def positions_of(self, sku: str) -> dict[str, PositionRecord]:
        """Every known position of ``sku``, by location (in location index order; new
        records, the caller's to keep)."""
        block = self._skus.get(sku)
        if block is None:
            return {}
        gen = block.gen
        indexes, rows, side = snapshot(block)
        layout = block.layout
        if gen & 1 or block.gen != gen:
            with self._write:
                block = self._skus[sku]
                indexes, rows, side = snapshot(block)
                layout = block.layout
        ids = self.location_ids
        return {
            ids[i]: self._record(ids[i], sku, row, None if side is None else side.get(i), layout)
            for i, row in zip(indexes, rows, strict=True)
        }

    def skus(self) -> list[str]:
        """The skus with a position somewhere, in the order they first came."""
        return list(self._skus)

    def atp_array(self, sku: str) -> npt.NDArray[np.int64]:
        """ATP of ``sku`` per location index (a view, no copy; zeros for an unknown sku)."""
        size = len(self.location_ids)
        found = self._skus.get(sku)
        if found is None:
            return np.zeros(size, dtype=np.int64)
        atp = found.atp
        if len(atp) < size:  # a block a grow has just replaced
            return np.concatenate([atp, np.zeros(size - len(atp), dtype=np.int64)])
        return atp[:size]

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
            self._put(decode_position(value), True)
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
        """Keep ``record`` as its position's latest (what ``position`` will rebuild)."""
        self._put(record, False)

    def _put(self, record: PositionRecord, decoded: bool) -> None:
        """``decoded``: ``record`` comes from ``decode_position``, so its fields are of their
        declared types (msgspec checked them); any other record is checked here."""
        channels = record.channels
        if decoded:
            promised = channels.get(self.promise_channel, record.atp)
            if not I64_MIN <= promised <= I64_MAX:
                promised = clamped(promised)
        else:
            promised = clamped(
                channels.get(self.promise_channel, record.atp)
                if type(channels) is dict
                else record.atp
            )
        with self._write:
            encoded = self._encode(record) if decoded or well_typed(record) else None
            if encoded is None:  # the columns cannot say it: kept whole
                figures, entry, wide = (KNOWN | WHOLE, 0, 0, 0, 0, 0, 0), record, False
            else:
                figures, entry, wide = encoded
            meta, on_hand, seconds, reserved, safety_stock, unsellable, sold_7d = figures
            need = (
                (HAS_RESERVED if reserved else 0)
                | (HAS_SAFETY_STOCK if safety_stock else 0)
                | (HAS_UNSELLABLE if unsellable else 0)
                | (HAS_SOLD_7D if sold_7d else 0)
            )
            index = self._index_of(record.location_id)
            sku = record.sku
            block = self._skus.get(sku)
            if block is None:
                block = self._skus[sku] = Sku(
                    np.zeros((ROWS[need], self._capacity), np.int64 if wide else np.int32),
                    np.zeros(self._capacity, dtype=np.int64),
                    need,
                )
            elif need & ~block.layout or (wide and block.cols.dtype != np.int64):
                dtype = np.int64 if wide else block.cols.dtype.type
                block = self._skus[sku] = block.copy(self._capacity, dtype, block.layout | need)
            layout = block.layout
            column = [meta, on_hand, seconds]
            if layout & HAS_RESERVED:
                column.append(reserved)
            if layout & HAS_SAFETY_STOCK:
                column.append(safety_stock)
            if layout & HAS_UNSELLABLE:
                column.append(unsellable)
            if layout & HAS_SOLD_7D:
                column.append(sold_7d)
            cols = block.cols
            if not cols.item(META, index) & KNOWN:
                self.position_count += 1
            side = block.side
            if entry is not None and side is None:
                side = block.side = {}
            block.gen += 1  # odd: a write is under way (see the module's docstring)
            try:
                if entry is not None:
                    assert side is not None
                    side[index] = entry
                elif side is not None:
                    side.pop(index, None)
                cols[:, index] = column
                block.atp[index] = promised
            finally:
                block.gen += 1

    def _encode(self, record: PositionRecord) -> tuple[Figures, Any, bool] | None:
        """``record`` as the figures of a column (``META``, ``on_hand``, ``as_of``'s seconds,
        then the optional ones in ``SLOTS`` order), its side entry, and whether a figure
        needs ``int64``; ``None`` when the columns cannot say it (derived figures that do not
        follow, a figure beyond ``int64``)."""
        on_hand, reserved, safety_stock = record.on_hand, record.reserved, record.safety_stock
        sold_7d = record.sold_7d
        free = on_hand - reserved
        available = free - safety_stock
        atp = available if available > 0 else 0
        if (
            record.available != available
            or record.atp != atp
            or record.oversold != (-free if free < 0 else 0)
        ):
            return None
        meta = KNOWN
        seconds = 0
        as_of = record.as_of
        if as_of is None:
            meta = KNOWN | AS_OF_NONE
        elif as_of.tzinfo is UTC:
            since = as_of - AS_OF_BASE
            seconds = since.days * 86_400 + since.seconds
            us = since.microseconds
            if us % 1000:
                meta = KNOWN | AS_OF_SIDE
                seconds = 0
            else:
                meta = KNOWN | (us // 1000) << MS_SHIFT
        else:
            meta = KNOWN | AS_OF_SIDE
        eta = record.stockout_eta
        if sold_7d > 0 and atp > 0 and as_of is not None:
            if not same(eta, stockout_eta(as_of, atp, sold_7d)):
                meta |= ETA_SIDE
        elif eta is not None:
            meta |= ETA_SIDE
        channels = record.channels
        if channels:
            number = self._patterns.number(channels, atp, free if free > 0 else 0)
            if number is None:
                meta |= CHANNELS_SIDE
            else:
                meta |= number << PATTERN_SHIFT
        inbound = record.inbound
        if inbound:
            meta |= INBOUND
        entry: Any = None
        if meta & (AS_OF_SIDE | ETA_SIDE | CHANNELS_SIDE):
            entry = Side(
                tuple(inbound),
                as_of if meta & AS_OF_SIDE else None,
                eta if meta & ETA_SIDE else None,
                dict(channels) if meta & CHANNELS_SIDE else None,
            )
        elif inbound:
            entry = tuple(inbound)
        figures = (meta, on_hand, seconds, reserved, safety_stock, record.unsellable, sold_7d)
        low, high = min(figures), max(figures)
        if low < I32_MIN or high > I32_MAX:
            if low < I64_MIN or high > I64_MAX:
                return None
            return figures, entry, True
        return figures, entry, False

    def _record(
        self, location_id: str, sku: str, row: list[int], entry: Any, layout: int
    ) -> PositionRecord:
        """The record a block's column (a 0 appended), side entry and layout say."""
        meta = row[META]
        if meta & WHOLE:
            whole: PositionRecord = entry
            return whole
        reserved_at, safety_at, unsellable_at, sold_at = SLOTS[layout]
        on_hand, reserved, safety_stock = row[ON_HAND], row[reserved_at], row[safety_at]
        sold_7d = row[sold_at]
        available = on_hand - reserved - safety_stock
        atp = available if available > 0 else 0
        free = on_hand - reserved
        oversold = -free if free < 0 else 0
        if meta & (AS_OF_SIDE | ETA_SIDE | CHANNELS_SIDE):
            inbound = list(entry.inbound)
        elif meta & INBOUND:
            inbound = list(entry)
        else:
            inbound = []
        as_of: datetime | None
        if meta & AS_OF_NONE:
            as_of = None
        elif meta & AS_OF_SIDE:
            as_of = entry.as_of
        else:
            as_of = AS_OF_BASE + timedelta(0, row[AS_OF_S], ((meta >> MS_SHIFT) & 1023) * 1000)
        if meta & ETA_SIDE:
            eta = entry.stockout_eta
        else:
            eta = None if sold_7d <= 0 or atp <= 0 else stockout_eta(as_of, atp, sold_7d)
        if meta & CHANNELS_SIDE:
            channels = dict(entry.channels)
        else:
            number = (meta >> PATTERN_SHIFT) & (MAX_PATTERNS - 1)
            values = (0, atp, free if free > 0 else 0)
            channels = {name: values[code] for name, code in self._patterns.pairs[number]}
        return PositionRecord(
            location_id,
            sku,
            on_hand,
            reserved,
            safety_stock,
            row[unsellable_at],
            available,
            atp,
            oversold,
            inbound,
            as_of,
            channels,
            sold_7d,
            eta,
        )

    def put_outcome(self, outcome: ReservationChanged) -> None:
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        with self._write:
            self.outcomes.put(outcome)

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
        """Widen every block by an eighth (at least 8 columns; rare: ~20 times from 64 to
        1,000 locations), each a new block in place of the old one."""
        capacity = -(-(self._capacity + max(8, self._capacity // 8)) // 8) * 8
        for sku, block in list(self._skus.items()):
            self._skus[sku] = block.copy(capacity, block.cols.dtype.type, block.layout)
        self._capacity = capacity
