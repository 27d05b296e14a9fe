"""The hot routes answered below FastAPI's routing: ``GET /v1/atp/{location_id}/{sku}``
without ``?at=``, ``POST /v1/promise`` and ``POST /v1/promise/listing``.

Product pages call them most. FastAPI's routing, dependency injection and response building
cost more than the answer itself, which on two cores decides the p99 at a few thousand
requests a second (docs/performance.md). This ASGI layer skips that machinery, not the route:
it runs the route's own pieces, each defined once: ``api.deps.authorize`` (keys and
readiness), the route's body type (``api.schemas.PromiseIn``, ``ListingIn``, validated by
pydantic as FastAPI would), ``api.routes.atp.known_position`` and
``api.routes.promise.answer_promise``, ``answer_listing``. Anything
these refuse (an error, a query string, an escape in the path) falls through to the FastAPI
route, which answers it, errors included, and is the one OpenAPI documents.
"""

from __future__ import annotations

import msgspec
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import AppState, authorize
from api.errors import ApiError
from api.routes.atp import known_position
from api.routes.promise import answer_listing, answer_promise
from api.schemas import ListingIn, PromiseIn

ROUTE = "/v1/atp/{location_id}/{sku}"
_PREFIX = "/v1/atp/"
_HEADERS = [(b"content-type", b"application/json")]
_encode = msgspec.json.Encoder().encode
PROMISE = "/v1/promise"
LISTING = "/v1/promise/listing"


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
                try:
                    record = known_position(self.state, parts[0], parts[1])
                except ApiError:
                    pass  # the route answers the error
                else:
                    scope["omnistock.route"] = ROUTE  # the metrics label of the route
                    await self._answer(send, _encode(record))
                    return
        elif scope["type"] == "http" and scope["method"] == "POST" and path in (PROMISE, LISTING):
            body = await _read_body(receive)
            answer = self._promise(scope, body, path == LISTING)
            if answer is not None:
                scope["omnistock.route"] = path
                await self._answer(send, answer)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    def _promise(self, scope: Scope, body: bytes, listing: bool) -> bytes | None:
        """The answer to a promise (or listing) body, or ``None`` to let the route answer."""
        if not self._allowed(scope) or not _json_content(scope):
            return None
        try:
            if listing:
                return _encode(answer_listing(self.state, ListingIn.model_validate_json(body)))
            request = PromiseIn.model_validate_json(body)
            return _encode(answer_promise(self.state, request))
        except (ValidationError, ApiError):
            return None  # the route validates again and answers the error
        except Exception:  # the route computes it again and answers the error
            return None

    def _allowed(self, scope: Scope) -> bool:
        """True when the request may read; otherwise the route answers (and errs) itself."""
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        try:
            authorize(self.state, authorization, "read")
        except ApiError:
            return False
        return True

    async def _answer(self, send: Send, body: bytes) -> None:
        headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _json_content(scope: Scope) -> bool:
    """Whether the body is declared JSON, as FastAPI requires of a body it validates
    (``application/json`` or ``application/*+json``); otherwise the route refuses it."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            kind: bytes = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or (
                kind.startswith(b"application/") and kind.endswith(b"+json")
            )
    return False


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
