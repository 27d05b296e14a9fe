"""``POST /v1/promise``, ``POST /v1/promise/listing``, ``GET /v1/availability/{sku}``,
``GET /v1/promise/stream``.

The routes always exist. Without a ``Promiser`` (no ``--network``) they answer 503
``no_network``. With one they validate the request, then hand the calculator plain values plus
the read model (``api.promiser``); the listing and the stream read the read model's promise
table too (``api.promise_table``). ``answer_promise`` is the whole of ``POST /v1/promise``
past its body and auth: the route calls it, and so does the hot path (``api.fastpath``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import TypeAdapter

from api import kits
from api.answers import AvailabilityOut, ListingOut, PromiseEvent, PromiseOut, errors
from api.deps import READ, AppState, State
from api.errors import ApiError
from api.instants import PromiseInstantQuery
from api.jsonio import JSONResponse
from api.promise_table import PromiseStream, listing_answer, regions_of
from api.promiser import Promiser, UnknownRegionError
from api.schemas import CODE, MAX_LISTING, Destination, ListingIn, Near, PromiseIn
from engine.errors import InputError
from engine.timefmt import parse_instant

router = APIRouter(tags=["promise"], dependencies=[READ])
_E422 = (
    "`invalid_request`: a bad body (a destination with both a ZIP code and a point, say); "
    "`unknown_postal_code`: no known US ZIP code; `unknown_region`: a region the network file "
    "does not name; `at_out_of_range`: an order instant past the last day promises cover"
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
    answer = _call(lambda: promiser.promise(items, destination, at, atp))
    return answer if "region" not in destination else {**answer, "region": destination["region"]}


@router.post(
    "/v1/promise/listing",
    response_class=JSONResponse,
    response_model=ListingOut,
    summary="Earliest deliver_by per sku and service level, for a listing page",
    description="To a `region` (or a ZIP code whose first 3 digits are one), without `at`: "
    "from the promise table, with `region` and each sku's `as_of` and `valid_until`.",
    responses={**errors(400, 401, 403, 413, 422, 503, e422=_E422, e503=_E503)},
)
async def listing(body: ListingIn, state: State) -> Any:
    return JSONResponse(answer_listing(state, body))


def answer_listing(state: AppState, body: ListingIn) -> dict[str, Any]:
    """The answer to a validated ``POST /v1/promise/listing`` body: from the promise table,
    or computed (``api.promise_table.listing_answer``).

    Raises:
        ApiError: 503 ``no_network``, 422 for a bad ``at``, destination, postal code or region.
    """
    promiser, at = _ready(state, body.at)
    skus, fixed = list(body.skus), body.at is not None
    destination = destination_of(body.destination)
    atp = kits.atp_source(state.readmodel, state.policy)
    table = state.readmodel.promises
    return _call(lambda: listing_answer(promiser, table, skus, destination, at, fixed, atp))


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema with its ``$defs`` put in place (an SSE answer has no components)."""
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                return inline(defs[ref.rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        return [inline(value) for value in node] if isinstance(node, list) else node

    found: dict[str, Any] = inline(schema)
    return found


_sku = re.compile(CODE)
_SKU_LIST = rf"^{CODE[1:-1]}(,{CODE[1:-1]}){{0,{MAX_LISTING - 1}}}$"
_STREAM_EXAMPLE = (
    'event: promise\ndata: {"sku":"TENT","region":"100","as_of":"2026-11-25T15:30:00Z",'
    '"valid_until":"2026-11-25T19:00:00Z","levels":{"standard":{"deliver_by":"2026-11-30",'
    '"location_id":"S001","ship_by":"2026-11-25T14:00:00-05:00"}}}\n\n: keep-alive\n\n'
)
# The stream's errors are JSON, not events (as GET /v1/alerts/stream's).
_JSON_ERRORS = {
    status: {
        "description": entry["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for status, entry in errors(
        401,
        403,
        422,
        503,
        e422="`invalid_request`: no skus, more than 200, or a bad one; `unknown_region`",
        e503=_E503,
    ).items()
}


@router.get(
    "/v1/promise/stream",
    response_class=PromiseStream,
    status_code=200,
    summary="Changes of the promise table for some skus in one region, as Server-Sent Events",
    description=(
        "One `event: promise` per change of a sku's levels in the region, its `data:` the "
        "sku's new levels there (a PromiseEvent); a `: keep-alive` comment every 15 s. Only "
        "changes after the request: read the listing first, then listen. A client more than "
        "1,000 events behind is disconnected (read the listing again, reconnect)."
    ),
    responses={
        200: {
            "description": "an endless stream of events",
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string"},
                    "example": _STREAM_EXAMPLE,
                    # what each event's `data:` holds (OpenAPI 3.1 has no word for it)
                    "x-event-data": _inlined(TypeAdapter(PromiseEvent).json_schema()),
                }
            },
        },
        **_JSON_ERRORS,
    },
)
async def stream(
    state: State,
    skus: Annotated[
        str,
        Query(
            description="1 to 200 skus, comma-separated",
            examples=["TENT,POLE"],
            json_schema_extra={"pattern": _SKU_LIST},
        ),
    ],
    region: Annotated[str, Query(description="a region of the network file", examples=["100"])],
) -> PromiseStream:
    promiser, _ = _ready(state, None)
    given = skus.split(",")
    if len(given) > MAX_LISTING or not all(_sku.fullmatch(sku) for sku in given):
        raise ApiError(
            422,
            "invalid_request",
            f"skus: give 1 to {MAX_LISTING} skus, comma-separated, each 1-64 characters of "
            "A-Z a-z 0-9 _ . -",
        )
    if region not in regions_of(promiser):
        raise ApiError(422, "unknown_region", str(UnknownRegionError(region)))
    return PromiseStream(state.readmodel.promises, tuple(dict.fromkeys(given)), region)


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
    """The one destination rule: a postal code, both coordinates, or a region."""
    shape = destination.shape
    if shape is None:
        raise ApiError(
            422,
            "invalid_request",
            "destination: give one of postal_code, both lat and lon, or region",
        )
    return shape


def _call(answer: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return answer()
    except Exception as exc:
        code = getattr(exc, "code", None)
        if isinstance(code, str):
            raise ApiError(422, code, str(exc)) from None
        raise
