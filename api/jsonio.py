"""JSON in and out: msgspec's encoder (the one the dataflow publishes with).

Instants come out as RFC 3339 in UTC with ``Z`` (the engine holds them in UTC), so a position
reads the same from ``GET /v1/atp`` as from ``omnistock.atp``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette import responses

_encode = msgspec.json.Encoder().encode


class JSONResponse(responses.JSONResponse):
    """A response whose content is encoded by msgspec (structs, datetimes, numpy ints aside).

    A ``JSONResponse`` to FastAPI too, so a route's ``response_model`` is its documented body
    (the routes hand FastAPI this response finished: the model only documents)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encode(content)
