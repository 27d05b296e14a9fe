"""The workload on the built-in network (``workload.builtin``): its stores, DCs and skus.

``network_catalogue`` takes the store ids of ``generate_network(stores, seed)`` (``S0001``...,
in real US cities drawn by population), its DCs (``DC01``...) and the demo's sku names
(``SKU000001``..., best seller first, which the generator's Zipf ranks shuffle like any ids).
A store's traffic weight is its city's population divided by the number of the network's
stores in that city: a city with several stores shares its population equally between them,
so each city draws traffic in proportion to its population, however many stores it has. Each
store's time zone is its city's (IANA), for local timestamps and the daily curve.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from .builtin import DC_CITIES, sku_names, store_cities
from .params import Catalogue, WorkloadParams

NETWORK_STORES, NETWORK_SEED, NETWORK_SKUS = 50, 7, 20_000


def network_catalogue(
    stores: int = NETWORK_STORES, skus: int = NETWORK_SKUS, seed: int = NETWORK_SEED
) -> Catalogue:
    """The ids, store weights (city population, shared) and zones of the built-in network."""
    cities = store_cities(stores, seed)
    per_city = Counter(city["geonameid"] for city in cities.values())
    return Catalogue(
        stores=tuple(cities),
        dcs=tuple(f"DC{n:02d}" for n in range(1, len(DC_CITIES) + 1)),
        skus=tuple(sku_names(skus)),
        store_weights=tuple(
            city["population"] / per_city[city["geonameid"]] for city in cities.values()
        ),
        store_zones=tuple(city["timezone"] for city in cities.values()),
    )


def network_workload(
    params: WorkloadParams | None = None,
    *,
    stores: int = NETWORK_STORES,
    skus: int = NETWORK_SKUS,
    network_seed: int = NETWORK_SEED,
    daily_curve: bool = True,
) -> tuple[WorkloadParams, Catalogue]:
    """``params`` (events, seed, rate...) on the built-in network: the parameters with its
    sizes and the daily curve (on by default), and its catalogue. Pass both to ``generate``."""
    cat = network_catalogue(stores, skus, network_seed)
    sized = dataclasses.replace(
        params or WorkloadParams(),
        stores=len(cat.stores),
        dcs=len(cat.dcs),
        skus=len(cat.skus),
        daily_curve=daily_curve,
    )
    return sized, cat


def describe(params: WorkloadParams, network_seed: int | None = NETWORK_SEED) -> dict[str, Any]:
    """The workload's parameters, for a results file (``network_seed`` None: numbered ids)."""
    shown = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    del shown["mix"]
    if network_seed is None:
        return {"catalogue": "numbered", "store_weights": "zipf", **shown}
    return {
        "catalogue": "built-in network",
        "network_seed": network_seed,
        "store_weights": "city population",
        **shown,
    }
