"""The hot routes answered below FastAPI: ``GET /v1/atp/{location_id}/{sku}`` without
``?at=``, and ``POST /v1/promise`` for a plain body (no ``at``).

Product pages call it most. Routing, dependency injection and response building cost about
three times the lookup itself, which on two cores decides the p99 at a few thousand requests
a second (``benchmarks/api_load.py``). This ASGI layer answers a plain hit straight from the
read model, with the same auth, readiness check, body and metrics as the FastAPI route; every
other case (a query string, an escape in the path, an unknown position, an error) falls
through to that route, which stays the documented one (OpenAPI) and the one that errs.

A promise is the same story: FastAPI's routing, dependencies and pydantic validation cost
twice the calculator's answer, and at 1,000 promises a second they saturated a core. A body
that msgspec decodes into the strict ``_PromiseBody`` (the route's constraints, no unknown
field, no ``at``) is answered here; anything else, or any error, is replayed to the route.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import AppState
from api.errors import ApiError
from api.schemas import MAX_GRID
from engine.events import MAX_QTY

ROUTE = "/v1/atp/{location_id}/{sku}"
_PREFIX = "/v1/atp/"
_HEADERS = [(b"content-type", b"application/json")]
_encode = msgspec.json.Encoder().encode
PROMISE = "/v1/promise"
_Sku = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]


class _Item(msgspec.Struct, forbid_unknown_fields=True):
    sku: _Sku
    qty: Annotated[int, msgspec.Meta(ge=1, le=MAX_QTY)] = 1


class _Destination(msgspec.Struct, forbid_unknown_fields=True):
    postal_code: str | None = None
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)] | None = None
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)] | None = None


class _PromiseBody(msgspec.Struct, forbid_unknown_fields=True):
    items: Annotated[list[_Item], msgspec.Meta(min_length=1, max_length=MAX_GRID)]
    destination: _Destination


_decode_promise = msgspec.json.Decoder(_PromiseBody).decode


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
        elif scope["type"] == "http" and scope["method"] == "POST" and path == PROMISE:
            body = await _read_body(receive)
            answer = self._promise(scope, body)
            if answer is not None:
                scope["omnistock.route"] = PROMISE
                await self._answer(send, answer)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    def _promise(self, scope: Scope, body: bytes) -> bytes | None:
        """The answer to a plain promise body, or ``None`` to let the route answer."""
        promiser = self.state.promiser
        if promiser is None or not self._allowed(scope):
            return None
        try:
            request = _decode_promise(body)
        except msgspec.DecodeError:
            return None
        where = request.destination
        if where.postal_code is not None and where.lat is None and where.lon is None:
            destination: dict[str, Any] = {"postal_code": where.postal_code}
        elif where.postal_code is None and where.lat is not None and where.lon is not None:
            destination = {"lat": where.lat, "lon": where.lon}
        else:
            return None
        items = [(item.sku, item.qty) for item in request.items]
        try:
            answer = promiser.promise(
                items, destination, self.state.reservations.clock(), self.state.readmodel
            )
        except Exception:  # the route answers again and maps the error
            return None
        return _encode(answer)

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


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the route the body already read, then the client's own."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
