"""The API's answers and error bodies, as ``/openapi.json`` shows them (docs/api.md §3, §6).

The answers (``TypedDict``s) only document: the routes build their bodies with msgspec and hand
FastAPI a finished response, so these types cost nothing per request. ``errors(...)`` documents
error statuses, each with the one envelope, ``Error``. Request bodies are in ``api.schemas``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, Field
from typing_extensions import TypedDict  # pydantic needs it on Python 3.11

# -- Answers ------------------------------------------------------------------------------------

Status = Literal["confirmed", "partial", "rejected", "released", "expired", "fulfilled"]


class Health(TypedDict):
    """``GET /v1/health`` (docs/api.md §6.1)."""

    status: Literal["ok", "catching_up", "failed"]
    mode: Literal["embedded", "kafka"]
    caught_up: bool
    lag: Annotated[
        int,
        Field(description="messages (Kafka; -1 before it first measured) or events not read yet"),
    ]
    dataflow: NotRequired[Annotated[Literal["running", "stopped"], Field(description="embedded")]]
    dead_letters: NotRequired[
        Annotated[int, Field(description="embedded: events its dataflow refused since the start")]
    ]
    bootstrap: NotRequired[Annotated[str, Field(description="Kafka mode")]]
    topic_prefix: NotRequired[Annotated[str, Field(description="Kafka mode")]]
    positions: int
    reservations: int
    promise: Annotated[bool, Field(description="whether a delivery network is loaded")]


class Supply(TypedDict):
    supply_id: str
    qty: int
    eta: datetime


class Position(TypedDict):
    """A position as on ``omnistock.atp`` (docs/events.md §11.2)."""

    location_id: str
    sku: str
    on_hand: int
    reserved: int
    safety_stock: int
    unsellable: int
    available: int
    atp: int
    oversold: int
    inbound: list[Supply]
    as_of: datetime | None
    channels: Annotated[
        dict[str, int], Field(description="each channel of the policy: its ATP here")
    ]
    sold_7d: Annotated[int, Field(description="units sold on the 7 UTC dates to `as_of`'s")]
    stockout_eta: Annotated[
        datetime | None, Field(description="when atp runs out at the last 7 days' pace")
    ]
    atp_at: NotRequired[
        Annotated[int, Field(description="with `?at=` only: the ATP on that instant")]
    ]


class Totals(TypedDict):
    on_hand: int
    reserved: int
    atp: int


class AtpQueryOut(TypedDict):
    positions: list[Position]
    totals: dict[str, Totals]
    channel: NotRequired[
        Annotated[str, Field(description="with `channel`: the channel the totals' atp is of")]
    ]


class GroupLocation(TypedDict):
    location_id: str
    atp: int


class GroupAtp(TypedDict):
    """A location group's ATP for one channel: the sum over its locations (docs/policy.md)."""

    group_id: str
    sku: str
    channel: str
    atp: int
    locations: list[GroupLocation]


class Line(TypedDict):
    """A cart's line: what it holds (docs/events.md §12)."""

    sku: str
    qty: int
    location_id: NotRequired[
        Annotated[str, Field(description="a cart across locations: where the line is held")]
    ]


class Short(TypedDict):
    """A line a cart was refused for: asked ``qty``, the channel's ATP was ``atp``."""

    sku: str
    qty: int
    atp: int
    location_id: NotRequired[Annotated[str, Field(description="a cart across locations")]]


_CART = "a cart's (docs/events.md §12): what each line holds, in place of sku and qty"


class Outcome(TypedDict):
    """A reservation outcome as on ``omnistock.reservations`` (docs/events.md §8.5); a cart's
    carries ``lines`` in place of ``sku`` and ``qty``; a cart across locations has no
    ``location_id`` of its own (each line names its) and lists its ``parts``."""

    reservation_id: str
    location_id: NotRequired[str]
    sku: NotRequired[str]
    status: Status
    qty: NotRequired[int]
    expires_at: datetime
    reason: str | None
    ts: datetime
    event_id: str | None
    repeat: NotRequired[
        Annotated[bool, Field(description="the answer to a reserve of an id seen before")]
    ]
    current_status: NotRequired[Status | None]
    current_qty: NotRequired[int | None]
    location_group: NotRequired[
        Annotated[str, Field(description="a reservation made at a location group")]
    ]
    lines: NotRequired[Annotated[list[Line], Field(description=_CART)]]
    current_lines: NotRequired[
        Annotated[list[Line], Field(description="a cart's repeat: what each line holds now")]
    ]
    short: NotRequired[
        Annotated[list[Short], Field(description="a cart refused for want of stock")]
    ]
    kit: NotRequired[Annotated[str, Field(description="a kit's reservation: the kit sku")]]
    parts: NotRequired[
        Annotated[
            list[dict[str, Any]],
            Field(description="a cart across locations: each location's part, as GET shows it"),
        ]
    ]


class Reservation(TypedDict):
    """A reservation as the read model last saw it: its latest outcome and its first; a cart's
    with ``lines`` and ``first_lines`` in place of ``sku``, ``qty`` and ``first_qty``; a cart
    across locations with its ``parts``."""

    reservation_id: str
    location_id: NotRequired[str]
    sku: NotRequired[str]
    status: Status
    qty: NotRequired[int]
    expires_at: datetime
    updated_at: datetime | None
    reason: str | None
    first_status: Status
    first_qty: NotRequired[int]
    first_reason: str | None
    location_group: NotRequired[str | None]
    lines: NotRequired[Annotated[list[Line], Field(description=_CART)]]
    first_lines: NotRequired[list[Line]]
    short: NotRequired[
        Annotated[list[Short], Field(description="a cart's first outcome was refused for these")]
    ]
    kit: NotRequired[str]
    parts: NotRequired[
        Annotated[
            list[dict[str, Any]],
            Field(description="a cart across locations: each location's part, as GET shows it"),
        ]
    ]
    repeat: NotRequired[
        Annotated[bool, Field(description="release or fulfil: its event_id was applied before")]
    ]


class Pending(TypedDict):
    """Sent, not decided within the API's timeout: the engine decides it later."""

    status: Literal["pending"]
    reservation_id: str
    event_id: str


class PendingReservation(Pending):
    location_id: NotRequired[str]
    sku: NotRequired[str]
    lines: NotRequired[list[Line]]


class KitComponent(TypedDict):
    """A kit's component at the location: its position as ``GET /v1/atp`` gives it (only
    ``atp: 0`` and ``channels`` when no event has named it there), and ``qty`` per kit."""

    location_id: str
    sku: str
    qty: Annotated[int, Field(description="units of it in one kit")]
    atp: int
    channels: dict[str, int]
    on_hand: NotRequired[int]
    reserved: NotRequired[int]
    safety_stock: NotRequired[int]
    unsellable: NotRequired[int]
    available: NotRequired[int]
    oversold: NotRequired[int]
    inbound: NotRequired[list[Supply]]
    as_of: NotRequired[datetime | None]
    sold_7d: NotRequired[int]
    stockout_eta: NotRequired[datetime | None]
    atp_at: NotRequired[int]


class KitPosition(TypedDict):
    """A kit (policy ``kits``): no stock of its own; its ATP is the least over its components
    of ``component atp // qty``, for each channel too."""

    location_id: str
    sku: str
    kit: Literal[True]
    atp: int
    channels: dict[str, int]
    components: list[KitComponent]
    atp_at: NotRequired[
        Annotated[int, Field(description="with `?at=` only: the kit's ATP on that instant")]
    ]


class Refusal(TypedDict):
    index: int
    reason: str
    code: str
    message: str


class EventsOut(TypedDict):
    accepted: int
    invalid: list[Refusal]
    dead_letters: NotRequired[
        Annotated[list[Refusal], Field(description="embedded: refused by the engine at once")]
    ]


class Point(TypedDict):
    postal_code: NotRequired[str]
    lat: float
    lon: float


class DeliveryOption(TypedDict):
    service_level: str
    location_id: str
    ship_by: datetime
    deliver_by: date
    distance_km: float


class Pickup(TypedDict):
    location_id: str
    name: str
    distance_km: float
    atp: int
    ready_at: datetime


class ItemPromise(TypedDict):
    sku: str
    qty: int
    options: list[DeliveryOption]
    pickup: list[Pickup]


class SingleLocation(TypedDict):
    location_id: str
    distance_km: float
    deliver_by: dict[str, date]
    ship_by: dict[str, datetime]


class Cart(TypedDict):
    deliver_by: dict[str, date]
    single_location: SingleLocation | None


class PromiseOut(TypedDict):
    at: datetime
    destination: Point
    items: list[ItemPromise]
    cart: Cart
    region: NotRequired[Annotated[str, Field(description="the destination, a region")]]


_TABLE = "answered from the promise table: "


class ListingSku(TypedDict):
    sku: str
    deliver_by: dict[str, date]
    as_of: NotRequired[
        Annotated[datetime | None, Field(description=_TABLE + "the instant it was computed for")]
    ]
    valid_until: NotRequired[
        Annotated[datetime | None, Field(description=_TABLE + "when the clock may change it")]
    ]


class ListingOut(TypedDict):
    at: datetime
    destination: Point
    region: NotRequired[
        Annotated[str, Field(description="a region destination, or the table's for a ZIP code")]
    ]
    skus: list[ListingSku]


class PromiseLevel(TypedDict):
    deliver_by: date
    location_id: str
    ship_by: datetime


class PromiseEvent(TypedDict):
    """``GET /v1/promise/stream``: a sku's new levels in the region (``{}``: none serves it)."""

    sku: str
    region: str
    as_of: datetime
    valid_until: datetime | None
    levels: dict[str, PromiseLevel]


class AvailabilityOut(TypedDict):
    sku: str
    qty: int
    near: Point
    radius_km: float
    stores: list[Pickup]


AlertKind = Literal[
    "stockout", "back_in_stock", "low_stock", "oversold", "replenish", "stockout_soon"
]


class AlertOut(TypedDict):
    """An alert as on ``omnistock.alerts`` (docs/events.md §11.4): the position's figures after
    the change that fired it."""

    kind: AlertKind
    location_id: str
    sku: str
    ts: datetime
    on_hand: int
    reserved: int
    safety_stock: int
    unsellable: int
    available: int
    atp: int
    oversold: int
    inbound_qty: Annotated[int, Field(description="expected supply, all of it")]
    sold_7d: int
    stockout_eta: datetime | None


class AlertsOut(TypedDict):
    alerts: Annotated[list[AlertOut], Field(description="newest first")]


# -- Errors -------------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    code: str = Field(description="stable, for programs (docs/api.md §3)")
    message: str = Field(description="for people; may change")
    details: Any = Field(description="null, or an object or list that says more")


class Error(BaseModel):
    """Every error's body: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorBody


_WHEN = {
    400: "`bad_json`: the body is not JSON, or is nested too deeply to read",
    401: "`unauthorized`: no key, or an unknown key (with `WWW-Authenticate: Bearer`)",
    403: "`forbidden`: the key lacks the scope (`details.needs`)",
    404: "`unknown_reservation` or `unknown_position`: never seen",
    409: "refused by the engine (`details` says more)",
    413: "`body_too_large`: the body is over the limit",
    422: "`invalid_request`: a field missing, of the wrong type, out of range or unknown "
    "(`details` lists each problem)",
    503: "`not_ready`: the replica is catching up, or its dataflow has stopped",
}
Errors = dict[int | str, dict[str, Any]]


def errors(*statuses: int, **when: str) -> Errors:
    """OpenAPI ``responses`` entries for error statuses, each with the envelope; ``when``
    (``e404="..."``) replaces a status's description."""
    return {
        status: {"model": Error, "description": when.get(f"e{status}", _WHEN[status])}
        for status in statuses
    }
