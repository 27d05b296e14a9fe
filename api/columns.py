"""The read model's positions in numpy columns per sku (``api.readmodel``; docs/decisions.md
D114): the rows of a sku's block, the bits of its ``META`` row, the block itself (``Sku``), and
the checks that tell whether a record can be said by the columns (what the contract derives
from the stored figures is not stored, docs/events.md §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt

from engine.outputs import PositionRecord

# The rows of a sku's block (column i: location index i): three that every block has...
META, ON_HAND, AS_OF_S = 0, 1, 2
# ...then one per figure that some position of the sku has had other than 0, in this order (a
# block's ``layout``: which of them it has, a bit each)
HAS_RESERVED, HAS_SAFETY_STOCK, HAS_UNSELLABLE, HAS_SOLD_7D = 1, 2, 4, 8
LAYOUTS: Final = 16
# META's bits
KNOWN: Final = 1  # a position: some record was taken here
AS_OF_NONE: Final = 2
INBOUND: Final = 4  # the side entry holds the expected supply
AS_OF_SIDE: Final = 8  # as_of is in the side entry (finer than a millisecond, or not UTC)
ETA_SIDE: Final = 16  # so is stockout_eta (not the one as_of, atp and sold_7d make)
CHANNELS_SIDE: Final = 32  # and the channels (no pattern says them)
WHOLE: Final = 64  # the side entry is the record itself
SIDE: Final = INBOUND | AS_OF_SIDE | ETA_SIDE | CHANNELS_SIDE | WHOLE
MS_SHIFT: Final = 7  # as_of's milliseconds in its second: 10 bits
PATTERN_SHIFT: Final = 17  # the channels' pattern number: 8 bits
MAX_PATTERNS: Final = 256
MAX_CHANNELS: Final = 32  # channels a pattern may have (more: kept in the side entry)
ZERO, ATP, FREE = 0, 1, 2  # a channel's value: 0, atp, max(0, on_hand - reserved)

AS_OF_BASE: Final = datetime(2025, 1, 1, tzinfo=UTC)  # AS_OF_S counts seconds from it
NEVER: Final = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)  # engine.timefmt's
WEEK_S: Final = 7 * 86_400
I32_MIN, I32_MAX = -(2**31), 2**31 - 1
I64_MIN, I64_MAX = -(2**63), 2**63 - 1

Pattern = tuple[tuple[str, int], ...]  # (channel, ZERO | ATP | FREE) in the record's order
Slots = tuple[int, int, int, int]
Figures = tuple[int, int, int, int, int, int, int]


def slots(layout: int) -> Slots:
    """Where ``reserved``, ``safety_stock``, ``unsellable`` and ``sold_7d`` are in a column of
    a block of ``layout``; -1 for a figure it has no row for (a read appends a 0 there)."""
    found = []
    row = AS_OF_S + 1
    for bit in (HAS_RESERVED, HAS_SAFETY_STOCK, HAS_UNSELLABLE, HAS_SOLD_7D):
        found.append(row if layout & bit else -1)
        row += 1 if layout & bit else 0
    return found[0], found[1], found[2], found[3]


SLOTS: Final = tuple(slots(layout) for layout in range(LAYOUTS))
ROWS: Final = tuple(AS_OF_S + 1 + layout.bit_count() for layout in range(LAYOUTS))


class Side(msgspec.Struct, frozen=True, gc=False):
    """A position's parts the columns do not hold (``META`` says which are meant); a position
    whose only such part is its expected supply keeps the bare tuple instead."""

    inbound: tuple[Any, ...] = ()
    as_of: datetime | None = None
    stockout_eta: datetime | None = None
    channels: dict[str, int] | None = None


class Sku:
    """One sku's positions: ``cols`` (``ROWS[layout]`` x capacity), the promise channel's ATP
    (``atp``, capacity), the side entries by location index (a dict made at the first one),
    and the seqlock ``gen``. The arrays, the layout and the dict are this object's for good:
    growing, widening to ``int64`` or to another figure makes a new ``Sku``."""

    __slots__ = ("atp", "cols", "gen", "layout", "side")

    def __init__(
        self,
        cols: npt.NDArray[np.signedinteger[Any]],
        atp: npt.NDArray[np.int64],
        layout: int,
        side: dict[int, Any] | None = None,
        gen: int = 0,
    ) -> None:
        self.cols = cols
        self.atp = atp
        self.layout = layout
        self.side = side
        self.gen = gen

    def copy(self, capacity: int, dtype: type[np.signedinteger[Any]], layout: int) -> Sku:
        """This block in ``capacity`` columns of ``dtype`` with the rows of ``layout`` (which
        has every row this one has)."""
        cols = np.zeros((ROWS[layout], capacity), dtype=dtype)
        width = self.cols.shape[1]
        cols[: AS_OF_S + 1, :width] = self.cols[: AS_OF_S + 1]
        for old, new in zip(SLOTS[self.layout], SLOTS[layout], strict=True):
            if old >= 0:
                cols[new, :width] = self.cols[old]
        atp = np.zeros(capacity, dtype=np.int64)
        atp[:width] = self.atp
        side = None if self.side is None else dict(self.side)
        return Sku(cols, atp, layout, side, self.gen)


def stockout_eta(as_of: datetime | None, atp: int, sold_7d: int) -> datetime | None:
    """When ``atp`` runs out at the pace of ``sold_7d`` (``engine.position``'s rule): ``as_of
    + atp x 7 days / sold_7d`` in whole seconds, ``NEVER`` past the end of dates."""
    if sold_7d <= 0 or atp <= 0 or as_of is None:
        return None
    try:
        return as_of + timedelta(0, atp * WEEK_S // sold_7d)
    except OverflowError:
        return NEVER


def same(a: Any, b: Any) -> bool:
    """The same instant written the same way (``None`` is ``None``)."""
    return a is b or (
        type(a) is datetime and type(b) is datetime and a.tzinfo is b.tzinfo and a == b
    )


def well_typed(record: Any) -> bool:
    """Whether a record handed to ``put_position`` has the types ``decode_position`` gives (an
    int is an ``int``, not a bool; channels ``str -> int``; an aware or naive ``datetime``)."""
    return (
        type(record) is PositionRecord
        and all(
            type(value) is int
            for value in (
                record.on_hand,
                record.reserved,
                record.safety_stock,
                record.unsellable,
                record.available,
                record.atp,
                record.oversold,
                record.sold_7d,
            )
        )
        and type(record.inbound) is list
        and type(record.channels) is dict
        and all(type(k) is str and type(v) is int for k, v in record.channels.items())
        and (record.as_of is None or type(record.as_of) is datetime)
        and (record.stockout_eta is None or type(record.stockout_eta) is datetime)
    )


def clamped(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 0
    return min(max(number, I64_MIN), I64_MAX)


def snapshot(
    block: Sku,
) -> tuple[list[int], list[list[int]], dict[int, Any] | None]:
    """A block's known positions: their indexes, columns and side entries (copies)."""
    cols = block.cols
    indexes = np.flatnonzero(cols[META] & KNOWN)
    rows: list[list[int]] = cols[:, indexes].T.tolist()
    for row in rows:
        row.append(0)  # see SLOTS
    side = None if block.side is None else dict(block.side)
    return indexes.tolist(), rows, side


class Patterns:
    """The channel patterns, numbered in one table shared by every sku (``META``'s pattern
    bits): ``pairs[n]`` is pattern ``n`` as ``(channel, code)`` in the record's order,
    ``codes[n]`` the same as ``channel -> code``; pattern 0 is no channels. Numbers only grow:
    a reader that meets a number finds its pattern."""

    def __init__(self) -> None:
        self.pairs: list[Pattern] = [()]
        self.codes: list[dict[str, int]] = [{}]
        self._number_of: dict[tuple[tuple[str, ...], tuple[int | None, ...]], int] = {((), ()): 0}

    def number(self, channels: dict[str, int], atp: int, free: int) -> int | None:
        """The number of the pattern ``channels`` follow, made if new (the caller holds the
        writer's lock); ``None`` when none fits (a value that is not 0, ``atp`` or ``free``,
        too many channels or patterns)."""
        # a value's code (0 last: a value that is 0 is ZERO whatever atp and free are)
        codes = tuple(map({free: FREE, atp: ATP, 0: ZERO}.get, channels.values()))
        names = tuple(channels)
        found = self._number_of.get((names, codes))
        if found is not None:
            return found
        if None in codes or len(names) > MAX_CHANNELS or len(self.pairs) >= MAX_PATTERNS:
            return None
        number = len(self.pairs)
        pairs = tuple((name, code or ZERO) for name, code in zip(names, codes, strict=True))
        self.pairs.append(pairs)  # before any reader can meet the number
        self.codes.append(dict(pairs))
        self._number_of[(names, codes)] = number
        return number
