"""Inventory events: their shapes (docs/events.md §1, §3), as msgspec structs.

Every event is a ``msgspec.Struct`` of the tagged union ``Event`` (tag field ``type``); msgspec
decodes and checks shapes, types and ranges in C. Reading an event from its text, with the
checks a schema cannot say, is ``engine.events.parse``, which also re-exports these names.
This module stays interpreted: mypyc compiles ``engine.events`` but not subclasses of
``msgspec.Struct`` (``setup.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

import msgspec

MAX_QTY: Final = 1_000_000
DEFAULT_TTL_S: Final = 900
MAX_LINES: Final = 100
MAX_TTL_S: Final = 604_800

# Identifier syntax is checked by ``engine.events`` after decoding, not by a
# msgspec ``pattern``: msgspec runs patterns through Python's ``re`` and that alone would halve
# the parse rate; known-good identifiers are remembered instead (they repeat on every event).
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Qty = Annotated[int, msgspec.Meta(ge=1, le=MAX_QTY)]
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_QTY)]
Delta = Annotated[int, msgspec.Meta(ge=-MAX_QTY, le=MAX_QTY)]
TtlS = Annotated[int, msgspec.Meta(ge=1, le=MAX_TTL_S)]
Instant = int | Annotated[datetime, msgspec.Meta(tz=True)]


class _Event(msgspec.Struct, tag_field="type", kw_only=True, gc=False):
    """Fields common to every event. ``ts`` is an aware datetime once ``parse`` has returned.

    ``sku`` is required of every event but a cart's (docs/events.md §12): a ``reserve`` with
    ``lines``, a ``release`` or ``fulfil`` (the reservation names its skus) and an engine's
    ``revoke``. ``engine.events.parse`` says so; the schema cannot, as a subclass that
    redeclared the field would move it out of the common tail (``engine.kinds``).
    """

    event_id: Token
    location_id: Code
    sku: Code | None = None
    ts: Instant


class Line(msgspec.Struct, frozen=True, gc=False):
    """One line of a cart: a sku and its quantity (docs/events.md §12)."""

    sku: Code
    qty: Qty


Lines = list[Line]  # 1 to MAX_LINES, distinct skus: checked by ``engine.events``


class Receipt(_Event, tag="receipt"):
    qty: Qty
    supply_id: Token | None = None


class Sale(_Event, tag="sale"):
    qty: Qty
    reservation_id: Token | None = None


class Return(_Event, tag="return"):
    qty: Qty
    sellable: bool = True


class Adjust(_Event, tag="adjust"):
    delta: Delta


class CycleCount(_Event, tag="count"):
    qty: Count


class TransferOut(_Event, tag="transfer_out"):
    qty: Qty
    to_location_id: Code
    eta: Instant
    supply_id: Token


class Inbound(_Event, tag="inbound"):
    qty: Qty
    eta: Instant
    supply_id: Token


class InboundCancel(_Event, tag="inbound_cancel"):
    supply_id: Token


class Reserve(_Event, tag="reserve"):
    """One sku (``sku``, ``qty``), or a cart (``lines``, 2 to 100 distinct skus), at one
    location; a kit sku is a cart of its components (docs/events.md §12)."""

    reservation_id: Token
    qty: Qty | None = None
    ttl_s: TtlS = DEFAULT_TTL_S
    channel: Code = "web"
    allow_partial: bool = False
    location_group: Code | None = None  # a try of a reservation at a group (docs/policy.md)
    lines: Lines | None = None


class Release(_Event, tag="release"):
    reservation_id: Token


class Fulfil(_Event, tag="fulfil"):
    """``qty`` of a one-sku reservation, or ``lines`` of a cart; by default all it holds."""

    reservation_id: Token
    qty: Qty | None = None
    lines: Lines | None = None


class SetSafetyStock(_Event, tag="set_safety_stock"):
    qty: Count
    channel: Code | None = None


class Restock(_Event, tag="restock"):
    """Unsellable stock refurbished back to the shelf (docs/events.md)."""

    qty: Qty


class WriteOff(_Event, tag="write_off"):
    """Unsellable stock gone for good."""

    qty: Qty


class SetAlertThresholds(_Event, tag="set_alert_thresholds"):
    """This position's alert thresholds; a field not given keeps what applies there."""

    low_stock: Count | None = None
    reorder_point: Count | None = None
    stockout_days: Count | None = None


class Revoke(_Event, tag="revoke"):
    """Written by the engine, never by a client (docs/events.md §8.5): the hold made here by a
    ``reserve`` of an id that another position had claimed first ends, silently, and this book
    forgets it. ``claimed_by`` names the claiming location, ``reserve_event_id`` the reserve
    whose hold it ends."""

    reservation_id: Token
    claimed_by: Code
    reserve_event_id: Token


Event = (
    Receipt
    | Sale
    | Return
    | Adjust
    | CycleCount
    | TransferOut
    | Inbound
    | InboundCancel
    | Reserve
    | Release
    | Fulfil
    | SetSafetyStock
    | Restock
    | WriteOff
    | SetAlertThresholds
    | Revoke
)
EVENT_TYPES: Final = tuple(cls.__struct_config__.tag for cls in Event.__args__)
