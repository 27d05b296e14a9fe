"""Request bodies and answers of the API, as validated and as ``/openapi.json`` shows them.

The engine's parser stays the authority on events: the body models give clear 422s and the
OpenAPI document; the reservation routes then build an event and ``engine.events.parse`` it.
A body the document allows is one the engine accepts (``api.instants`` for the instants).

The answers and the error envelope are in ``api.answers``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from api.instants import Instant, PromiseInstant
from engine.events import DEFAULT_TTL_S, MAX_QTY, MAX_TTL_S

MAX_GRID = 100  # skus and locations of one POST /v1/atp/query
MAX_LISTING = 200  # skus of one POST /v1/promise/listing
MAX_EVENTS = 10_000  # events of one POST /v1/events
POSTAL_CODE = r"^[0-9]{5}(-[0-9]{4})?$"  # a US ZIP code, or ZIP+4
_LAT_TEXT = r"[+-]?(90(\.0+)?|[1-8]?[0-9](\.[0-9]+)?)"
_LON_TEXT = r"[+-]?(180(\.0+)?|(1[0-7][0-9]|[1-9]?[0-9])(\.[0-9]+)?)"
NEAR = rf"^([0-9]{{5}}(-[0-9]{{4}})?| *{_LAT_TEXT} *, *{_LON_TEXT} *)$"
_near = re.compile(NEAR)
# Codes a validator may raise as its error type: the 422 answers with that code rather than
# invalid_request (docs/api.md §3).
VALIDATION_CODES = frozenset({"at_out_of_range", "bad_destination"})


def _integral(value: Any) -> Any:
    """A JSON number without a fraction (``2.0``) is an integer, as JSON Schema says; strings
    and booleans stay refused (strict)."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


Integral = BeforeValidator(_integral)
Qty = Annotated[int, Field(ge=1, le=MAX_QTY), Integral]  # the bounds first: else in the schema
Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$", examples=["S001"])]
Token = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x20-\x7e]+$")]


def _near_text(value: Any) -> str:
    if type(value) is str and _near.fullmatch(value):
        return value
    raise PydanticCustomError(
        "bad_destination",
        "give a 5-digit US ZIP code (ZIP+4 allowed) or LAT,LON, latitude -90..90 and "
        "longitude -180..180",
    )


Near = Annotated[
    str,
    PlainValidator(_near_text),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": NEAR,
            "description": "a US ZIP code (ZIP+4 allowed; an unknown one is 422 "
            "`unknown_postal_code`), or LAT,LON",
        }
    ),
]


class _Body(BaseModel):
    """Strict, as the engine's parser is: ``"2"`` is no quantity and ``1`` no boolean, and a
    field the body does not know is a mistake (422)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ReserveIn(_Body):
    """A ``reserve`` event's fields plus its position (a ``location_id``), or a
    ``location_group`` to reserve at one of its locations (docs/policy.md); ``event_id`` and
    ``ts`` are optional."""

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
                },
                {
                    "reservation_id": "cart-8813",
                    "location_group": "northeast",
                    "sku": "SKU-1",
                    "qty": 1,
                    "destination": {"postal_code": "10001"},
                },
            ],
            "oneOf": [
                {"required": ["location_id"], "properties": {"location_id": {"type": "string"}}},
                {
                    "required": ["location_group"],
                    "properties": {"location_group": {"type": "string"}},
                },
            ],
        },
    )

    reservation_id: Token
    location_id: Code | None = Field(default=None, description="one of location_id, location_group")
    location_group: Code | None = Field(
        default=None, description="a group of the policy: the reservation is held at one of its"
    )
    destination: Destination | None = Field(
        default=None,
        description="with location_group: try the locations that deliver there soonest first",
    )
    sku: Code
    qty: Qty
    ttl_s: Annotated[int, Field(ge=1, le=MAX_TTL_S), Integral] = DEFAULT_TTL_S
    channel: Code = "web"
    allow_partial: bool = False
    event_id: Token | None = Field(default=None, description="made by the API when absent")
    ts: Instant | None = Field(
        default=None,
        description="now when absent; at most OMNISTOCK_MAX_FUTURE_S (300 s) after the "
        "server's clock, else 422 `ts_in_future` (the clock rule, docs/events.md §2)",
    )
    type: Literal["reserve"] | None = Field(
        default=None, description="optional: the body may be the whole `reserve` event"
    )

    @model_validator(mode="after")
    def _one_place(self) -> ReserveIn:
        if (self.location_id is None) == (self.location_group is None):
            raise PydanticCustomError(
                "invalid_request", "give one of location_id and location_group"
            )
        where = self.destination
        if where is not None and not (
            (where.postal_code is not None and where.lat is None and where.lon is None)
            or (where.postal_code is None and where.lat is not None and where.lon is not None)
        ):
            raise PydanticCustomError(
                "bad_destination", "give destination.postal_code, or lat and lon; not both"
            )
        return self


class FulfilIn(_Body):
    """A ``fulfil``: the quantity handed over (default: all the reservation holds)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"qty": 1}]})

    qty: Qty | None = None
    event_id: Token | None = None
    ts: Instant | None = Field(
        default=None,
        description="now when absent; at most OMNISTOCK_MAX_FUTURE_S (300 s) after the "
        "server's clock, else 422 `ts_in_future` (the clock rule, docs/events.md §2)",
    )


class AtpQueryIn(_Body):
    """A grid of skus by locations: ``location_ids``, and the locations of
    ``location_groups``; with ``channel``, the totals' ``atp`` is that channel's."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"skus": ["SKU-1", "SKU-2"], "location_ids": ["S001"]},
                {"skus": ["SKU-1"], "location_groups": ["dcs"], "channel": "marketplace"},
            ],
            "anyOf": [
                {"required": ["location_ids"], "properties": {"location_ids": {"type": "array"}}},
                {
                    "required": ["location_groups"],
                    "properties": {"location_groups": {"type": "array"}},
                },
            ],
        },
    )

    skus: list[Code] = Field(min_length=1, max_length=MAX_GRID)
    location_ids: list[Code] = Field(default=[], min_length=1, max_length=MAX_GRID)
    location_groups: list[Code] = Field(default=[], min_length=1, max_length=MAX_GRID)
    channel: Code | None = None

    @model_validator(mode="after")
    def _some_place(self) -> AtpQueryIn:
        if not self.location_ids and not self.location_groups:
            raise PydanticCustomError(
                "invalid_request", "give location_ids or location_groups (or both)"
            )
        return self


_LAT = {"type": "number", "minimum": -90, "maximum": 90}
_LON = {"type": "number", "minimum": -180, "maximum": 180}


class Destination(_Body):
    """A US ZIP code, or both coordinates (``api.routes.promise.destination_of`` answers 422
    otherwise); the schema says so with its two shapes."""

    postal_code: Annotated[str, Field(pattern=POSTAL_CODE)] | None = Field(
        default=None, examples=["10001"]
    )
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        null = {"type": "null"}
        return {
            "title": "Destination",
            "description": "Either a US ZIP code (ZIP+4 allowed; an unknown one is 422 "
            "`unknown_postal_code`) or a point, `lat` and `lon`; not both.",
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        "postal_code": {"type": "string", "pattern": POSTAL_CODE},
                        "lat": null,
                        "lon": null,
                    },
                    "required": ["postal_code"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {"postal_code": null, "lat": _LAT, "lon": _LON},
                    "required": ["lat", "lon"],
                    "additionalProperties": False,
                },
            ],
            "examples": [{"postal_code": "10001"}, {"lat": 40.75, "lon": -73.99}],
        }


class PromiseItem(_Body):
    sku: Code
    qty: Qty = 1


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
    at: PromiseInstant | None = Field(default=None, description="the order instant; now if absent")


class ListingIn(_Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"skus": ["SKU-1", "SKU-2"], "destination": {"lat": 40.7, "lon": -74.0}}]
        },
    )

    skus: list[Code] = Field(min_length=1, max_length=MAX_LISTING)
    destination: Destination
    at: PromiseInstant | None = Field(default=None, description="the order instant; now if absent")


ReserveIn.model_rebuild()  # its destination is a Destination, defined after it
