"""``GET /v1/health`` and ``GET /metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from api.answers import Health
from api.deps import State
from api.jsonio import JSONResponse

router = APIRouter()


@router.get(
    "/v1/health",
    response_class=JSONResponse,
    response_model=Health,
    summary="Whether this replica serves, and how far behind it is",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "status": "ok",
                        "mode": "kafka",
                        "caught_up": True,
                        "lag": 0,
                        "bootstrap": "127.0.0.1:9092",
                        "topic_prefix": "omnistock.",
                        "positions": 1200,
                        "reservations": 35,
                        "promise": True,
                    }
                }
            }
        }
    },
)
async def health(state: State) -> Any:
    backend = state.backend
    found = backend.health()
    return JSONResponse(
        {
            "status": _status(backend.caught_up, found),
            "mode": backend.mode,
            **found,
            "positions": state.readmodel.position_count,
            "reservations": len(state.readmodel.reservations),
            "promise": state.promiser is not None,
        }
    )


def _status(caught_up: bool, found: dict[str, Any]) -> str:
    if found.get("dataflow") == "stopped":  # embedded: the in-process dataflow has ended
        return "failed"
    return "ok" if caught_up else "catching_up"


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(state: State) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
