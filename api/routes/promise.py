"""``POST /v1/promise``, ``POST /v1/promise/listing``, ``GET /v1/availability/{sku}``.

The routes always exist. Without a ``Promiser`` (no ``--network``) they answer 503
``no_network``. With one they validate the request, then hand the calculator plain values plus
the read model (``api.promiser``). ``answer_promise`` is the whole of ``POST /v1/promise``
past its body and auth: the route calls it, and so does the hot path (``api.fastpath``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api import kits
from api.answers import AvailabilityOut, ListingOut, PromiseOut, errors
from api.deps import READ, AppState, State
from api.errors import ApiError
from api.instants import PromiseInstantQuery
from api.jsonio import JSONResponse
from api.promiser import Promiser
from api.schemas import Destination, ListingIn, Near, PromiseIn
from engine.errors import InputError
from engine.timefmt import parse_instant

router = APIRouter(tags=["promise"], dependencies=[READ])
_E422 = (
    "`invalid_request`: a bad body (a destination with both a ZIP code and a point, say); "
    "`unknown_postal_code`: no known US ZIP code; `at_out_of_range`: an order instant past the "
    "last day promises cover"
)
_E503 = "`no_network`: the server was started without `--network`; `not_ready`"


@router.post(
    "/v1/promise",
    response_class=JSONResponse,
    response_model=PromiseOut,
    summary="Delivery and pickup options for a cart",
    responses={**errors(400, 401, 403, 413, 422, 503, e422=_E422, e503=_E503)},
)
async def promise(body: PromiseIn, state: State) -> Any:
    return JSONResponse(answer_promise(state, body))


def answer_promise(state: AppState, body: PromiseIn) -> dict[str, Any]:
    """The answer to a validated ``POST /v1/promise`` body.

    Raises:
        ApiError: 503 ``no_network``, 422 for a bad ``at``, destination or postal code.
    """
    promiser, at = _ready(state, body.at)
    items = [(item.sku, item.qty) for item in body.items]
    destination = destination_of(body.destination)
    atp = kits.atp_source(state.readmodel, state.policy)  # a kit's ATP: its components'
    return _call(lambda: promiser.promise(items, destination, at, atp))


@router.post(
    "/v1/promise/listing",
    response_class=JSONResponse,
    response_model=ListingOut,
    summary="Earliest deliver_by per sku and service level, for a listing page",
    responses={**errors(400, 401, 403, 413, 422, 503, e422=_E422, e503=_E503)},
)
async def listing(body: ListingIn, state: State) -> Any:
    promiser, at = _ready(state, body.at)
    skus = list(body.skus)
    destination = destination_of(body.destination)
    atp = kits.atp_source(state.readmodel, state.policy)
    return JSONResponse(_call(lambda: promiser.listing(skus, destination, at, atp)))


@router.get(
    "/v1/availability/{sku}",
    response_class=JSONResponse,
    response_model=AvailabilityOut,
    summary="Pickup stores with atp >= qty near a place, nearest first",
    responses={
        **errors(
            401,
            403,
            422,
            503,
            e422="`invalid_request`: a bad parameter; `bad_destination`: a point out of "
            "range; `unknown_postal_code`; `at_out_of_range`",
            e503=_E503,
        )
    },
)
async def availability(
    sku: str,
    state: State,
    near: Annotated[Near, Query(examples=["10001"])],
    radius_km: float = Query(default=50.0, gt=0, le=20_000),
    qty: int = Query(default=1, ge=1, le=1_000_000),
    limit: int = Query(default=10, ge=1, le=100),
    at: Annotated[PromiseInstantQuery, Query(examples=["2026-11-25T15:30:00Z"])] = None,
) -> Any:
    promiser, instant = _ready(state, at)
    atp = kits.atp_source(state.readmodel, state.policy)
    return JSONResponse(
        _call(lambda: promiser.availability(sku, near, radius_km, qty, limit, instant, atp))
    )


def _ready(state: AppState, at: str | int | None) -> tuple[Promiser, datetime]:
    promiser: Promiser | None = state.promiser
    if promiser is None:
        raise ApiError(
            503,
            "no_network",
            "no delivery network is loaded: start the API with --network FILE "
            "(docs/network.md) to answer promises",
        )
    try:
        instant = state.reservations.clock() if at is None else parse_instant(str(at))
    except InputError as exc:
        raise ApiError(422, "invalid_request", f"at: {exc}") from None
    return promiser, instant


def destination_of(destination: Destination) -> dict[str, Any]:
    """The one destination rule: a postal code, or both coordinates."""
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


def _call(answer: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return answer()
    except Exception as exc:
        code = getattr(exc, "code", None)
        if isinstance(code, str):
            raise ApiError(422, code, str(exc)) from None
        raise
