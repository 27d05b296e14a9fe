"""A position: one sku at one location, and the figures derived from it (docs/events.md §4).

State is compact on purpose: a position is a slotted object of small ints plus two optional
dicts that exist only while the position has expected supply or active reservations, so a
million positions cost a few hundred bytes each including the dict that indexes them
(``benchmarks/state_memory.py`` measures it).

Derived figures are never stored:

- ``available = on_hand - reserved - safety_stock``
- ``atp = max(0, available)``
- ``oversold = max(0, reserved - on_hand)``
- ATP on a future instant T: ``max(0, available + sum(expected supply with eta <= T))``
- ``channels``: each channel's ATP (``atp_for``): 0 where the channel does not sell; else
  ``x = on_hand - reserved - (its safety stock, if it holds it back) - protect_units`` and
  ``0 if x <= 0 else x * (100 - buffer_pct) // 100``
- ``sold_7d`` and ``stockout_eta``: sell-through (docs/events.md §11)

A position that never sold carries no sales dates (``sales`` is ``None``), and one with no
safety stock, thresholds or channel buffers of its own carries none of those either.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from msgspec.structs import asdict
from mypy_extensions import i32, mypyc_attr

from engine.holds import Reservation  # named here too: snapshots pickled before it moved
from engine.kinds import POSITION_RECORD, SUPPLY
from engine.outputs import PositionRecord
from engine.policy import ChannelAt
from engine.timefmt import NEVER, from_us, later, to_us

NO_EXPIRY: Final = NEVER
NO_AS_OF: Final = -(2**63)  # ``as_of`` is None
EPOCH_DAY: Final = 719_163  # EPOCH.toordinal()
DAY_US: Final = 86_400_000_000
WEEK_S: Final = 7 * 86_400
_SECONDS: Final[dict[int, timedelta]] = {}  # Final: a C static, not a module dict lookup


def _seconds(seconds: int) -> timedelta:
    """``timedelta(seconds=...)``, made once per figure: a constructor call costs thousands of
    instructions, and a stock-out's distance (atp and the week's sales, small numbers) repeats
    across positions and events."""
    found = _SECONDS.get(seconds)
    if found is None:
        if len(_SECONDS) >= 65_536:
            _SECONDS.clear()
        found = _SECONDS[seconds] = timedelta(0, seconds)
    return found


SALES: Final = 2  # where a position's units by date start in ``Position.sales``


class More:
    """The parts of a position most positions never have: what it holds for reservations, its
    expected supply, unsellable units and settings of its own. Made when one is first set."""

    __slots__ = (
        "channel_safety_stock",
        "holds",
        "inbound",
        "next_expiry",
        "own_safety_stock",
        "reserved",
        "thresholds",
        "unsellable",
    )

    def __init__(self) -> None:
        self.reserved = 0
        self.unsellable = 0
        self.own_safety_stock = -1
        self.channel_safety_stock: dict[str, int] | None = None
        self.thresholds: tuple[int | None, int | None, int | None] | None = None
        self.inbound: dict[str, tuple[int, datetime]] | None = None
        self.holds: dict[str, Reservation] | None = None
        self.next_expiry = NO_EXPIRY


@mypyc_attr(acyclic=True)  # holds nothing that leads back to it: no GC header, 16 bytes less
class Position:
    """Stock of one sku at one location.

    Attributes:
        on_hand, reserved, unsellable: the stored quantities.
        safety_stock: the buffer without a channel that applies here: the position's own
            (``own_safety_stock``) or else the policy's for the sku (docs/policy.md).
        own_safety_stock: set by a ``set_safety_stock`` without a channel, or -1 (none).
        channel_safety_stock: ``channel -> qty`` set with a channel, or ``None``.
        thresholds: ``(low_stock, reorder_point, stockout_days)`` set here, each ``None``
            where the book's apply; ``None`` when none is set.
        sales: units sold by UTC date, or ``None`` until the first sale or fulfil:
            ``[newest date's ordinal, units on every date kept, units on the newest date,
            units the date before, ...]``.
        as_of: ``ts`` of the last event applied here (``None`` until one is).
        inbound: expected supply, ``supply_id -> (qty, eta)``, or ``None`` when there is none.
        holds: active reservations held here, ``reservation_id -> Reservation``, or ``None``.
        next_expiry: the soonest ``expires_at`` among ``holds`` (``NO_EXPIRY`` when none).
        flags: which alert conditions held after the last change (``engine.alerts``).

    Held in 80 bytes (docs/performance.md §8): the sku, the location, ``on_hand``, ``as_of``
    as epoch microseconds, ``safety_stock`` and ``flags`` as 32-bit ints, ``sales``, and the
    rest in a ``More`` made only when one of its parts is first set (``reserved``,
    ``unsellable``, the supply, the holds, settings of its own); the properties read and
    write them as if they were attributes.
    """

    __slots__ = ("_as_of", "_flags", "_safety", "location_id", "more", "on_hand", "sales", "sku")

    def __init__(self, location_id: str, sku: str, flags: int, safety_stock: int = 0) -> None:
        self.sku = sku
        self.location_id = location_id
        self.on_hand = 0
        self._as_of = NO_AS_OF  # epoch microseconds
        self._safety: i32 = safety_stock  # <= MAX_QTY (engine.policy)
        self._flags: i32 = flags
        self.sales: list[int] | None = None
        self.more: More | None = None

    @property
    def safety_stock(self) -> int:
        return self._safety

    @safety_stock.setter
    def safety_stock(self, value: int) -> None:
        self._safety = value

    @property
    def flags(self) -> int:
        return self._flags

    @flags.setter
    def flags(self, value: int) -> None:
        self._flags = value

    def _more(self) -> More:
        more = self.more
        if more is None:
            more = self.more = More()
        return more

    @property
    def as_of(self) -> datetime | None:
        us = self._as_of
        return None if us == NO_AS_OF else from_us(us)

    @as_of.setter
    def as_of(self, value: datetime | None) -> None:
        self._as_of = NO_AS_OF if value is None else to_us(value)

    @property
    def reserved(self) -> int:
        more = self.more
        return 0 if more is None else more.reserved

    @reserved.setter
    def reserved(self, value: int) -> None:
        if value or self.more is not None:
            self._more().reserved = value

    @property
    def unsellable(self) -> int:
        more = self.more
        return 0 if more is None else more.unsellable

    @unsellable.setter
    def unsellable(self, value: int) -> None:
        if value or self.more is not None:
            self._more().unsellable = value

    @property
    def own_safety_stock(self) -> int:
        more = self.more
        return -1 if more is None else more.own_safety_stock

    @own_safety_stock.setter
    def own_safety_stock(self, value: int) -> None:
        if value != -1 or self.more is not None:
            self._more().own_safety_stock = value

    @property
    def channel_safety_stock(self) -> dict[str, int] | None:
        more = self.more
        return None if more is None else more.channel_safety_stock

    @channel_safety_stock.setter
    def channel_safety_stock(self, value: dict[str, int] | None) -> None:
        if value is not None or self.more is not None:
            self._more().channel_safety_stock = value

    @property
    def thresholds(self) -> tuple[int | None, int | None, int | None] | None:
        more = self.more
        return None if more is None else more.thresholds

    @thresholds.setter
    def thresholds(self, value: tuple[int | None, int | None, int | None] | None) -> None:
        if value is not None or self.more is not None:
            self._more().thresholds = value

    @property
    def inbound(self) -> dict[str, tuple[int, datetime]] | None:
        more = self.more
        return None if more is None else more.inbound

    @inbound.setter
    def inbound(self, value: dict[str, tuple[int, datetime]] | None) -> None:
        if value is not None or self.more is not None:
            self._more().inbound = value

    @property
    def holds(self) -> dict[str, Reservation] | None:
        more = self.more
        return None if more is None else more.holds

    @holds.setter
    def holds(self, value: dict[str, Reservation] | None) -> None:
        if value is not None or self.more is not None:
            self._more().holds = value

    @property
    def next_expiry(self) -> datetime:
        more = self.more
        return NO_EXPIRY if more is None else more.next_expiry

    @next_expiry.setter
    def next_expiry(self, value: datetime) -> None:
        if value is not NO_EXPIRY or self.more is not None:
            self._more().next_expiry = value

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved - self.safety_stock

    @property
    def atp(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)

    @property
    def oversold(self) -> int:
        return max(0, self.reserved - self.on_hand)

    @property
    def inbound_qty(self) -> int:
        return sum(qty for qty, _ in self.inbound.values()) if self.inbound else 0

    def hold(self, made: Reservation, qty: int) -> None:
        """``made`` holds ``qty`` here (a one-sku reservation, or a cart's line)."""
        if self.holds is None:
            self.holds = {}
        self.holds[made.reservation_id] = made
        self.reserved += qty
        self.next_expiry = min(made.expires_at, self.next_expiry)

    def atp_at(self, at: datetime) -> int:
        """ATP on the instant ``at``, counting expected supply due by then."""
        due = sum(q for q, eta in self.inbound.values() if eta <= at) if self.inbound else 0
        return max(0, self.available + due)

    def safety_stock_for(self, channel: str) -> int:
        """The safety stock for ``channel``: set here for it, else ``safety_stock``."""
        own = self.channel_safety_stock
        if own is not None:
            found = own.get(channel)
            if found is not None:
                return found
        return self.safety_stock

    def atp_for(self, channel: ChannelAt) -> int:
        """The channel's ATP here (docs/policy.md §3): the rule, once."""
        name, holds, buffer, protect, here = channel  # one unpacking, no attribute reads
        if not here:
            return 0
        x = self.on_hand - self.reserved - protect
        if holds:
            x -= self.safety_stock_for(name)
        if x <= 0:
            return 0
        return x if buffer == 0 else x * (100 - buffer) // 100

    def channels(self, channels: tuple[ChannelAt, ...]) -> dict[str, int]:
        """``{channel: atp_c}`` for every channel of the policy (as they apply here)."""
        return {channel[0]: self.atp_for(channel) for channel in channels}

    def sold(self, ts: datetime, qty: int, keep: int) -> None:
        """Count ``qty`` units sold (a sale, a fulfil) on the UTC date of ``ts``. Dates more
        than ``keep`` before the newest one counted are dropped (``Book.sales_keep``)."""
        day = ts.toordinal()
        sales = self.sales
        if sales is None:
            self.sales = [day, qty, qty]
            return
        offset = sales[0] - day
        if offset < 0:  # a new newest date: shift the older ones along
            if -offset >= keep:
                self.sales = [day, qty, qty]
                return
            shifted = [day, 0, qty]
            shifted.extend([0] * (-offset - 1))
            shifted.extend(sales[SALES : SALES + keep + offset])
            shifted[1] = sum(shifted[SALES:])
            self.sales = shifted
            return
        if offset >= keep:
            return
        while len(sales) <= SALES + offset:
            sales.append(0)
        sales[SALES + offset] += qty
        sales[1] += qty

    def sold_7d(self) -> int:
        """Units sold on the 7 UTC dates ending with the date of ``as_of``."""
        sales = self.sales
        as_of = self._as_of
        if sales is None or as_of == NO_AS_OF:
            return 0
        first = SALES + sales[0] - (as_of // DAY_US + EPOCH_DAY)  # index of the as_of date
        total = 0
        for i in range(max(first, SALES), min(first + 7, len(sales))):
            total += sales[i]
        return total

    def may_run_out(self, atp: int, stockout_days: int) -> bool:
        """Whether ``atp x 7 < stockout_days x sold_7d`` (the ``stockout_soon`` condition,
        ``atp > 0`` aside). The units of every date kept bound the week's: the week is summed
        only when that bound does not settle it, which spares most events a date computation."""
        sales = self.sales
        if sales is None or atp * 7 >= stockout_days * sales[1]:
            return False
        return atp * 7 < stockout_days * self.sold_7d()

    def stockout_eta(self, sold_7d: int) -> datetime | None:
        """When atp runs out at the pace of ``sold_7d``: ``as_of + atp x 7 days / sold_7d``
        (whole seconds); ``None`` without sales or stock."""
        atp = self.on_hand - self.reserved - self.safety_stock
        if sold_7d <= 0 or atp <= 0 or self.as_of is None:
            return None
        return later(self.as_of, _seconds(atp * WEEK_S // sold_7d))

    def supplies(self) -> list[tuple[str, int, datetime]]:
        """The expected supplies, ``(supply_id, qty, eta)``, soonest first (then by id)."""
        if not self.inbound:
            return []
        # Sorted as (eta, supply_id) tuples: no key function to call per item.
        due = [(eta, supply_id, qty) for supply_id, (qty, eta) in self.inbound.items()]
        if len(due) > 1:
            due.sort()
        return [(supply_id, qty, eta) for eta, supply_id, qty in due]

    def record(self, channels: tuple[ChannelAt, ...] = ()) -> dict[str, Any]:
        """The position as published on ``omnistock.atp`` and printed by ``replay``, as a dict
        (``wire()`` is the same as a struct, what the hot paths encode)."""
        wire = self.wire(channels)
        record = asdict(wire)
        record["inbound"] = [asdict(supply) for supply in wire.inbound]
        return record

    def wire(self, channels: tuple[ChannelAt, ...] = ()) -> PositionRecord:
        """The position as published on ``omnistock.atp`` and printed by ``replay``: a struct
        encodes in half the time of a dict. ``channels``: the policy's, as they apply at this
        location (``Book.channels``)."""
        available = self.on_hand - self.reserved - self.safety_stock
        inbound = [SUPPLY(supply_id, qty, eta) for supply_id, qty, eta in self.supplies()]
        sold_7d = self.sold_7d() if self.sales is not None else 0
        return POSITION_RECORD(
            self.location_id,
            self.sku,
            self.on_hand,
            self.reserved,
            self.safety_stock,
            self.unsellable,
            available,
            max(0, available),
            max(0, self.reserved - self.on_hand),
            inbound,
            self.as_of,
            self.channels(channels),
            sold_7d,
            self.stockout_eta(sold_7d) if sold_7d else None,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (Position, (self.location_id, self.sku, self.flags), self.__getstate__())

    def bare_state(self) -> tuple[Any, ...]:
        """``__getstate__`` without the holds (and so with no next expiry): what a book's
        pickled shard keeps of a position (``engine.book``)."""
        state = self.__getstate__()
        return (*state[:8], None, NO_EXPIRY, *state[10:])

    def __getstate__(self) -> tuple[Any, ...]:
        return (
            self.location_id,
            self.sku,
            self.on_hand,
            self.reserved,
            self.safety_stock,
            self.unsellable,
            self._as_of,
            self.inbound,
            self.holds,
            self.next_expiry,
            self.flags,
            self.own_safety_stock,
            self.channel_safety_stock,
            self.thresholds,
            self.sales,
        )

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        (
            self.location_id,
            self.sku,
            self.on_hand,
            self.reserved,
            self.safety_stock,
            self.unsellable,
            self._as_of,
            self.inbound,
            self.holds,
            self.next_expiry,
            self.flags,
            self.own_safety_stock,
            self.channel_safety_stock,
            self.thresholds,
            self.sales,
        ) = state
