"""Prometheus metrics of one app (its own registry, so tests and replicas never share one),
and the ASGI middleware that times every request and bounds request bodies.

In embedded mode the dataflow runs in this process, and ``/metrics`` carries its series too
(``dataflows.metrics``: ``omnistock_dataflow_*``), from the flow's own registry, included at
scrape time; in Kafka mode ``omnistock run --metrics-port`` serves them.

Pure ASGI rather than Starlette's ``BaseHTTPMiddleware``: it costs a few microseconds per
request instead of a task and a stream. The route label is the route's path template
(``/v1/atp/{location_id}/{sku}``), never the raw path, so the label set stays small.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from api.jsonio import JSONResponse

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Metrics:
    """The API's series."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "omnistock_api_request_seconds",
            "Request latency by route and status class",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.outcomes = Counter(
            "omnistock_api_reservation_outcomes",
            "Reservation outcomes the read model received, by status",
            ["status"],
            registry=self.registry,
        )
        self.lag = Gauge(
            "omnistock_api_readmodel_lag_messages",
            "Messages not yet read: of the output topics (Kafka), of the dataflow's queue "
            "(embedded)",
            registry=self.registry,
        )
        self.positions = Gauge(
            "omnistock_api_readmodel_positions",
            "Positions held by the read model",
            registry=self.registry,
        )
        self.events = Counter(
            "omnistock_api_events",
            "Events received by POST /v1/events, by verdict",
            ["verdict"],
            registry=self.registry,
        )

    def watch(self, lag: Callable[[], float], positions: Callable[[], float]) -> None:
        """Read the gauges from the read model at scrape time."""
        self.lag.set_function(lag)
        self.positions.set_function(positions)

    def include(self, registry: CollectorRegistry | None) -> None:
        """Serve ``registry``'s series (the in-process dataflow's) beside the API's."""
        if registry is not None:
            self.registry.register(_Included(registry))


class _Included(Collector):
    """Another registry's series, collected when this one is (no ``describe``: its names are
    that registry's to keep unique)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.source = registry

    def collect(self) -> Any:
        return self.source.collect()


class _BodyTooLargeError(Exception):
    pass


class ApiMiddleware:
    """Times each request by route and refuses bodies over ``max_body`` bytes (413)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]
        limit = self.max_body
        length = _content_length(scope)
        if length is not None and length > limit:
            await _send_too_large(send, limit)
            self._observe(scope, 413, start)
            return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLargeError
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLargeError:
            if started:
                raise
            status[0] = 413
            await _send_too_large(send, limit)
        finally:
            self._observe(scope, status[0], start)

    def _observe(self, scope: Scope, status: int, start: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or scope.get("omnistock.route") or "unmatched"
        self.metrics.latency.labels(scope["method"], template, f"{status // 100}xx").observe(
            time.perf_counter() - start
        )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_too_large(send: Send, limit: int) -> None:
    body: Any = error_body(
        "body_too_large", f"the request body is over {limit} bytes: send less per request"
    )
    response = JSONResponse(body, status_code=413)
    await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})
