"""``GET /v1/alerts`` and ``GET /v1/alerts/stream`` (docs/api.md §6.13-6.14, docs/events.md §11.4).

Both read the read model's ``AlertLog`` (``api.alertlog``): the latest 10,000 alerts this
replica has received, in either mode.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Header, Query

from api.alertlog import AlertFilter
from api.answers import AlertKind, AlertsOut, errors
from api.deps import READ, State
from api.jsonio import JSONResponse
from api.sse import AlertStream, last_event_id

router = APIRouter(prefix="/v1/alerts", tags=["alerts"], dependencies=[READ])

_ALERT_EXAMPLE = {
    "kind": "stockout",
    "location_id": "S001",
    "sku": "SKU-1",
    "ts": "2026-11-20T14:05:00Z",
    "on_hand": 0,
    "reserved": 0,
    "safety_stock": 0,
    "unsellable": 0,
    "available": 0,
    "atp": 0,
    "oversold": 0,
    "inbound_qty": 24,
    "sold_7d": 12,
    "stockout_eta": None,
}
_STREAM_EXAMPLE = (
    'event: alert\nid: 42\ndata: {"kind":"stockout","location_id":"S001","sku":"SKU-1",'
    '"ts":"2026-11-20T14:05:00Z","on_hand":0,"reserved":0,"safety_stock":0,"unsellable":0,'
    '"available":0,"atp":0,"oversold":0,"inbound_qty":24,"sold_7d":12,"stockout_eta":null}\n\n'
    ": keep-alive\n\n"
)

# The stream's errors are JSON, not events: named here, as ``errors`` would give them the
# route's own media type.
_JSON_ERRORS = {
    status: {
        "description": entry["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for status, entry in errors(401, 403, 422, 503).items()
}

LocationQuery = Annotated[str | None, Query(description="only this location's alerts")]
SkuQuery = Annotated[str | None, Query(description="only this sku's alerts")]
KindQuery = Annotated[AlertKind | None, Query(description="only alerts of this kind")]


@router.get(
    "",
    response_class=JSONResponse,
    response_model=AlertsOut,
    summary="The latest alerts, newest first (this replica keeps 10,000)",
    responses={
        200: {"content": {"application/json": {"example": {"alerts": [_ALERT_EXAMPLE]}}}},
        **errors(401, 403, 422, 503),
    },
)
async def alerts(
    state: State,
    location_id: LocationQuery = None,
    sku: SkuQuery = None,
    kind: KindQuery = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="at most this many")] = 100,
) -> Any:
    found = state.readmodel.alerts.latest(AlertFilter(location_id, sku, kind), limit)
    return JSONResponse({"alerts": [msgspec.Raw(alert.raw) for alert in found]})


@router.get(
    "/stream",
    response_class=AlertStream,
    status_code=200,
    summary="New alerts as Server-Sent Events (text/event-stream), as they arrive",
    description=(
        "Each alert as `event: alert`, `id: N` (this replica's sequence number) and `data:` "
        "the alert's JSON, as `GET /v1/alerts` answers it; a `: keep-alive` comment every 15 s. "
        "With `Last-Event-ID`, the kept alerts after that id come first. A client that falls "
        "more than 1,000 alerts behind is disconnected (reconnect with `Last-Event-ID`)."
    ),
    responses={
        200: {
            "description": "an endless stream of events",
            "content": {
                "text/event-stream": {"schema": {"type": "string"}, "example": _STREAM_EXAMPLE}
            },
        },
        **_JSON_ERRORS,
    },
)
async def stream(
    state: State,
    location_id: LocationQuery = None,
    sku: SkuQuery = None,
    kind: KindQuery = None,
    last_event: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="the `id` of the last event received: replay the kept alerts after it",
        ),
    ] = None,
) -> AlertStream:
    where = AlertFilter(location_id, sku, kind)
    return AlertStream(state.readmodel.alerts, where, last_event_id(last_event))
