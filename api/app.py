"""The FastAPI application: ``create_app(backend, ...)`` wires routers, errors, auth, metrics.

Nothing is global: each app holds its own backend, read model, keys and metrics registry in
``app.state.omnistock`` (``api.deps.AppState``), so tests build as many as they like.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import errors
from api.auth import Keys
from api.backends import Backend
from api.deps import AppState
from api.fastpath import AtpFastPath
from api.jsonio import JSONResponse
from api.metrics import ApiMiddleware, Metrics
from api.promiser import Promiser
from api.routes import alerts, atp, events, health, page, promise, reservations
from api.service import Reservations
from engine.policy import DEFAULT_POLICY, Policy


def wall_clock() -> datetime:
    return datetime.now(UTC)


MAX_BODY = 16 * 1024 * 1024  # 10,000 events of the largest kind (docs/api.md §4) fit
DESCRIPTION = """Available-to-promise, reservations and delivery promises (the reference is
docs/api.md in the repository). Errors answer `{"error": {"code", "message", "details"}}`.
Keys: `Authorization: Bearer KEY`; with no keys configured everything is open."""


def create_app(
    backend: Backend,
    keys: Keys | None = None,
    promiser: Promiser | None = None,
    timeout_s: float = 5.0,
    max_body: int = MAX_BODY,
    clock: Callable[[], datetime] = wall_clock,
    hot_path: bool = True,
    max_future_s: int = 300,
    policy: Policy = DEFAULT_POLICY,
) -> FastAPI:
    """The API over ``backend``.

    Args:
        backend: the embedded engine or the Kafka adapter (``api.backends``).
        keys: API keys (``Keys.open()`` when ``None``).
        promiser: the delivery-promise calculator, or ``None`` (promise routes answer 503).
        timeout_s: how long a reservation command waits for its outcome.
        max_body: the largest request body accepted, in bytes.
        clock: the wall clock (``ts`` of events the API makes).
        max_future_s: the clock rule's limit (an event dated more than this after ``clock``
            is refused, ``ts_in_future``).
        hot_path: answer the hottest routes below FastAPI's routing (``api.fastpath``);
            off, every request takes the FastAPI route (the tests compare the two).
        policy: channels and location groups (``engine.policy``): the engine's own, the one
            ``run`` (or the embedded dataflow) applies.
    """
    metrics = Metrics()
    readmodel = backend.readmodel
    metrics.watch(lambda: float(backend.health().get("lag", 0)), lambda: readmodel.position_count)
    metrics.include(backend.dataflow_registry)  # embedded: the dataflow's own series
    readmodel.on_outcome = lambda outcome: metrics.outcomes.labels(outcome.status).inc()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = backend.start()  # a backend started by the caller is the caller's to stop
        try:
            yield
        finally:
            if started:
                backend.stop()

    app = FastAPIOffline(
        title="Omnistock API",
        version="1",
        description=DESCRIPTION,
        default_response_class=JSONResponse,
        lifespan=lifespan,
    )
    app.state.omnistock = AppState(
        backend=backend,
        readmodel=readmodel,
        reservations=Reservations(backend, timeout_s, clock, max_future_s, policy, promiser),
        keys=keys or Keys.open(),
        metrics=metrics,
        promiser=promiser,
        policy=policy,
    )
    routers = (
        health.router,
        atp.router,
        reservations.router,
        events.router,
        promise.router,
        alerts.router,
        page.router,  # the live page at / (api/static, docs/demo.md)
    )
    for router in routers:
        app.include_router(router)
    errors.install(app, [route for router in routers for route in router.routes])
    if hot_path:
        app.add_middleware(AtpFastPath, state=app.state.omnistock)
    app.add_middleware(ApiMiddleware, metrics=metrics, max_body=max_body)  # outermost: times all
    _document(app)
    return app


def _document(app: FastAPI) -> None:
    """The OpenAPI document, less FastAPI's own 422 (``HTTPValidationError``): it adds one to
    every route with a parameter, in a shape this API never answers. The routes document
    their 422 themselves, in the error envelope, where one can happen."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    responses = operation.get("responses", {})
                    schema = responses.get("422", {}).get("content", {})
                    if "HTTPValidationError" in str(schema):
                        del responses["422"]
            schemas = document.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]
