"""Answers: calculator results as the JSON-ready dicts of ``POST /v1/promise``,
``POST /v1/promise/listing`` and ``GET /v1/availability`` (docs/api.md §6). Pure; the API reuses it.

Formats: ``ship_by`` and ``ready_at`` are local times with the location's offset (RFC 3339),
``deliver_by`` a date ``YYYY-MM-DD``, ``at`` UTC with ``Z``, ``distance_km`` rounded to 0.1 km.
Options follow the network file's order of service levels; pickup stores are nearest first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.promise.calculator import CartPromise, ItemPromise, Pickup
from engine.promise.calendar import local_time
from engine.promise.destination import Destination
from engine.promise.network import Network
from engine.timefmt import rfc3339


def _local(network: Network, location_id: str, seconds: int) -> str:
    zone = network.locations[network.index[location_id]].timezone
    return local_time(seconds, zone).isoformat()


def pickup_record(network: Network, found: Pickup) -> dict[str, Any]:
    """One pickup store: ``location_id, name, distance_km, atp, ready_at``."""
    return {
        "location_id": found.location_id,
        "name": network.locations[network.index[found.location_id]].name,
        "distance_km": round(found.distance_km, 1),
        "atp": found.atp,
        "ready_at": _local(network, found.location_id, found.ready_at),
    }


def item_record(network: Network, item: ItemPromise) -> dict[str, Any]:
    """One item: ``sku, qty, options [...], pickup [...]``."""
    return {
        "sku": item.sku,
        "qty": item.qty,
        "options": [
            {
                "service_level": o.service_level,
                "location_id": o.location_id,
                "ship_by": _local(network, o.location_id, o.ship_by),
                "deliver_by": o.deliver_by.isoformat(),
                "distance_km": round(o.distance_km, 1),
            }
            for o in item.options
        ],
        "pickup": [pickup_record(network, p) for p in item.pickup],
    }


def promise_answer(
    network: Network, cart: CartPromise, destination: Destination, at: datetime
) -> dict[str, Any]:
    """The body of ``POST /v1/promise``.

    ``cart.deliver_by`` holds, per service level every item can use, the day the last parcel of a
    split cart arrives; ``cart.single_location`` the one location that ships everything (or null).
    """
    single = cart.single_location
    return {
        "at": rfc3339(at),
        "destination": destination.record(),
        "items": [item_record(network, item) for item in cart.items],
        "cart": {
            "deliver_by": {name: day.isoformat() for name, day in cart.deliver_by.items()},
            "single_location": None
            if single is None
            else {
                "location_id": single.location_id,
                "distance_km": round(single.distance_km, 1),
                "deliver_by": {name: day.isoformat() for name, day in single.deliver_by.items()},
                "ship_by": {
                    name: _local(network, single.location_id, by)
                    for name, by in single.ship_by.items()
                },
            },
        },
    }


def listing_answer(
    skus: list[str], days: list[dict[str, Any]], destination: Destination, at: datetime
) -> dict[str, Any]:
    """The body of ``POST /v1/promise/listing``: per sku, ``deliver_by`` per service level."""
    return {
        "at": rfc3339(at),
        "destination": destination.record(),
        "skus": [
            {"sku": sku, "deliver_by": {name: day.isoformat() for name, day in found.items()}}
            for sku, found in zip(skus, days, strict=True)
        ],
    }


def availability_answer(
    network: Network, item: ItemPromise, destination: Destination, radius_km: float
) -> dict[str, Any]:
    """The body of ``GET /v1/availability/{sku}``: pickup stores with ``atp >= qty``."""
    return {
        "sku": item.sku,
        "qty": item.qty,
        "near": destination.record(),
        "radius_km": radius_km,
        "stores": [pickup_record(network, p) for p in item.pickup],
    }
