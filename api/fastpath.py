"""The hot read, ``GET /v1/atp/{location_id}/{sku}`` without ``?at=``, answered below FastAPI.

Product pages call it most. Routing, dependency injection and response building cost about
three times the lookup itself, which on two cores decides the p99 at a few thousand requests
a second (``benchmarks/api_load.py``). This ASGI layer answers a plain hit straight from the
read model, with the same auth, readiness check, body and metrics as the FastAPI route; every
other case (a query string, an escape in the path, an unknown position, an error) falls
through to that route, which stays the documented one (OpenAPI) and the one that errs.
"""

from __future__ import annotations

import msgspec
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import AppState
from api.errors import ApiError

ROUTE = "/v1/atp/{location_id}/{sku}"
_PREFIX = "/v1/atp/"
_HEADERS = [(b"content-type", b"application/json")]
_encode = msgspec.json.Encoder().encode


class AtpFastPath:
    """Answers plain ``GET /v1/atp/{location_id}/{sku}`` hits; passes everything else on."""

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and path.startswith(_PREFIX)
            and not scope["query_string"]
            and "%" not in scope.get("raw_path", b"%").decode("latin-1")
        ):
            parts = path[len(_PREFIX) :].split("/")
            if len(parts) == 2 and self._allowed(scope):
                record = self.state.readmodel.position(parts[0], parts[1])
                if record is not None:
                    scope["omnistock.route"] = ROUTE  # the metrics label of the route
                    await self._answer(send, _encode(record))
                    return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        """True when the request may read; otherwise the route answers (and errs) itself."""
        state = self.state
        if not state.backend.caught_up:
            return False
        keys = state.keys
        if not keys.enabled or keys.open_reads:
            return True
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        try:
            keys.check(authorization, "read")
        except ApiError:
            return False
        return True

    async def _answer(self, send: Send, body: bytes) -> None:
        headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
