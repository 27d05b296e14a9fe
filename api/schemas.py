"""Request bodies of the API, apart from the engine's types, with their OpenAPI examples.

The engine's parser stays the authority on events: these models give clear 422s and the
OpenAPI document; the reservation routes then build an event and ``engine.events.parse`` it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.events import DEFAULT_TTL_S, MAX_QTY, MAX_TTL_S
from engine.timefmt import MAX_MS

MAX_GRID = 100  # skus and locations of one POST /v1/atp/query
MAX_LISTING = 200  # skus of one POST /v1/promise/listing
MAX_EVENTS = 10_000  # events of one POST /v1/events

Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$", examples=["S001"])]
Token = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x20-\x7e]+$")]
Instant = Annotated[
    str | Annotated[int, Field(ge=0, le=MAX_MS)],
    Field(description="RFC 3339 with an offset, or integer epoch milliseconds (1970 to 9999)"),
]


class _Body(BaseModel):
    """Strict, as the engine's parser is: ``"2"`` is no quantity and ``1`` no boolean, and a
    field the body does not know is a mistake (422)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ReserveIn(_Body):
    """A ``reserve`` event's fields plus its position; ``event_id`` and ``ts`` are optional."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reservation_id": "cart-8812",
                    "location_id": "S001",
                    "sku": "SKU-1",
                    "qty": 2,
                    "ttl_s": 900,
                    "channel": "web",
                }
            ]
        },
    )

    reservation_id: Token
    location_id: Code
    sku: Code
    qty: int = Field(ge=1, le=MAX_QTY)
    ttl_s: int = Field(default=DEFAULT_TTL_S, ge=1, le=MAX_TTL_S)
    channel: Code = "web"
    allow_partial: bool = False
    event_id: Token | None = Field(default=None, description="made by the API when absent")
    ts: Instant | None = Field(default=None, description="now when absent")
    type: Literal["reserve"] | None = Field(
        default=None, description="optional: the body may be the whole `reserve` event"
    )


class FulfilIn(_Body):
    """A ``fulfil``: the quantity handed over (default: all the reservation holds)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"qty": 1}]})

    qty: int | None = Field(default=None, ge=1, le=MAX_QTY)
    event_id: Token | None = None
    ts: Instant | None = None


class AtpQueryIn(_Body):
    """A grid of skus by locations."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"skus": ["SKU-1", "SKU-2"], "location_ids": ["S001"]}]},
    )

    skus: list[Code] = Field(min_length=1, max_length=MAX_GRID)
    location_ids: list[Code] = Field(min_length=1, max_length=MAX_GRID)


class Destination(_Body):
    postal_code: str | None = Field(default=None, examples=["10001"])
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class PromiseItem(_Body):
    sku: Code
    qty: int = Field(default=1, ge=1, le=MAX_QTY)


class PromiseIn(_Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"items": [{"sku": "SKU-1", "qty": 1}], "destination": {"postal_code": "10001"}}
            ]
        },
    )

    items: list[PromiseItem] = Field(min_length=1, max_length=MAX_GRID)
    destination: Destination
    at: Instant | None = None


class ListingIn(_Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"skus": ["SKU-1", "SKU-2"], "destination": {"lat": 40.7, "lon": -74.0}}]
        },
    )

    skus: list[Code] = Field(min_length=1, max_length=MAX_LISTING)
    destination: Destination
    at: Instant | None = None


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    """Every error's body."""

    error: ErrorDetail


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for error statuses."""
    return {status: {"model": ErrorOut} for status in statuses}
