"""The delivery calculator: typed wrappers around the kernels, and the rolling horizon.

``Calculator(network)`` holds the precomputed ``Tables``; they cover ``horizon_days`` of order
dates plus ``lookahead_days`` in which ship, pickup and delivery days are searched, and are
rebuilt when an order instant falls outside the order dates (the horizon rolls). A new network
means a new ``Calculator``. Time is always an argument.

An order instant is rounded up to the whole second. A ship, pickup or delivery day more than
``lookahead_days`` after the order's local date is "not offered". Stock at locations the
network does not name is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from engine.promise import kernels
from engine.promise.calendar import Tables, build_tables, date_of_day, unit_vector
from engine.promise.destination import Destination
from engine.promise.errors import OutOfCalendarError
from engine.promise.network import Network

_LAST_EPOCH_DAY: Final = (date.max - date(1970, 1, 1)).days  # 9999-12-31

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
PICKUP_RADIUS_KM: Final = 50.0  # /v1/availability's default radius, used by /v1/promise too
PICKUP_LIMIT: Final = 10


@dataclass(frozen=True, slots=True)
class Stock:
    """Candidate locations (indices into ``network.locations``) and their ATP, for one sku."""

    loc: I64
    atp: I64


@dataclass(frozen=True, slots=True)
class Option:
    """The best way a service level can serve an item (``ship_by`` in epoch seconds)."""

    service_level: str
    location_id: str
    ship_by: int
    deliver_by: date
    distance_km: float


@dataclass(frozen=True, slots=True)
class Pickup:
    """A store where the item can be collected (``ready_at`` in epoch seconds)."""

    location_id: str
    distance_km: float
    atp: int
    ready_at: int


@dataclass(frozen=True, slots=True)
class ItemPromise:
    sku: str
    qty: int
    options: tuple[Option, ...]
    pickup: tuple[Pickup, ...]


@dataclass(frozen=True, slots=True)
class SingleLocation:
    """The one location that ships a whole cart, with its days per service level."""

    location_id: str
    distance_km: float
    deliver_by: dict[str, date]
    ship_by: dict[str, int]


@dataclass(frozen=True, slots=True)
class CartPromise:
    """Per item answers; per level the day a split cart arrives; the single-location answer."""

    items: tuple[ItemPromise, ...]
    deliver_by: dict[str, date]
    single_location: SingleLocation | None


def seconds_of(at: datetime) -> int:
    """An aware instant as epoch seconds, rounded up."""
    micros = (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return -(-micros // 1_000_000)


class Calculator:
    """Delivery promises over one network.

    Args:
        network: the validated network.
        horizon_days: order dates covered before the tables are rebuilt.
        lookahead_days: days after the last order date searched for ship and delivery days.
    """

    def __init__(self, network: Network, horizon_days: int = 60, lookahead_days: int = 90):
        self.network = network
        self.horizon_days = horizon_days
        self.lookahead_days = lookahead_days
        self._tables: Tables | None = None
        self._levels = [lvl.name for lvl in network.service_levels]
        self._ids = [loc.id for loc in network.locations]

    def tables(self, t: int) -> Tables:
        """The tables covering order instant ``t`` (epoch seconds), rebuilt when it rolls."""
        found = self._tables
        day = t // 86_400
        if found is None or not found.start_epoch_day < day <= found.start_epoch_day + (
            self.horizon_days
        ):
            days = self.horizon_days + self.lookahead_days + 2
            if day - 1 + days > _LAST_EPOCH_DAY:
                latest = date(1970, 1, 1) + timedelta(days=_LAST_EPOCH_DAY - days + 1)
                raise OutOfCalendarError(
                    f"promises cover orders up to {latest.isoformat()}: the calendars they search "
                    f"run {days} days ahead, and dates end at 9999-12-31"
                )
            start = date(1970, 1, 1) + timedelta(days=day - 1)
            found = build_tables(self.network, start, days, self.lookahead_days)
            self._tables = found
        return found

    def stock(self, atp_by_location: Mapping[str, int]) -> Stock:
        """Candidates from ``location_id -> atp`` (unknown locations are ignored)."""
        index = self.network.index
        pairs = sorted((index[lid], n) for lid, n in atp_by_location.items() if lid in index)
        return Stock(
            np.array([i for i, _ in pairs], dtype=np.int64),
            np.array([n for _, n in pairs], dtype=np.int64),
        )

    def promise(
        self,
        sku: str,
        qty: int,
        stock: Stock,
        destination: Destination,
        at: datetime,
        radius_km: float = PICKUP_RADIUS_KM,
        limit: int = PICKUP_LIMIT,
    ) -> ItemPromise:
        """The best option per service level and the pickup stores for one item.

        Args:
            sku, qty: the item; only locations with ``atp >= qty`` count.
            stock: candidate locations and their ATP.
            destination: where it goes (and where pickup distances are measured from).
            at: the order instant.
            radius_km, limit: pickup stores within this distance, at most ``limit``.
        """
        t = seconds_of(at)
        tb = self.tables(t)
        dest = np.array(unit_vector(destination.lat, destination.lon))
        best, best_km, pickup, pickup_km = kernels.promise_item(
            tb, dest, t, qty, stock.loc, stock.atp, float(radius_km), int(limit)
        )
        return self._item(tb, sku, qty, best, best_km, pickup, pickup_km)

    def _item(
        self,
        tb: Tables,
        sku: str,
        qty: int,
        best: I64,
        best_km: F64,
        pickup: I64,
        pickup_km: F64,
    ) -> ItemPromise:
        rows, kms = best.tolist(), best_km.tolist()  # plain ints: numpy scalars are slow
        options = tuple(
            Option(name, self._ids[loc], by, date_of_day(tb, day), km)
            for name, (loc, day, by), km in zip(self._levels, rows, kms, strict=True)
            if day >= 0
        )
        stores = tuple(
            Pickup(self._ids[loc], km, n, ready)
            for (loc, n, ready), km in zip(pickup.tolist(), pickup_km.tolist(), strict=True)
            if ready >= 0
        )
        return ItemPromise(sku, qty, options, stores)

    def listing(
        self, skus: Sequence[str], stocks: Sequence[Stock], destination: Destination, at: datetime
    ) -> list[dict[str, date]]:
        """Per sku, the earliest deliver day per service level, one unit each."""
        t = seconds_of(at)
        tb = self.tables(t)
        offsets, cand, atp = _packed(stocks)
        dest = np.array(unit_vector(destination.lat, destination.lon))
        day, _ = kernels.promise_listing(tb, dest, t, offsets, cand, atp)
        return [
            {
                self._levels[v]: date_of_day(tb, int(day[s, v]))
                for v in range(len(self._levels))
                if day[s, v] >= 0
            }
            for s in range(len(skus))
        ]

    def cart(
        self,
        items: Sequence[tuple[str, int]],
        stocks: Sequence[Stock],
        destination: Destination,
        at: datetime,
    ) -> CartPromise:
        """Per-item answers, the split-cart day per level, and the single-location answer.

        Args:
            items: ``(sku, qty)`` with distinct skus (merge repeated skus before calling).
            stocks: each item's candidates, in the same order.
        """
        answers = tuple(
            self.promise(sku, qty, stock, destination, at)
            for (sku, qty), stock in zip(items, stocks, strict=True)
        )
        split: dict[str, date] = {}
        for name in self._levels:
            days = [o.deliver_by for a in answers for o in a.options if o.service_level == name]
            if answers and len(days) == len(answers):
                split[name] = max(days)
        t = seconds_of(at)
        tb = self.tables(t)
        offsets, cand, atp = _packed(stocks)
        qty = np.array([q for _, q in items], dtype=np.int64)
        dest = np.array(unit_vector(destination.lat, destination.lon))
        best, day, by, dist = kernels.promise_single_location(tb, dest, t, offsets, cand, atp, qty)
        single = None
        if best >= 0 and answers:
            single = SingleLocation(
                self._ids[best],
                float(dist),
                {
                    n: date_of_day(tb, int(day[v]))
                    for v, n in enumerate(self._levels)
                    if day[v] >= 0
                },
                {n: int(by[v]) for v, n in enumerate(self._levels) if day[v] >= 0},
            )
        return CartPromise(answers, split, single)


def _packed(stocks: Iterable[Stock]) -> tuple[I64, I64, I64]:
    stocks = list(stocks)
    offsets = np.zeros(len(stocks) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(s.loc) for s in stocks])
    if not stocks:
        return offsets, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return (
        offsets,
        np.concatenate([s.loc for s in stocks]).astype(np.int64),
        np.concatenate([s.atp for s in stocks]).astype(np.int64),
    )


def warm() -> None:
    """Compile, or load from the on-disk cache, every kernel (call before reporting ready)."""
    from engine.promise.network import load_network  # noqa: PLC0415 - only needed here

    network = load_network(
        {
            "locations": [
                {
                    "id": "W",
                    "kind": "store",
                    "lat": 0.0,
                    "lon": 0.0,
                    "timezone": "UTC",
                    "hours": {"mon": ["09:00", "17:00"]},
                    "pick_minutes": 0,
                    "ship_cutoff": "12:00",
                }
            ],
            "service_levels": [
                {"name": "standard", "transit_days": [[0, 1000, 1]]},
                {"name": "same_day", "max_km": 1.0, "order_cutoff": "12:00"},
            ],
        }
    )
    calc = Calculator(network, horizon_days=1, lookahead_days=7)
    at = datetime(2026, 1, 5, tzinfo=UTC)
    here = Destination(0.0, 0.0)
    stock = calc.stock({"W": 1})
    calc.promise("x", 1, stock, here, at)
    calc.listing(["x"], [stock], here, at)
    calc.cart([("x", 1)], [stock], here, at)
