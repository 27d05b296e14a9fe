"""``/v1/reservations``: reserve, read, release, fulfil (docs/events.md §8; docs/api.md §6).

The engine decides every reservation; these routes send the event and wait for its outcome
(``api.service``). An outcome not known within the API's timeout answers 202 ``pending``: the
engine decides it later, and a retry with the same reservation_id answers it then.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from api.answers import Outcome, Pending, PendingReservation, Reservation, errors
from api.deps import READ, WRITE, State
from api.jsonio import JSONResponse
from api.schemas import FulfilIn, ReserveIn, Token

router = APIRouter(prefix="/v1/reservations", tags=["reservations"])

_OUTCOME = {
    "reservation_id": "cart-8812",
    "location_id": "S001",
    "sku": "SKU-1",
    "status": "confirmed",
    "qty": 2,
    "expires_at": "2026-11-20T14:20:00Z",
    "reason": None,
    "ts": "2026-11-20T14:05:00Z",
    "event_id": "api-6f1c...",
}


def _example(**changes: Any) -> dict[str, Any]:
    return {"content": {"application/json": {"example": {**_OUTCOME, **changes}}}}


_PENDING = {
    "model": Pending,
    "description": "Sent, not decided within the API's timeout: GET it, or retry the same id",
    "content": {
        "application/json": {
            "example": {"status": "pending", "reservation_id": "cart-8812", "event_id": "api-6f1c"}
        }
    },
}


# The reservation an answer names, for the routes that take its id (OpenAPI links).
_LINKS = {
    "links": {
        name: {
            "operationRef": f"#/paths/~1v1~1reservations~1{{reservation_id}}{path}",
            "parameters": {"reservation_id": "$response.body#/reservation_id"},
        }
        for name, path in (
            ("GetReservation", "/get"),
            ("ReleaseReservation", "/delete"),
            ("FulfilReservation", "~1fulfil/post"),
        )
    }
}
_UNKNOWN = "`unknown_reservation`: no reservation of this id has been seen here"
_NOT_ACTIVE = (
    "`reservation_ended`: it is not active (`details` is the reservation), or another refusal "
    "by the engine"
)
_ENDED = (
    "The outcome; or, when the request's event_id was applied before, the reservation as it "
    "stands with `repeat: true`"
)


@router.post(
    "",
    response_class=JSONResponse,
    status_code=201,
    response_model=Outcome,
    dependencies=[WRITE],
    summary="Reserve stock at one location, or at one location of a group (the engine decides)",
    responses={
        201: {"description": "Confirmed or partial: the outcome", **_example(), **_LINKS},
        200: {
            **_LINKS,
            "model": Outcome,
            "description": "The reservation_id was seen before: its first outcome, "
            "`repeat: true`, with `current_status` and `current_qty`",
            **_example(repeat=True, current_status="released", current_qty=0),
        },
        202: _PENDING,
        **errors(
            400,
            401,
            403,
            404,
            409,
            413,
            422,
            503,
            e404="`unknown_group`: the policy has no such location group",
            e409="`rejected`: not enough stock (`details` is the rejected outcome); "
            "`duplicate_event`: the event_id was used for another request",
            e422="`invalid_request`: a bad body; `ts_in_future`: `ts` more than 300 s after "
            "the server's clock",
        ),
    },
)
async def reserve(body: ReserveIn, state: State) -> Any:
    status, record = await state.reservations.reserve(body)
    return JSONResponse(record, status_code=status)


@router.get(
    "/{reservation_id}",
    response_class=JSONResponse,
    response_model=Reservation | PendingReservation,
    dependencies=[READ],
    summary="A reservation as the read model last saw it",
    responses={**errors(401, 403, 404, 503, e404=_UNKNOWN)},
)
async def get(reservation_id: str, state: State) -> Any:
    return JSONResponse(state.reservations.get(reservation_id))


@router.delete(
    "/{reservation_id}",
    response_class=JSONResponse,
    response_model=Outcome | Reservation,
    dependencies=[WRITE],
    summary="Release an active reservation",
    responses={
        200: {"description": _ENDED, **_example(status="released", qty=0)},
        202: _PENDING,
        **errors(401, 403, 404, 409, 422, 503, e404=_UNKNOWN, e409=_NOT_ACTIVE),
    },
)
async def release(
    reservation_id: str,
    state: State,
    event_id: Annotated[Token | None, Query(description="made by the API when absent")] = None,
) -> Any:
    status, record = await state.reservations.release(reservation_id, event_id)
    return JSONResponse(record, status_code=status)


@router.post(
    "/{reservation_id}/fulfil",
    response_class=JSONResponse,
    response_model=Outcome | Reservation,
    dependencies=[WRITE],
    summary="Fulfil (pick and hand over) all or part of an active reservation",
    responses={
        200: {"description": _ENDED, **_example(status="fulfilled", qty=0)},
        202: _PENDING,
        **errors(
            400,
            401,
            403,
            404,
            409,
            413,
            422,
            503,
            e404=_UNKNOWN,
            e409=_NOT_ACTIVE + "; `fulfil_exceeds_held`: `qty` is more than it holds",
            e422="`invalid_request`: a bad body; `ts_in_future`: `ts` more than 300 s after "
            "the server's clock",
        ),
    },
)
async def fulfil(
    reservation_id: str, state: State, body: Annotated[FulfilIn | None, Body()] = None
) -> Any:
    status, record = await state.reservations.fulfil(reservation_id, body or FulfilIn())
    return JSONResponse(record, status_code=status)
