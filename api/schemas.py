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
MAX_LINES = 100  # lines of one cart (docs/events.md §12), at one location or across several
POSTAL_CODE = r"^[0-9]{5}(-[0-9]{4})?$"  # a US ZIP code, or ZIP+4
_LAT_TEXT = r"[+-]?(90(\.0+)?|[1-8]?[0-9](\.[0-9]+)?)"
_LON_TEXT = r"[+-]?(180(\.0+)?|(1[0-7][0-9]|[1-9]?[0-9])(\.[0-9]+)?)"
NEAR = rf"^([0-9]{{5}}(-[0-9]{{4}})?| *{_LAT_TEXT} *, *{_LON_TEXT} *)$"
_near = re.compile(NEAR)
# Codes a validator may raise as its error type: the 422 answers with that code rather than
# invalid_request (docs/api.md §3).
VALIDATION_CODES = frozenset({"at_out_of_range", "bad_destination", "duplicate_line"})
MAX_CART_ID = 63  # a cart across locations: its parts are {id}@{location_id}, at most 128


def _integral(value: Any) -> Any:
    """A JSON number without a fraction (``2.0``) is an integer, as JSON Schema says; strings
    and booleans stay refused (strict)."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


Integral = BeforeValidator(_integral)
Qty = Annotated[int, Field(ge=1, le=MAX_QTY), Integral]  # the bounds first: else in the schema
CODE = r"^[A-Za-z0-9_.\-]{1,64}$"  # an id: a location, a sku, a group, a region
Code = Annotated[str, Field(pattern=CODE, examples=["S001"])]
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


class ReserveLine(_Body):
    """A cart's line: a sku and its quantity; across locations each line names its location."""

    sku: Code
    qty: Qty
    location_id: Code | None = Field(
        default=None, description="a cart across locations: where this line is held"
    )


class FulfilLine(_Body):
    """A line handed over: a sku and its quantity (a cart across locations: and where)."""

    sku: Code
    qty: Qty
    location_id: Code | None = Field(
        default=None, description="a cart across locations: the location of the line"
    )


_STRING: dict[str, Any] = {"type": "string"}
_NULL: dict[str, Any] = {"type": "null"}
_NO_CART = {"lines": _NULL, "sku": _STRING, "qty": {"type": "integer"}}
_CART = {
    "sku": _NULL,
    "qty": _NULL,
    "location_group": _NULL,
    "destination": _NULL,
    "allow_partial": {"const": False},
}
# The body's shapes, exactly one of them: one sku at a location or at a group; a cart at a
# location (its lines name no location); a cart across locations (each line names its).
_ONE_PLACE: dict[str, Any] = {
    "oneOf": [
        {
            "required": ["location_id", "sku", "qty"],
            "properties": {"location_id": _STRING, "location_group": _NULL, **_NO_CART},
        },
        {
            "required": ["location_group", "sku", "qty"],
            "properties": {"location_group": _STRING, "location_id": _NULL, **_NO_CART},
        },
        {
            "required": ["location_id", "lines"],
            "properties": {
                "location_id": _STRING,
                "lines": {"type": "array", "items": {"properties": {"location_id": _NULL}}},
                **_CART,
            },
        },
        {
            "required": ["lines"],
            "properties": {
                "reservation_id": {
                    "type": "string",
                    "pattern": r"^[\x20-\x3f\x41-\x7e]+$",
                    "maxLength": MAX_CART_ID,
                },
                "location_id": _NULL,
                "lines": {
                    "type": "array",
                    "items": {"required": ["location_id"], "properties": {"location_id": _STRING}},
                },
                **_CART,
            },
        },
    ],
}


class ReserveIn(_Body):
    """A ``reserve`` event's fields plus its position (a ``location_id``), or a
    ``location_group`` to reserve at one of its locations (docs/policy.md); ``event_id`` and
    ``ts`` are optional. A cart (docs/events.md §12) gives ``lines`` in place of ``sku`` and
    ``qty``: at one ``location_id``, or across locations when every line names its own
    (``api.carts``)."""

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
                {
                    "reservation_id": "cart-8814",
                    "location_id": "S001",
                    "lines": [{"sku": "SKU-1", "qty": 2}, {"sku": "SKU-2", "qty": 1}],
                },
                {
                    "reservation_id": "cart-8815",
                    "lines": [
                        {"sku": "SKU-1", "qty": 1, "location_id": "S001"},
                        {"sku": "SKU-2", "qty": 1, "location_id": "S002"},
                    ],
                },
            ],
            **_ONE_PLACE,
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
    sku: Code | None = Field(default=None, description="with qty; or lines")
    qty: Qty | None = Field(default=None, description="with sku; or lines")
    lines: list[ReserveLine] | None = Field(
        default=None,
        min_length=2,
        max_length=MAX_LINES,
        description="a cart, held whole or not at all, in place of sku and qty: distinct skus "
        "at location_id; or, with no location_id, each line at its own location_id (a cart "
        "across locations)",
    )
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

    @property
    def across(self) -> bool:
        """A cart across locations: its lines name their locations."""
        return self.lines is not None and self.location_id is None

    @model_validator(mode="after")
    def _one_place(self) -> ReserveIn:
        if self.lines is not None:
            _check_cart(self)
        elif self.sku is None or self.qty is None:
            raise PydanticCustomError("invalid_request", "give sku and qty, or lines")
        elif (self.location_id is None) == (self.location_group is None):
            raise PydanticCustomError(
                "invalid_request", "give one of location_id and location_group"
            )
        if self.destination is not None and self.destination.shape is None:
            raise PydanticCustomError(
                "bad_destination",
                "give one of destination.postal_code, lat and lon, or region",
            )
        return self


def _check_cart(body: ReserveIn) -> None:
    """A cart's body: lines in place of sku and qty, held whole, at one place."""
    lines = body.lines or []

    def bad(message: str) -> PydanticCustomError:
        return PydanticCustomError("invalid_request", message)

    if body.sku is not None or body.qty is not None:
        raise bad("a cart's lines take the place of sku and qty")
    if body.allow_partial:
        raise bad("a cart is held whole: allow_partial is not allowed with lines")
    if body.location_group is not None or body.destination is not None:
        raise bad("a cart is held at location_id, or each line at its own location_id")
    named = [line.location_id is not None for line in lines]
    if body.location_id is not None:
        if any(named):
            raise bad("give location_id once for the cart, or on every line, not both")
        _distinct([line.sku for line in lines])
        return
    if not all(named):
        raise bad("give location_id for the cart, or on every line")
    rid = body.reservation_id
    if "@" in rid or len(rid) > MAX_CART_ID:
        raise bad(
            f"a cart across locations: its reservation_id has at most {MAX_CART_ID} "
            "characters and no '@' (each location's part is named {reservation_id}@{location_id})"
        )
    _distinct([f"{line.sku} at {line.location_id}" for line in lines])


def _distinct(names: list[str]) -> None:
    """A sku is on one line of a cart (at one location): what no schema can say."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise PydanticCustomError("duplicate_line", f"{name} is on two lines of the cart")
        seen.add(name)


class FulfilIn(_Body):
    """A ``fulfil``: the quantity handed over (default: all the reservation holds); a cart's by
    ``lines``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"qty": 1}, {"lines": [{"sku": "SKU-1", "qty": 1}]}],
            "anyOf": [{"properties": {"qty": _NULL}}, {"properties": {"lines": _NULL}}],
        },
    )

    qty: Qty | None = None
    lines: list[FulfilLine] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_LINES,
        description="a cart's lines handed over (default: all it holds), in place of qty",
    )
    event_id: Token | None = None
    ts: Instant | None = Field(
        default=None,
        description="now when absent; at most OMNISTOCK_MAX_FUTURE_S (300 s) after the "
        "server's clock, else 422 `ts_in_future` (the clock rule, docs/events.md §2)",
    )

    @model_validator(mode="after")
    def _qty_or_lines(self) -> FulfilIn:
        if self.qty is not None and self.lines is not None:
            raise PydanticCustomError("invalid_request", "give qty or lines, not both")
        if self.lines is not None:
            _distinct(
                [f"{line.sku} at {line.location_id or 'its location'}" for line in self.lines]
            )
        return self


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
    """A US ZIP code, both coordinates, or a region of the network file: exactly one
    (``api.routes.promise.destination_of`` answers 422 otherwise); the schema says so with its
    three shapes."""

    postal_code: Annotated[str, Field(pattern=POSTAL_CODE)] | None = Field(
        default=None, examples=["10001"]
    )
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    region: Code | None = Field(default=None, examples=["100"])

    @property
    def shape(self) -> dict[str, Any] | None:
        """The destination as the calculator takes it, or ``None`` when it is not exactly one
        of ``postal_code``, ``lat`` and ``lon``, ``region``."""
        postal, point, region = self.postal_code, (self.lat, self.lon), self.region
        if postal is not None and point == (None, None) and region is None:
            return {"postal_code": postal}
        if postal is None and None not in point and region is None:
            return {"lat": self.lat, "lon": self.lon}
        if postal is None and point == (None, None) and region is not None:
            return {"region": region}
        return None

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        null = {"type": "null"}
        return {
            "title": "Destination",
            "description": "One of: a US ZIP code (ZIP+4 allowed; an unknown one is 422 "
            "`unknown_postal_code`), a point (`lat` and `lon`), or a `region` of the network "
            "file (one it does not name is 422 `unknown_region`).",
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        "postal_code": {"type": "string", "pattern": POSTAL_CODE},
                        "lat": null,
                        "lon": null,
                        "region": null,
                    },
                    "required": ["postal_code"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {"postal_code": null, "lat": _LAT, "lon": _LON, "region": null},
                    "required": ["lat", "lon"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {
                        "postal_code": null,
                        "lat": null,
                        "lon": null,
                        "region": {"type": "string", "pattern": CODE},
                    },
                    "required": ["region"],
                    "additionalProperties": False,
                },
            ],
            "examples": [
                {"postal_code": "10001"},
                {"lat": 40.75, "lon": -73.99},
                {"region": "100"},
            ],
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
