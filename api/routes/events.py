"""``POST /v1/events``: inventory events for channels without a Kafka producer."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Request

from api.answers import EventsOut, errors
from api.deps import WRITE, State
from api.errors import ApiError
from api.jsonio import JSONResponse
from api.schemas import MAX_EVENTS
from engine.events import Event, Revoke, parse
from engine.outputs import Rejected

router = APIRouter(prefix="/v1/events", tags=["events"])
_decode_items = msgspec.json.Decoder(list[msgspec.Raw]).decode

_EXAMPLE = [
    {
        "event_id": "e-1",
        "type": "receipt",
        "location_id": "S001",
        "sku": "SKU-1",
        "qty": 24,
        "ts": "2026-11-20T14:05:00Z",
    },
    {"event_id": "e-2", "type": "sale", "location_id": "S001", "sku": "SKU-1", "qty": 1, "ts": 0},
]


@router.post(
    "",
    response_class=JSONResponse,
    status_code=202,
    response_model=EventsOut,
    dependencies=[WRITE],
    summary=f"Up to {MAX_EVENTS:,} events (a JSON array); the invalid ones are listed",
    responses={
        202: {
            "content": {
                "application/json": {
                    "example": {
                        "accepted": 1,
                        "invalid": [
                            {
                                "index": 1,
                                "reason": "bad_timestamp: ts is before 1970",
                                "code": "bad_timestamp",
                                "message": "ts is before 1970",
                            }
                        ],
                    }
                }
            }
        },
        **errors(
            400,
            401,
            403,
            413,
            422,
            503,
            e422="`invalid_request`: the body is not an array; `too_many_items`: more than "
            f"{MAX_EVENTS:,} events",
            e503="`timeout`: the broker or the dataflow has not taken every event in time "
            "(retrying is safe); `not_ready`",
        ),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "maxItems": MAX_EVENTS,
                        "items": {
                            "description": "an event (docs/events.md §3); any item the "
                            "engine's parser refuses, an object or not, is listed in "
                            "`invalid` by its index, and the others go in"
                        },
                    },
                    "example": _EXAMPLE,
                }
            },
        }
    },
)
async def post_events(request: Request, state: State) -> Any:
    body = await request.body()
    try:
        items = _decode_items(body)
    except msgspec.ValidationError:
        raise ApiError(422, "invalid_request", "the body must be a JSON array of events") from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, "bad_json", f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "bad_json", "the body is nested too deeply to be events") from None
    if len(items) > MAX_EVENTS:
        raise ApiError(
            422,
            "too_many_items",
            f"{len(items)} events in one request; send at most {MAX_EVENTS} per request",
        )
    valid: list[tuple[int, bytes, Event]] = []
    invalid: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        raw = bytes(item)
        event = parse(raw)
        if isinstance(event, Revoke):
            event = ENGINE_ONLY
        if not isinstance(event, Rejected):
            event = state.reservations.in_future(event) or event
        if isinstance(event, Rejected):
            invalid.append(_refusal(index, event))
        else:
            valid.append((index, raw, event))
    refused = await state.backend.submit(valid)
    state.metrics.events.labels("accepted").inc(len(valid))
    state.metrics.events.labels("invalid").inc(len(invalid))
    answer: dict[str, Any] = {"accepted": len(valid), "invalid": invalid}
    if refused:  # known at once in embedded mode only; in Kafka mode they go to the dead letters
        answer["dead_letters"] = [_refusal(index, rejected) for index, rejected in refused]
    return JSONResponse(answer, status_code=202)


# A ``revoke`` is the engine's own event (docs/events.md §8.7): it ends a hold silently, so an
# API caller could end anyone's reservation with one (D122).
ENGINE_ONLY = Rejected(
    "unknown_type", "'revoke' is written by the engine only, not sent - at `$.type`"
)


def _refusal(index: int, rejected: Rejected) -> dict[str, Any]:
    """An item refused, by its index: its ``reason`` (as a dead letter states it), and the
    reason's parts, ``code`` and ``message``."""
    return {
        "index": index,
        "reason": rejected.reason,
        "code": rejected.code,
        "message": rejected.message,
    }
