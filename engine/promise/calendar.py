"""Precomputed calendars: the network's rules of docs/network.md as arrays the kernels read.

A ``Tables`` covers ``days`` consecutive civil dates from ``start`` (day index 0). Day-by-location
tables are day-major (``[field, day, location]``), so a kernel walking the locations of one day
reads memory in order. Instants are epoch seconds (int64), days are indices into the horizon.

Per location and day (``DAY_FIELDS``):

- ``OPEN``, ``CLOSE``: opening and closing instants (meaningful on working days).
- ``SHIP_DEADLINE``: the latest order instant that still ships that day
  (``ship_cutoff - pick_minutes``), or ``NO`` when the location cannot ship that day.
- ``CUTOFF``: the ship cut-off instant (``ship_by``).
- ``NEXT_SHIP``: the first day from this one on which the location can ship, or -1.
- ``PICK_DEADLINE``: the latest order instant ready for pickup the same day, or ``NO``.
- ``NEXT_WORK``: the first working day from this one on, or -1.
- then for each same-day level: its order deadline (``order_cutoff - pick_minutes``, or ``NO``)
  and its ``order_cutoff`` instant.

Per service level: ``deliver_count[v, d]`` counts delivery days up to and including day ``d``, and
``nth_day[v, m]`` is the day of the m-th delivery day (from 1), so the N-th delivery day after a
ship day ``s`` is ``nth_day[v, deliver_count[v, s] + N]``.

Local times go through ``zoneinfo`` with ``fold=0``: a time skipped by a daylight-saving change
moves forward by the gap, a repeated one means its first occurrence.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from engine.promise.network import Network

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

NO: Final = -(2**62)  # a deadline no instant meets
EARTH_KM: Final = 6371.0088
OPEN, CLOSE, SHIP_DEADLINE, CUTOFF, NEXT_SHIP, PICK_DEADLINE, NEXT_WORK = range(7)
DAY_FIELDS: Final = 7  # then two per same-day level
ZONE, PICK_S, SHIPS, PICKS = range(4)  # columns of ``loc_info``
SAME_DAY, N_BANDS, SD_FIELD = range(3)  # columns of ``level_info``
MAX_BANDS: Final = 16
MAX_TRANSIT: Final = 60


class Tables(NamedTuple):
    """Everything the kernels read, for one network and one horizon."""

    start_epoch_day: int  # day index 0 as days since 1970-01-01
    days: int
    lookahead: int  # days after an order's local date beyond which nothing is offered
    midnight: I64  # [zone, day + 1] local midnight instants
    loc_xyz: F64  # [location, 3] unit vectors
    loc_info: I64  # [location, 4] zone, pick seconds, ships, picks
    day_table: I64  # [field, day + 1, location]
    level_info: I64  # [level, 3] same day?, number of bands, same-day deadline field
    level_km: F64  # [level] max_km of same-day levels
    bands: F64  # [level, MAX_BANDS, 3] from_km, to_km, days
    deliver_count: I64  # [level, day]
    nth_day: I64  # [level, day + MAX_TRANSIT + 2]


def unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    """The point on the unit sphere; chord length c gives the distance 2R asin(c/2)."""
    phi, lam = math.radians(lat), math.radians(lon)
    return (math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi))


def build_tables(network: Network, start: date, days: int, lookahead: int) -> Tables:
    """Precompute the calendars of ``network`` for ``days`` dates from ``start``.

    Args:
        network: a validated network.
        start: the civil date of day index 0.
        days: the number of dates covered.
        lookahead: ship, pickup and delivery days more than this many days after an order's
            local date are not offered (the caller keeps orders ``lookahead`` days from the end).

    Returns:
        The tables.
    """
    locations = network.locations
    count = len(locations)
    dates = [start + timedelta(days=k) for k in range(days + 1)]
    weekday = np.array([d.weekday() for d in dates[:days]], dtype=np.int64)
    index_of = {d: k for k, d in enumerate(dates[:days])}
    zones = sorted({loc.timezone for loc in locations})
    zone_index = {name: z for z, name in enumerate(zones)}
    same_day = [lvl for lvl in network.service_levels if lvl.same_day]
    local = _LocalTimes(zones, dates)
    midnight = np.array([local.column(name, 0) for name in zones], dtype=np.int64)

    fields = DAY_FIELDS + 2 * len(same_day)
    table = np.full((fields, days + 1, count), NO, dtype=np.int64)
    table[NEXT_SHIP, days] = table[NEXT_WORK, days] = -1
    loc_info = np.zeros((count, 4), dtype=np.int64)
    loc_xyz = np.zeros((count, 3), dtype=np.float64)
    level_deliver = [
        _delivery_days(lvl.delivery_weekdays, lvl.holidays, weekday, index_of)
        for lvl in network.service_levels
    ]
    for i, loc in enumerate(locations):
        pick = loc.pick_minutes * 60
        loc_info[i] = (zone_index[loc.timezone], pick, loc.ship, loc.pickup)
        loc_xyz[i] = unit_vector(loc.lat, loc.lon)
        hours = [span or (0, 0) for span in loc.hours]
        works = np.array([loc.hours[w] is not None for w in weekday], dtype=bool)
        for day in loc.closed_dates:
            if day in index_of:
                works[index_of[day]] = False
        opening = local.at(loc.timezone, np.array([hours[w][0] for w in weekday]))
        closing = local.at(loc.timezone, np.array([hours[w][1] for w in weekday]))
        cutoff = local.at(loc.timezone, np.full(days, loc.ship_cutoff))
        ships = works & loc.ship & (opening + pick <= cutoff)
        picks = works & loc.pickup & (opening + pick <= closing)
        table[OPEN, :days, i] = opening
        table[CLOSE, :days, i] = closing
        table[CUTOFF, :days, i] = cutoff
        table[SHIP_DEADLINE, :days, i] = np.where(ships, cutoff - pick, NO)
        table[PICK_DEADLINE, :days, i] = np.where(picks, closing - pick, NO)
        table[NEXT_SHIP, :days, i] = _next_true(ships)
        table[NEXT_WORK, :days, i] = _next_true(works)
        for j, lvl in enumerate(same_day):
            order_cutoff = local.at(loc.timezone, np.full(days, lvl.order_cutoff))
            deliverable = level_deliver[network.service_levels.index(lvl)]
            ok = works & loc.ship & deliverable & (opening + pick <= order_cutoff)
            table[DAY_FIELDS + 2 * j, :days, i] = np.where(ok, order_cutoff - pick, NO)
            table[DAY_FIELDS + 2 * j + 1, :days, i] = order_cutoff

    levels = network.service_levels
    level_info = np.zeros((len(levels), 3), dtype=np.int64)
    level_km = np.zeros(len(levels), dtype=np.float64)
    bands = np.zeros((len(levels), MAX_BANDS, 3), dtype=np.float64)
    deliver_count = np.zeros((len(levels), days), dtype=np.int64)
    nth_day = np.full((len(levels), days + MAX_TRANSIT + 2), -1, dtype=np.int64)
    for v, lvl in enumerate(levels):
        if lvl.same_day:
            level_info[v] = (1, 0, DAY_FIELDS + 2 * same_day.index(lvl))
            level_km[v] = lvl.max_km
        else:
            level_info[v] = (0, len(lvl.bands[:MAX_BANDS]), 0)
            bands[v, : len(lvl.bands[:MAX_BANDS])] = lvl.bands[:MAX_BANDS]
        deliverable = level_deliver[v]
        deliver_count[v] = np.cumsum(deliverable)
        positions = np.flatnonzero(deliverable)
        nth_day[v, 1 : 1 + len(positions)] = positions
    epoch_day = (start - date(1970, 1, 1)).days
    return Tables(
        epoch_day,
        days,
        lookahead,
        midnight,
        loc_xyz,
        loc_info,
        table,
        level_info,
        level_km,
        bands,
        deliver_count,
        nth_day,
    )


def _delivery_days(
    weekdays: frozenset[int], holidays: frozenset[date], weekday: I64, index_of: dict[date, int]
) -> npt.NDArray[np.bool_]:
    deliverable = np.isin(weekday, sorted(weekdays))
    for day in holidays:
        if day in index_of:
            deliverable[index_of[day]] = False
    return deliverable


def _next_true(mask: npt.NDArray[np.bool_]) -> I64:
    """For each day, the first day from it on where ``mask`` holds, or -1."""
    days = len(mask)
    first = np.where(mask, np.arange(days), days)
    first = np.minimum.accumulate(first[::-1])[::-1]
    return np.where(first == days, -1, first).astype(np.int64)


class _LocalTimes:
    """Local wall times to instants, one ``zoneinfo`` call per (zone, date, minute) met."""

    def __init__(self, zones: list[str], dates: list[date]) -> None:
        self.dates = dates
        self.zones = {name: ZoneInfo(name) for name in zones}
        self.columns: dict[tuple[str, int], I64] = {}

    def column(self, zone: str, minute: int) -> I64:
        """The instants of ``minute`` on every date (one more date than the horizon)."""
        key = (zone, minute)
        found = self.columns.get(key)
        if found is None:
            tz = self.zones[zone]
            hour, rest = divmod(minute, 60)
            found = self.columns[key] = np.array(
                [
                    int(datetime(d.year, d.month, d.day, hour, rest, tzinfo=tz).timestamp())
                    for d in self.dates
                ],
                dtype=np.int64,
            )
        return found

    def at(self, zone: str, minute_by_day: I64) -> I64:
        """The instants of a per-day minute of the day, over the horizon."""
        days = len(minute_by_day)
        out = np.empty(days, dtype=np.int64)
        for minute in np.unique(minute_by_day):
            where = minute_by_day == minute
            out[where] = self.column(zone, int(minute))[:days][where]
        return out


def epoch_day_of(seconds: int) -> int:
    """The UTC date of an instant, as days since 1970-01-01."""
    return seconds // 86_400


_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


def date_of_day(tables: Tables, day: int) -> date:
    """The civil date of a day index."""
    return date.fromordinal(_EPOCH_ORDINAL + tables.start_epoch_day + day)


def local_time(seconds: int, zone: str) -> datetime:
    """An instant as an aware datetime in ``zone``."""
    return datetime.fromtimestamp(seconds, UTC).astimezone(ZoneInfo(zone))
