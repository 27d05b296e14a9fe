"""Shared dependencies of the routes: the app's state and the scope checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from api.auth import Keys
from api.backends import Backend
from api.errors import ApiError
from api.metrics import Metrics
from api.readmodel import ReadModel
from api.service import Reservations
from engine.policy import DEFAULT_POLICY, Policy


@dataclass
class AppState:
    """Everything a route may use, built once per app by ``api.app.create_app``."""

    backend: Backend
    readmodel: ReadModel
    reservations: Reservations
    keys: Keys
    metrics: Metrics
    promiser: Any  # api.promiser.Promiser | None
    policy: Policy = DEFAULT_POLICY


def state(request: Request) -> AppState:
    found: AppState = request.app.state.omnistock
    return found


State = Annotated[AppState, Depends(state)]


def authorize(state: AppState, authorization: str | None, scope: str) -> None:
    """The one auth rule: the key's scope (``api.auth``), then the replica's readiness.

    Raises:
        ApiError: 401/403 for the key, 503 ``not_ready`` while the read model catches up.
    """
    state.keys.check(authorization, scope)
    if not state.backend.caught_up:
        raise ApiError(
            503,
            "not_ready",
            "this replica is still reading the topics from their start: retry shortly "
            "(see /v1/health)",
            state.backend.health(),
        )


def _require(scope: str) -> Any:
    def check(request: Request) -> None:
        authorize(request.app.state.omnistock, request.headers.get("authorization"), scope)

    return Depends(check)


READ = _require("read")
WRITE = _require("write")
