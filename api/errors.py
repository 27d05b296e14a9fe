"""HTTP errors: one exception, one body shape, every handler in one place (docs/api.md §3).

Every error answers ``{"error": {"code", "message", "details"}}``, FastAPI's own request
validation (422) and Starlette's 404/405 included. Codes::

    400 bad_json               the body is not JSON (or nested too deeply to read)
    401 unauthorized           no key, or an unknown key
    403 forbidden              the key lacks the scope
    404 not_found              no such route
    404 unknown_position       GET /v1/atp of a position never seen
    404 unknown_reservation    a reservation id never seen
    405 method_not_allowed
    409 rejected               a reservation refused (the body carries the outcome)
    409 reservation_ended      release/fulfil of a reservation that is no longer active
    409 <engine code>          release/fulfil refused by the engine (fulfil_exceeds_held...)
    413 body_too_large
    422 invalid_request        a field is missing, of the wrong type or out of range
    422 too_many_items         a list over its bound
    503 not_ready              Kafka mode, still catching up on the topics
    503 timeout                no outcome in time: retry with the same reservation_id
    503 no_network             promise routes without a delivery network
    500 internal_error         a bug (logged), in the same envelope
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route

from api.jsonio import JSONResponse
from api.schemas import VALIDATION_CODES

# FastAPI answers 400 only for a body it could not parse (nested too deeply for json, say).
_HTTP_CODES = {
    400: "bad_json",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


class ApiError(Exception):
    """An answer other than success, with its status, stable code and a helpful message."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(exc.status, exc.code, exc.message, exc.details, headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
        for err in exc.errors()
    ]
    if any(d["type"] == "json_invalid" for d in details):
        return error_response(400, "bad_json", "the body is not valid JSON", details)
    first = details[0] if details else {"loc": [], "msg": "invalid", "type": None}
    where = ".".join(str(part) for part in first["loc"])
    code = first["type"] if first["type"] in VALIDATION_CODES else "invalid_request"
    return error_response(
        422, code, f"{where}: {first['msg']}" if where else str(first["msg"]), details
    )


def _http_error(routes: list[Route]) -> Any:
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}: see /docs"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed(routes, request))
        return error_response(exc.status_code, code, message, None, headers or None)

    return handle


def _allowed(routes: list[Route], request: Request) -> list[str]:
    """Every method of every route at this path: Starlette's own 405 names only those of the
    route that matched first (``GET`` for ``/v1/reservations/{id}``, not ``DELETE``)."""
    methods: set[str] = set()
    for route in routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


async def _unexpected(request: Request, exc: Exception) -> Response:
    """A bug, not the caller's fault: the error envelope all the same (Starlette still logs
    the traceback)."""
    return error_response(500, "internal_error", "the server failed on this request")


def install(app: FastAPI, routes: Iterable[BaseRoute]) -> None:
    """Register every handler on the app; ``routes`` are the app's, for a 405's ``Allow``."""
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    paths = [route for route in routes if isinstance(route, Route)]
    app.add_exception_handler(StarletteHTTPException, _http_error(paths))
