"""The seam to the delivery-promise calculator (``engine/promise``, built on its own branch).

The routes ``POST /v1/promise``, ``POST /v1/promise/listing`` and ``GET /v1/availability/{sku}``
always exist. Without a ``Promiser`` (no ``--network``) they answer 503 ``no_network``. With one
they validate the request, then hand the calculator plain values plus the read model as an
``AtpSource``; the calculator returns the JSON-ready answer (CONTRACT section 6 shapes).

What a ``Promiser`` must provide (see the Protocols below):

- ``location_ids``: the network's location ids, in the order the calculator indexes them
  (``engine.promise`` sorts them by id). ``serve`` builds the
  read model with them first, so ``atp.atp_array(sku)[i]`` is the ATP of ``location_ids[i]``
  (arrays may be longer: locations outside the network come after them, and are to be
  ignored).
- ``promise(items, destination, at, atp)``, ``listing(skus, destination, at, atp)``,
  ``availability(sku, near, radius_km, qty, limit, at, atp)``: each returns a dict ready to
  encode (datetimes allowed). ``destination`` is ``{"postal_code": str}`` or
  ``{"lat": float, "lon": float}``; ``near`` the raw query text (``POSTAL_CODE`` or
  ``LAT,LON``); ``at`` an aware UTC datetime.
- A bad input (an unknown postal code) raises an exception with a ``code`` attribute
  (``unknown_postal_code``): it answers 422 with that code and the exception's text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from fastapi import APIRouter, Query

from api.deps import READ, AppState, State
from api.errors import ApiError
from api.jsonio import JSONResponse
from api.schemas import Destination, ListingIn, PromiseIn, errors
from engine.errors import InputError
from engine.timefmt import parse_instant


class AtpSource(Protocol):
    """What the read model offers a calculator (``api.readmodel.ReadModel``)."""

    location_ids: list[str]

    def atp_array(self, sku: str) -> npt.NDArray[np.int64]:
        """ATP per location index, a view without copy (zeros for an unknown sku)."""


class Promiser(Protocol):
    """A delivery-promise calculator over a network."""

    @property
    def location_ids(self) -> Sequence[str]:
        """The network's location ids, in the order the calculator indexes them."""

    def promise(
        self,
        items: list[tuple[str, int]],
        destination: dict[str, Any],
        at: datetime,
        atp: AtpSource,
    ) -> dict[str, Any]: ...

    def listing(
        self, skus: list[str], destination: dict[str, Any], at: datetime, atp: AtpSource
    ) -> dict[str, Any]: ...

    def availability(
        self,
        sku: str,
        near: str,
        radius_km: float,
        qty: int,
        limit: int,
        at: datetime,
        atp: AtpSource,
    ) -> dict[str, Any]: ...


router = APIRouter(tags=["promise"], dependencies=[READ])


@router.post(
    "/v1/promise",
    response_class=JSONResponse,
    summary="Delivery and pickup options for a cart",
    responses={**errors(401, 403, 422, 503)},
)
async def promise(body: PromiseIn, state: State) -> Any:
    promiser, at = _ready(state, body.at)
    items = [(item.sku, item.qty) for item in body.items]
    destination = _destination(body.destination)
    return _call(lambda: promiser.promise(items, destination, at, state.readmodel))


@router.post(
    "/v1/promise/listing",
    response_class=JSONResponse,
    summary="Earliest deliver_by per sku and service level, for a listing page",
    responses={**errors(401, 403, 422, 503)},
)
async def listing(body: ListingIn, state: State) -> Any:
    promiser, at = _ready(state, body.at)
    skus = list(body.skus)
    destination = _destination(body.destination)
    return _call(lambda: promiser.listing(skus, destination, at, state.readmodel))


@router.get(
    "/v1/availability/{sku}",
    response_class=JSONResponse,
    summary="Pickup stores with atp >= qty near a place, nearest first",
    responses={**errors(401, 403, 422, 503)},
)
async def availability(
    sku: str,
    state: State,
    near: str = Query(description="POSTAL_CODE or LAT,LON", examples=["10001"]),
    radius_km: float = Query(default=50.0, gt=0, le=20_000),
    qty: int = Query(default=1, ge=1, le=1_000_000),
    limit: int = Query(default=10, ge=1, le=100),
    at: str | None = None,
) -> Any:
    promiser, instant = _ready(state, at)
    return _call(
        lambda: promiser.availability(sku, near, radius_km, qty, limit, instant, state.readmodel)
    )


def _ready(state: AppState, at: str | int | None) -> tuple[Promiser, datetime]:
    promiser: Promiser | None = state.promiser
    if promiser is None:
        raise ApiError(
            503,
            "no_network",
            "no delivery network is loaded: start the API with --network FILE "
            "(CONTRACT section 7) to answer promises",
        )
    try:
        instant = state.reservations.clock() if at is None else parse_instant(str(at))
    except InputError as exc:
        raise ApiError(422, "invalid_request", f"at: {exc}") from None
    return promiser, instant


def _destination(destination: Destination) -> dict[str, Any]:
    if destination.postal_code is not None and destination.lat is None and destination.lon is None:
        return {"postal_code": destination.postal_code}
    if (
        destination.postal_code is None
        and destination.lat is not None
        and destination.lon is not None
    ):
        return {"lat": destination.lat, "lon": destination.lon}
    raise ApiError(
        422, "invalid_request", "destination: give either postal_code, or both lat and lon"
    )


def _call(answer: Callable[[], dict[str, Any]]) -> JSONResponse:
    try:
        return JSONResponse(answer())
    except Exception as exc:
        code = getattr(exc, "code", None)
        if isinstance(code, str):
            raise ApiError(422, code, str(exc)) from None
        raise
