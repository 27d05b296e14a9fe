"""``/v1/reservations``: reserve, read, release, fulfil (docs/events.md §8; docs/api.md §6).

The engine decides every reservation; these routes send the event and wait for its outcome
(``api.service``). An outcome not known within the API's timeout answers 202 ``pending``: the
engine decides it later, and a retry with the same reservation_id answers it then.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from api.deps import READ, WRITE, State
from api.jsonio import JSONResponse
from api.schemas import FulfilIn, ReserveIn, Token, errors

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
    "description": "Sent, not decided within the API's timeout: GET it, or retry the same id",
    "content": {
        "application/json": {
            "example": {"status": "pending", "reservation_id": "cart-8812", "event_id": "api-6f1c"}
        }
    },
}


@router.post(
    "",
    response_class=JSONResponse,
    status_code=201,
    dependencies=[WRITE],
    summary="Reserve stock at one location (the engine decides)",
    responses={
        201: _example(),
        200: _example(repeat=True, current_status="released", current_qty=0),
        202: _PENDING,
        **errors(401, 403, 409, 422, 503),
    },
)
async def reserve(body: ReserveIn, state: State) -> Any:
    status, record = await state.reservations.reserve(body)
    return JSONResponse(record, status_code=status)


@router.get(
    "/{reservation_id}",
    response_class=JSONResponse,
    dependencies=[READ],
    summary="A reservation as the read model last saw it",
    responses={**errors(401, 403, 404, 503)},
)
async def get(reservation_id: str, state: State) -> Any:
    return JSONResponse(state.reservations.get(reservation_id))


@router.delete(
    "/{reservation_id}",
    response_class=JSONResponse,
    dependencies=[WRITE],
    summary="Release an active reservation",
    responses={
        200: _example(status="released", qty=0),
        202: _PENDING,
        **errors(401, 403, 404, 409, 503),
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
    dependencies=[WRITE],
    summary="Fulfil (pick and hand over) all or part of an active reservation",
    responses={
        200: _example(status="fulfilled", qty=0),
        202: _PENDING,
        **errors(401, 403, 404, 409, 503),
    },
)
async def fulfil(
    reservation_id: str, state: State, body: Annotated[FulfilIn | None, Body()] = None
) -> Any:
    status, record = await state.reservations.fulfil(reservation_id, body or FulfilIn())
    return JSONResponse(record, status_code=status)
