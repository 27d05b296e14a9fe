"""The live page at ``/`` (docs/demo.md): static HTML, CSS and JavaScript shipped in
``api/static``, and the one thing the public API cannot tell a page, ``GET /page/setup``.

The page reads and writes through the public routes only (``/v1/promise``, ``/v1/availability``
inside it, ``/v1/promise/stream``, ``/v1/atp/query``, ``/v1/alerts`` and its stream,
``/v1/reservations``, ``/v1/health``), so it works in both modes, embedded and Kafka.
``/page/setup`` is its starting point, read from this replica's read model and network:

- ``products``: skus with a position (at most ``MAX_PRODUCTS``, the best stocked near the
  default destination first, then by id); kits are left out (they have no positions to show).
- ``locations``: the network's locations (``location_id``, ``name``, ``kind``, ``pickup``,
  ``ship``), stores first, then any other location the read model knows.
- ``channels``: the policy's channel names, the columns of the stock table; ``network``:
  whether a delivery network is loaded (promises answer).
- ``default``: the product and ZIP code the page opens on. The ZIP code is the one nearest the
  point of the region (or, without regions, the pickup store) with the most pickup stores
  within ``NEAR_KM``, so a first look shows same-day delivery and pickup where the clock allows;
  the product is the one in stock at the most of those stores. ``postal_code`` is ``null``
  without a network.

The files are served from a fixed list (what ``api/static`` holds), with ``no-cache`` so an
upgraded server's page is picked up at once; none is in the OpenAPI document.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Final

import numpy as np
from fastapi import APIRouter
from starlette.responses import FileResponse

from api import postal
from api.deps import READ, AppState, State
from api.errors import ApiError
from api.jsonio import JSONResponse
from engine.promise.calendar import EARTH_KM

STATIC: Final = Path(__file__).resolve().parents[1] / "static"
MAX_PRODUCTS: Final = 500  # a picker, not a catalogue: the page takes any sku typed in
NEAR_KM: Final = 40.0  # the built-in network's same-day radius
_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_HEADERS: Final = {"cache-control": "no-cache"}

router = APIRouter(include_in_schema=False)


def _files() -> dict[str, Path]:
    """What ``api/static`` ships, by path relative to it (``js/main.js``)."""
    return {
        path.relative_to(STATIC).as_posix(): path
        for path in sorted(STATIC.rglob("*"))
        if path.is_file() and path.suffix in _TYPES
    }


FILES: Final = _files()


@router.get("/")
async def index() -> FileResponse:
    return _file("index.html")


@router.get("/static/{name:path}")
async def static(name: str) -> FileResponse:
    return _file(name)


@router.get("/page/setup", dependencies=[READ])
async def setup(state: State) -> Any:
    return JSONResponse(page_setup(state))


def _file(name: str) -> FileResponse:
    path = FILES.get(name)
    if path is None:
        raise ApiError(404, "not_found", f"no file {name!r} in the page's static files")
    return FileResponse(path, media_type=_TYPES[path.suffix], headers=_HEADERS)


def page_setup(state: AppState) -> dict[str, Any]:
    """What the page opens on: products, locations, channels, the default product and ZIP."""
    readmodel = state.readmodel
    network = getattr(state.promiser, "network", None)  # CalculatorPromiser's
    locations: list[dict[str, Any]] = []
    if network is not None:
        locations = [
            {
                "location_id": loc.id,
                "name": loc.name,
                "kind": loc.kind,
                "pickup": loc.pickup,
                "ship": loc.ship,
            }
            for loc in sorted(network.locations, key=lambda loc: loc.kind != "store")
        ]
    named = {loc["location_id"] for loc in locations}
    for location_id in list(readmodel.location_ids):
        if location_id not in named:
            locations.append(
                {
                    "location_id": location_id,
                    "name": location_id,
                    "kind": "unknown",
                    "pickup": False,
                    "ship": False,
                }
            )
    point, near = _busiest_point(network)
    skus = [sku for sku in readmodel.skus() if sku not in state.policy.kits]
    products = _best_stocked(state, skus, near)
    return {
        "network": network is not None,
        "products": sorted(products[:MAX_PRODUCTS]),
        "locations": locations,
        "channels": [channel.name for channel in state.policy.channels],
        "default": {
            "sku": products[0] if products else None,
            "postal_code": None if point is None else postal.nearest_zip(*point),
        },
    }


def _best_stocked(state: AppState, skus: list[str], near: list[int]) -> list[str]:
    """``skus``, those in stock (web ATP) at the most of the ``near`` locations first, then at
    the most locations, then by id."""
    readmodel = state.readmodel
    scored: list[tuple[int, int, str]] = []
    for sku in skus:
        atp = readmodel.atp_array(sku)
        close = int(np.count_nonzero(atp[near] > 0)) if near else 0
        scored.append((-close, -int(np.count_nonzero(atp > 0)), sku))
    scored.sort()
    return [sku for _, _, sku in scored]


def _busiest_point(network: Any) -> tuple[tuple[float, float] | None, list[int]]:
    """The point with the most pickup stores within ``NEAR_KM`` (a region's point, or a pickup
    store's when the network has no regions; the first wins a tie), and those stores' indexes."""
    if network is None:
        return None, []
    stores = [(i, loc) for i, loc in enumerate(network.locations) if loc.pickup]
    points = [(r.lat, r.lon) for r in network.regions] or [(s.lat, s.lon) for _, s in stores]
    best: tuple[tuple[float, float] | None, list[int]] = (None, [])
    for point in points:
        near = [i for i, s in stores if _km(point, (s.lat, s.lon)) <= NEAR_KM]
        if best[0] is None or len(near) > len(best[1]):
            best = (point, near)
    return best


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine), as the calculator measures it."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    half = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(half)))
