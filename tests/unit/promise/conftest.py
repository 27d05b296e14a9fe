"""A one-store network in New York (EST in November and December) for hand-worked cases."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.promise.answers import item_record
from engine.promise.calculator import Calculator
from engine.promise.destination import Destination
from engine.promise.network import load_network

NY = ZoneInfo("America/New_York")
STORE = {
    "id": "S1",
    "name": "Midtown",
    "kind": "store",
    "lat": 40.75,
    "lon": -73.99,
    "timezone": "America/New_York",
    "hours": {day: ["09:00", "21:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat")},
    "closed_dates": ["2026-12-25"],
    "ship": True,
    "pickup": True,
    "pick_minutes": 60,
    "ship_cutoff": "14:00",
}
NETWORK = {
    "locations": [STORE],
    "service_levels": [
        {
            "name": "standard",
            "transit_days": [[0, 300, 2], [300, 1000, 3]],
            "delivery_weekdays": ["mon", "tue", "wed", "thu", "fri"],
            "holidays": ["2026-11-26"],
        },
        {"name": "same_day", "max_km": 30, "order_cutoff": "12:00"},
    ],
}


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def raw_network() -> dict[str, Any]:
    return copy.deepcopy(NETWORK)


@pytest.fixture
def answer():
    """``answer(at, lat=..., lon=..., network=...)``: the item record for one unit of S1."""

    def ask(at, lat=40.76, lon=-73.98, network=None, atp=None):
        net = load_network(network or NETWORK)
        calc = Calculator(net)
        stock = calc.stock(atp or {loc.id: 5 for loc in net.locations})
        return item_record(net, calc.promise("A", 1, stock, Destination(lat, lon), at))

    return ask


def by_level(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["service_level"]: o for o in record["options"]}
