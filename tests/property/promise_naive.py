"""A plain-Python twin of docs/network.md, for differential tests and the benchmark.

Written for clarity, not speed: ``zoneinfo`` and ``datetime`` directly, day by day, nothing
shared with ``engine.promise``'s calendars or kernels (only the loaded ``Network``). Durations
(``pick_minutes``) are elapsed time, so arithmetic happens in UTC; local wall times are built
with ``fold=0`` as the engine documents. Answers have the shape of ``engine.promise.answers``.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.promise.network import Location, Network, ServiceLevel

LOOKAHEAD = 90  # the Calculator's default: later ship, pickup and delivery days are not offered


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def wall(loc: Location, day: date, minute: int) -> datetime:
    """The instant (UTC) of a local wall time at the location."""
    zone = ZoneInfo(loc.timezone)
    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
    return local.astimezone(UTC)


def works(loc: Location, day: date) -> bool:
    return loc.hours[day.weekday()] is not None and day not in loc.closed_dates


def opening(loc: Location, day: date) -> datetime:
    return wall(loc, day, loc.hours[day.weekday()][0])  # type: ignore[index]


def closing(loc: Location, day: date) -> datetime:
    return wall(loc, day, loc.hours[day.weekday()][1])  # type: ignore[index]


def today(loc: Location, t: datetime) -> date:
    return t.astimezone(ZoneInfo(loc.timezone)).date()


def ship_date(loc: Location, t: datetime) -> date | None:
    pick = timedelta(minutes=loc.pick_minutes)
    d = today(loc, t)
    if works(loc, d) and max(t, opening(loc, d)) + pick <= wall(loc, d, loc.ship_cutoff):
        return d
    for n in range(1, LOOKAHEAD + 1):
        e = d + timedelta(days=n)
        if works(loc, e) and opening(loc, e) + pick <= wall(loc, e, loc.ship_cutoff):
            return e
    return None


def delivery_day(level: ServiceLevel, day: date) -> bool:
    return day.weekday() in level.delivery_weekdays and day not in level.holidays


def deliver_date(level: ServiceLevel, ship: date, n: int, last: date) -> date | None:
    d, counted = ship, 0
    while d < last:
        d += timedelta(days=1)
        if delivery_day(level, d):
            counted += 1
            if counted == n:
                return d
    return None


def option(
    loc: Location, level: ServiceLevel, t: datetime, km: float
) -> tuple[date, datetime] | None:
    """(deliver_by, ship_by) of a level from a location, or None."""
    if not loc.ship:
        return None
    pick = timedelta(minutes=loc.pick_minutes)
    if level.same_day:
        d = today(loc, t)
        cutoff = wall(loc, d, level.order_cutoff)
        if (
            km <= level.max_km
            and works(loc, d)
            and delivery_day(level, d)
            and max(t, opening(loc, d)) + pick <= cutoff
        ):
            return d, cutoff
        return None
    ship = ship_date(loc, t)
    if ship is None:
        return None
    for low, high, n in level.bands:
        if low <= km < high:
            arrive = deliver_date(level, ship, n, today(loc, t) + timedelta(days=LOOKAHEAD))
            return None if arrive is None else (arrive, wall(loc, ship, loc.ship_cutoff))
    return None


def ready_at(loc: Location, t: datetime) -> datetime | None:
    pick = timedelta(minutes=loc.pick_minutes)
    d = today(loc, t)
    if works(loc, d):
        ready = max(t, opening(loc, d)) + pick
        if ready <= closing(loc, d):
            return ready
    for n in range(1, LOOKAHEAD + 1):
        e = d + timedelta(days=n)
        if works(loc, e):
            return opening(loc, e) + pick
    return None


def local_text(loc: Location, instant: datetime) -> str:
    return instant.astimezone(ZoneInfo(loc.timezone)).isoformat()


def naive_item(
    network: Network,
    sku: str,
    qty: int,
    atp: dict[str, int],
    lat: float,
    lon: float,
    t: datetime,
    radius_km: float = 50.0,
    limit: int = 10,
) -> dict[str, Any]:
    """One item's answer, as ``engine.promise.answers.item_record`` shapes it."""
    usable = [loc for loc in network.locations if atp.get(loc.id, 0) >= qty]
    km = {loc.id: haversine_km(loc.lat, loc.lon, lat, lon) for loc in usable}
    options = []
    for level in network.service_levels:
        found = []
        for loc in usable:
            got = option(loc, level, t, km[loc.id])
            if got is not None:
                found.append((got[0], km[loc.id], loc.id, got[1], loc))
        if found:
            arrive, dist, lid, by, loc = min(found, key=lambda f: (f[0], f[1], f[2]))
            options.append(
                {
                    "service_level": level.name,
                    "location_id": lid,
                    "ship_by": local_text(loc, by),
                    "deliver_by": arrive.isoformat(),
                    "distance_km": round(dist, 1),
                }
            )
    stores = sorted(
        (km[loc.id], loc.id, loc) for loc in usable if loc.pickup and km[loc.id] <= radius_km
    )
    pickup = []
    for dist, lid, loc in stores[:limit]:
        ready = ready_at(loc, t)
        if ready is not None:
            pickup.append(
                {
                    "location_id": lid,
                    "name": loc.name,
                    "distance_km": round(dist, 1),
                    "atp": atp[lid],
                    "ready_at": local_text(loc, ready),
                }
            )
    return {"sku": sku, "qty": qty, "options": options, "pickup": pickup}


def naive_single_location(
    network: Network,
    items: list[tuple[int, dict[str, int]]],
    lat: float,
    lon: float,
    t: datetime,
) -> tuple[str, dict[str, str]] | None:
    """The location that ships every item of a cart: earliest day on the first level, then the
    next levels, then distance, then id; with its ``deliver_by`` per level."""
    ranked = []
    never = date.max
    for loc in network.locations:
        if not loc.ship or any(atp.get(loc.id, 0) < qty for qty, atp in items):
            continue
        km = haversine_km(loc.lat, loc.lon, lat, lon)
        days = [option(loc, level, t, km) for level in network.service_levels]
        key = tuple(never if d is None else d[0] for d in days)
        per_level = {
            level.name: d[0].isoformat()
            for level, d in zip(network.service_levels, days, strict=True)
            if d is not None
        }
        ranked.append((key, km, loc.id, per_level))
    if not ranked:
        return None
    best = min(ranked, key=lambda r: (r[0], r[1], r[2]))
    return best[2], best[3]
