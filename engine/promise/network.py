"""The delivery network file (docs/network.md): loading and validation.

``load_network`` takes the parsed JSON (or its bytes) and returns a frozen ``Network``, or raises
one ``NetworkError`` listing every mistake, each naming its place (``locations[3] (S001)``) and
field (``hours.mon``). Reading the file is the caller's job: this module does no I/O beyond the
time-zone database.

Choices where the contract is silent:

- Locations are kept sorted by ``id`` (code-point order), so an index order is an id order.
- A weekday missing from ``hours`` is closed, as is one given as ``null``.
- ``name`` defaults to the id, ``closed_dates`` to none, ``ship`` to true, ``pickup`` to true for
  a store; a distribution centre (``kind: "dc"``) never serves pickup.
- A service level has either ``transit_days`` (shipped, banded by distance) or ``max_km`` and
  ``order_cutoff`` (same day). Bands may come in any order and leave gaps (a distance no band
  holds is not offered, docs/network.md), but may not overlap: one distance, one ``N``. ``N``
  is 1 to 60 (0 would deliver before the count starts, the day after the ship date).
- ``delivery_weekdays`` defaults to mon-fri for banded levels and to every day for same-day
  levels, whose day must also be a delivery day (not one of their ``holidays``).
- Unknown fields are mistakes, so a misspelt field is never silently ignored.
- ``regions`` (optional, the promise table's destinations: docs/network.md §2.1) are points
  with ids; kept in file order, ids unique.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from engine.promise.errors import NetworkError, Problem

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PICKUP: Final = "pickup"  # the name answers give pickup; no service level may take it
_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}\Z")
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)\Z")
_LOCATION_FIELDS: Final = frozenset(
    [
        "id",
        "name",
        "kind",
        "lat",
        "lon",
        "timezone",
        "hours",
        "closed_dates",
        "ship",
        "pickup",
        "pick_minutes",
        "ship_cutoff",
    ]
)
_REGION_FIELDS: Final = frozenset(["id", "lat", "lon"])
_LEVEL_FIELDS: Final = frozenset(
    ["name", "transit_days", "delivery_weekdays", "holidays", "max_km", "order_cutoff"]
)


@dataclass(frozen=True, slots=True)
class Location:
    """A store or distribution centre. Times are minutes after local midnight."""

    id: str
    name: str
    kind: str
    lat: float
    lon: float
    timezone: str
    hours: tuple[tuple[int, int] | None, ...]  # mon..sun: (open, close) or closed
    closed_dates: frozenset[date]
    ship: bool
    pickup: bool
    pick_minutes: int
    ship_cutoff: int  # minutes; unused when ``ship`` is false


@dataclass(frozen=True, slots=True)
class ServiceLevel:
    """A shipped service level: banded transit days, or same day within ``max_km``."""

    name: str
    bands: tuple[tuple[float, float, int], ...]  # (from_km, to_km, N); empty for same day
    delivery_weekdays: frozenset[int]  # 0 = Monday
    holidays: frozenset[date]
    max_km: float = 0.0
    order_cutoff: int = 0  # minutes, same day only

    @property
    def same_day(self) -> bool:
        return not self.bands


@dataclass(frozen=True, slots=True)
class Region:
    """A destination the promise table keeps answers for (a 3-digit ZIP region, say)."""

    id: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Network:
    """A validated network: locations sorted by id, service levels and regions in file order."""

    locations: tuple[Location, ...]
    service_levels: tuple[ServiceLevel, ...]
    regions: tuple[Region, ...] = ()
    index: dict[str, int] = field(compare=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.index.update({loc.id: i for i, loc in enumerate(self.locations)})


def load_network(data: dict[str, Any] | bytes | str) -> Network:
    """Validate a network file.

    Args:
        data: the parsed JSON object, or its text.

    Returns:
        The network, locations sorted by id.

    Raises:
        NetworkError: listing every mistake, each with its place and field.
    """
    if not isinstance(data, dict):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise NetworkError([Problem("the file", "-", f"is not JSON: {exc}")]) from None
    check = _Checker()
    if not isinstance(data, dict):
        check.fail("the file", "-", "must be a JSON object with locations and service_levels")
        raise NetworkError(check.problems)
    check.unknown("the file", data, {"locations", "service_levels", "regions"})
    raw_locations = data.get("locations")
    if not isinstance(raw_locations, list) or not raw_locations:
        check.fail("the file", "locations", "give a non-empty list of locations")
        raw_locations = []
    raw_levels = data.get("service_levels", [])
    if not isinstance(raw_levels, list):
        check.fail("the file", "service_levels", "give a list (it may be empty)")
        raw_levels = []
    raw_regions = data.get("regions", [])
    if not isinstance(raw_regions, list):
        check.fail("the file", "regions", "give a list of {id, lat, lon} (it may be empty)")
        raw_regions = []
    locations = [check.location(i, raw) for i, raw in enumerate(raw_locations)]
    levels = [check.level(i, raw) for i, raw in enumerate(raw_levels)]
    regions = [check.region(i, raw) for i, raw in enumerate(raw_regions)]
    check.duplicates("locations", [_text(raw, "id") for raw in raw_locations])
    check.duplicates("service_levels", [_text(raw, "name") for raw in raw_levels])
    check.duplicates("regions", [_text(raw, "id") for raw in raw_regions])
    if check.problems:
        raise NetworkError(check.problems)
    return Network(
        tuple(sorted((loc for loc in locations if loc), key=lambda loc: loc.id)),
        tuple(lvl for lvl in levels if lvl),
        tuple(region for region in regions if region),
    )


def _text(raw: Any, name: str) -> str | None:
    value = raw.get(name) if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def minutes(text: Any) -> int | None:
    """``"14:05"`` -> 845, or ``None`` when not ``HH:MM`` (00:00 to 23:59)."""
    found = _HHMM.match(text) if isinstance(text, str) else None
    return int(found[1]) * 60 + int(found[2]) if found else None


class _Checker:
    """Collects problems while building locations and levels."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, where: str, name: str, message: str) -> None:
        self.problems.append(Problem(where, name, message))

    def unknown(self, where: str, raw: dict[str, Any], known: frozenset[str] | set[str]) -> None:
        for name in sorted(set(raw) - known):
            self.fail(where, name, f"unknown field; known fields are {', '.join(sorted(known))}")

    def duplicates(self, kind: str, ids: list[str | None]) -> None:
        seen: dict[str, int] = {}
        for i, ident in enumerate(ids):
            if ident is None:
                continue
            if ident in seen:
                what = "name" if kind == "service_levels" else "id"
                self.fail(
                    f"{kind}[{i}] ({ident})",
                    what,
                    f"duplicate {what}: {kind}[{seen[ident]}] has it too; make them unique",
                )
            else:
                seen[ident] = i

    def time(self, where: str, name: str, raw: Any) -> int:
        value = minutes(raw)
        if value is None:
            self.fail(where, name, f"{raw!r} is not a local time HH:MM (00:00 to 23:59)")
            return 0
        return value

    def number(self, where: str, name: str, raw: Any, low: float, high: float) -> float:
        ok = isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw)
        if not ok or not low <= raw <= high:
            self.fail(where, name, f"{raw!r} is not a number from {low:g} to {high:g}")
            return 0.0
        return float(raw)

    def dates(self, where: str, name: str, raw: Any) -> frozenset[date]:
        if not isinstance(raw, list):
            self.fail(where, name, "give a list of dates YYYY-MM-DD")
            return frozenset()
        found = set()
        for j, text in enumerate(raw):
            try:
                found.add(date.fromisoformat(text) if isinstance(text, str) else date.min)
                if not isinstance(text, str) or len(text) != 10:
                    raise ValueError
            except ValueError:
                self.fail(where, f"{name}[{j}]", f"{text!r} is not a date YYYY-MM-DD")
        return frozenset(found)

    def flag(self, where: str, raw: dict[str, Any], name: str, default: bool) -> bool:
        value = raw.get(name, default)
        if not isinstance(value, bool):
            self.fail(where, name, f"{value!r} is not true or false")
            return default
        return value

    def weekdays(self, where: str, raw: Any) -> frozenset[int]:
        if not isinstance(raw, list) or any(day not in WEEKDAYS for day in raw):
            self.fail(where, "delivery_weekdays", f"give a list of {', '.join(WEEKDAYS)}")
            return frozenset()
        return frozenset(WEEKDAYS.index(day) for day in raw)

    def location(self, i: int, raw: Any) -> Location | None:
        if not isinstance(raw, dict):
            self.fail(f"locations[{i}]", "-", "must be an object")
            return None
        ident = raw.get("id")
        where = f"locations[{i}] ({ident})" if isinstance(ident, str) else f"locations[{i}]"
        before = len(self.problems)
        self.unknown(where, raw, _LOCATION_FIELDS)
        if not isinstance(ident, str) or not _ID.match(ident):
            self.fail(where, "id", f"{ident!r} is not 1-64 chars of A-Z a-z 0-9 _ . -")
        name = raw.get("name", ident)
        if not isinstance(name, str) or not name:
            self.fail(where, "name", "give a non-empty text")
        kind = raw.get("kind")
        if kind not in {"store", "dc"}:
            self.fail(where, "kind", f"{kind!r} is neither 'store' nor 'dc'")
        lat = self.number(where, "lat", raw.get("lat"), -90, 90)
        lon = self.number(where, "lon", raw.get("lon"), -180, 180)
        zone = raw.get("timezone")
        try:
            ZoneInfo(zone if isinstance(zone, str) else "")
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(where, "timezone", f"unknown time zone {zone!r}: give an IANA name")
        hours = self.hours(where, raw.get("hours"))
        closed = self.dates(where, "closed_dates", raw.get("closed_dates", []))
        ship = self.flag(where, raw, "ship", True)
        pickup = self.flag(where, raw, "pickup", kind == "store")
        if pickup and kind == "dc":
            self.fail(where, "pickup", "a distribution centre (kind dc) serves no pickup")
        pick: Any = raw.get("pick_minutes")
        if not isinstance(pick, int) or isinstance(pick, bool) or not 0 <= pick <= 10_080:
            self.fail(where, "pick_minutes", f"{pick!r} is not whole minutes from 0 to 10080")
        cutoff = self.time(where, "ship_cutoff", raw.get("ship_cutoff")) if ship else 0
        if len(self.problems) > before:
            return None
        return Location(
            str(ident),
            str(name),
            str(kind),
            lat,
            lon,
            str(zone),
            hours,
            closed,
            ship,
            pickup,
            int(pick),
            cutoff,
        )

    def region(self, i: int, raw: Any) -> Region | None:
        if not isinstance(raw, dict):
            self.fail(f"regions[{i}]", "-", "must be an object {id, lat, lon}")
            return None
        ident = raw.get("id")
        where = f"regions[{i}] ({ident})" if isinstance(ident, str) else f"regions[{i}]"
        before = len(self.problems)
        self.unknown(where, raw, _REGION_FIELDS)
        if not isinstance(ident, str) or not _ID.match(ident):
            self.fail(where, "id", f"{ident!r} is not 1-64 chars of A-Z a-z 0-9 _ . -")
        lat = self.number(where, "lat", raw.get("lat"), -90, 90)
        lon = self.number(where, "lon", raw.get("lon"), -180, 180)
        return Region(str(ident), lat, lon) if len(self.problems) == before else None

    def hours(self, where: str, raw: Any) -> tuple[tuple[int, int] | None, ...]:
        if not isinstance(raw, dict):
            self.fail(where, "hours", "give an object of weekday -> [open, close] or null")
            return (None,) * 7
        self.unknown(where, raw, set(WEEKDAYS))
        week: list[tuple[int, int] | None] = []
        for day in WEEKDAYS:
            span = raw.get(day)
            if span is None:
                week.append(None)
                continue
            if not isinstance(span, list) or len(span) != 2:
                self.fail(where, f"hours.{day}", f"{span!r} is not [open, close] or null")
                week.append(None)
                continue
            opening = self.time(where, f"hours.{day}", span[0])
            closing = self.time(where, f"hours.{day}", span[1])
            both_read = minutes(span[0]) is not None and minutes(span[1]) is not None
            if both_read and opening >= closing:
                self.fail(
                    where,
                    f"hours.{day}",
                    f"opening {span[0]} is not before closing {span[1]}: hours are out of order",
                )
            week.append((opening, closing))
        return tuple(week)

    def level(self, i: int, raw: Any) -> ServiceLevel | None:
        if not isinstance(raw, dict):
            self.fail(f"service_levels[{i}]", "-", "must be an object")
            return None
        name = raw.get("name")
        where = f"service_levels[{i}] ({name})" if isinstance(name, str) else f"service_levels[{i}]"
        before = len(self.problems)
        self.unknown(where, raw, _LEVEL_FIELDS)
        if not isinstance(name, str) or not _ID.match(name) or name == PICKUP:
            self.fail(where, "name", f"{name!r} must be an identifier other than 'pickup'")
        holidays = self.dates(where, "holidays", raw.get("holidays", []))
        banded = "transit_days" in raw
        if banded == ("max_km" in raw):
            self.fail(where, "transit_days", "give either transit_days or max_km, not both")
            return None
        every = list(WEEKDAYS) if not banded else list(WEEKDAYS[:5])
        weekdays = self.weekdays(where, raw.get("delivery_weekdays", every))
        if banded:
            bands = self.bands(where, raw["transit_days"])
            level = ServiceLevel(str(name), bands, weekdays, holidays)
        else:
            max_km = self.number(where, "max_km", raw["max_km"], 0, 100_000)
            cutoff = self.time(where, "order_cutoff", raw.get("order_cutoff"))
            level = ServiceLevel(str(name), (), weekdays, holidays, max_km, cutoff)
        return level if len(self.problems) == before else None

    def bands(self, where: str, raw: Any) -> tuple[tuple[float, float, int], ...]:
        if not isinstance(raw, list) or not 1 <= len(raw) <= 16:
            self.fail(where, "transit_days", "give 1 to 16 bands [from_km, to_km, days]")
            return ()
        bands: list[tuple[float, float, int]] = []
        for j, band in enumerate(raw):
            name = f"transit_days[{j}]"
            if not isinstance(band, list) or len(band) != 3:
                self.fail(where, name, f"{band!r} is not [from_km, to_km, days]")
                return ()
            low = self.number(where, name, band[0], 0, math.inf)
            high = self.number(where, name, band[1], 0, math.inf)
            days = band[2]
            if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 60:
                self.fail(where, name, f"days {days!r} is not whole days from 1 to 60")
            if low >= high:
                self.fail(where, name, f"from_km {band[0]} is not below to_km {band[1]}")
            bands.append((low, high, days if isinstance(days, int) else 0))
        # Gaps are allowed (docs/network.md: where no band holds a distance, the level is not
        # offered from there) and so is any order; two bands may not share a distance.
        ordered = sorted(range(len(bands)), key=lambda j: bands[j][0])
        for before, j in itertools.pairwise(ordered):
            if bands[j][0] < bands[before][1]:
                self.fail(
                    where,
                    f"transit_days[{j}]",
                    f"overlaps transit_days[{before}]: starts at {bands[j][0]:g} km, "
                    f"which ends at {bands[before][1]:g} km",
                )
        bands = [bands[j] for j in ordered]
        return tuple(bands)
