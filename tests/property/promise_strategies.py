"""Hypothesis strategies for delivery networks, order instants, stock and destinations."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

ZONES = (
    "America/Phoenix",
    "America/New_York",
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Chicago",
    "America/Los_Angeles",
)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# DST starts and ends in the US, year ends, a Thanksgiving week
ANCHORS = (
    datetime(2026, 3, 8, 10, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
    datetime(2026, 12, 31, 12, 0, tzinfo=UTC),
    datetime(2027, 1, 1, 8, 0, tzinfo=UTC),
    datetime(2026, 11, 25, 18, 0, tzinfo=UTC),
    datetime(2027, 3, 14, 10, 0, tzinfo=UTC),
)

# times around the small hours on purpose: DST changes skip or repeat 01:00-03:00
clock = st.sampled_from([0, 30, 60, 90, 120, 150, 180, 420, 540, 600, 720, 840, 960, 1260, 1410])


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def hours(draw: st.DrawFn) -> dict[str, Any]:
    week: dict[str, Any] = {}
    for day in DAYS:
        if draw(st.booleans()) and draw(st.booleans()):  # closed a quarter of the days
            week[day] = None
            continue
        a, b = sorted(draw(st.lists(clock, min_size=2, max_size=2, unique=True)))
        week[day] = [hhmm(a), hhmm(b)]
    return week


def near_dates(around: date) -> st.SearchStrategy[list[str]]:
    offset = st.integers(-2, 12).map(lambda n: (around + timedelta(days=n)).isoformat())
    return st.lists(offset, max_size=3, unique=True)


@st.composite
def location(draw: st.DrawFn, ident: str, around: date) -> dict[str, Any]:
    kind = draw(st.sampled_from(["store", "store", "dc"]))
    return {
        "id": ident,
        "kind": kind,
        "lat": draw(st.floats(18, 62)),
        "lon": draw(st.floats(-160, -66)),
        "timezone": draw(st.sampled_from(ZONES)),
        "hours": draw(hours()),
        "closed_dates": draw(near_dates(around)),
        "ship": draw(st.booleans()) or kind == "dc",
        "pickup": kind == "store" and draw(st.booleans()),
        "pick_minutes": draw(st.sampled_from([0, 15, 60, 240, 600])),
        "ship_cutoff": hhmm(draw(clock)),
    }


@st.composite
def level(draw: st.DrawFn, name: str, around: date) -> dict[str, Any]:
    weekdays = draw(st.lists(st.sampled_from(DAYS), unique=True))
    if name == "same_day":
        return {
            "name": name,
            "max_km": draw(st.sampled_from([0, 50, 500, 20100])),
            "order_cutoff": hhmm(draw(clock)),
            "delivery_weekdays": weekdays,
            "holidays": draw(near_dates(around)),
        }
    edges = sorted(draw(st.lists(st.integers(1, 5000), max_size=3, unique=True)))
    stops = [0, *edges, draw(st.sampled_from([6000, 20100]))]
    bands = [[a, b, draw(st.integers(1, 5))] for a, b in itertools.pairwise(stops)]
    # Gaps and any order are allowed (docs/network.md): drop some bands, keep one, shuffle.
    kept = draw(st.lists(st.booleans(), min_size=len(bands), max_size=len(bands)))
    bands = [band for band, keep in zip(bands, kept, strict=True) if keep] or bands[:1]
    bands = draw(st.permutations(bands))
    return {
        "name": name,
        "transit_days": bands,
        "delivery_weekdays": weekdays,
        "holidays": draw(near_dates(around)),
    }


@st.composite
def scenario(draw: st.DrawFn) -> dict[str, Any]:
    """A network, an order instant, stock for one sku, a destination and a quantity."""
    anchor = draw(st.sampled_from(ANCHORS))
    at = anchor + timedelta(seconds=draw(st.integers(-3 * 86_400, 3 * 86_400)))
    around = at.date()
    count = draw(st.integers(1, 6))
    ids = [f"L{n}" for n in draw(st.permutations(range(count)))]
    names = draw(st.lists(st.sampled_from(["standard", "express", "same_day"]), unique=True))
    network = {
        "locations": [draw(location(ident, around)) for ident in ids],
        "service_levels": [draw(level(name, around)) for name in names],
    }
    if draw(st.booleans()):  # two locations at one point: ties go to the smaller id
        network["locations"][-1]["lat"] = network["locations"][0]["lat"]
        network["locations"][-1]["lon"] = network["locations"][0]["lon"]
    lat, lon = draw(st.floats(18, 62)), draw(st.floats(-160, -66))
    if draw(st.booleans()):  # a destination near a location: same day and pickup in reach
        near = draw(st.sampled_from(network["locations"]))
        lat = near["lat"] + draw(st.floats(-0.5, 0.5))
        lon = near["lon"] + draw(st.floats(-0.5, 0.5))
    return {
        "network": network,
        "at": at,
        "atp": {ident: draw(st.integers(0, 3)) for ident in ids},
        "qty": draw(st.integers(1, 3)),
        "lat": lat,
        "lon": lon,
        "radius_km": draw(st.sampled_from([50.0, 20100.0])),
    }
