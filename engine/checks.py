"""The checks of the rules (``engine.rules``): an impossible event is ``Rejected`` before
anything changes (docs/events.md §3, §8).

Each check reads the book and the event and changes nothing: a ``release`` or ``fulfil`` must
name an active reservation of its position (a cart's lines, ``engine.carts``), a ``restock`` or
``write_off`` take at most the unsellable stock there is, a ``set_safety_stock`` for a channel
name one of the policy's, and a kit has no stock of its own.
"""

from __future__ import annotations

from typing import Any

from engine import carts
from engine.book import Book
from engine.kinds import FULFIL, RELEASE, SET_SAFETY_STOCK
from engine.outputs import Rejected


def check_held(book: Book, event: Any) -> Rejected | None:
    """A ``release`` or ``fulfil`` must name an active reservation of this position."""
    found = book.reservation(event.reservation_id)
    if found is None:
        return Rejected(
            "unknown_reservation", f"no reservation {event.reservation_id!r} at {book.location_id}"
        )
    cart = found.lines is not None
    if not cart and event.sku is not None and found.sku != event.sku:
        return Rejected(
            "reservation_elsewhere",
            f"reservation {event.reservation_id!r} is held for sku {found.sku!r}",
        )
    if not found.active:
        return Rejected(
            "reservation_ended", f"reservation {event.reservation_id!r} is already {found.status}"
        )
    if found.expires_at <= event.ts:
        return Rejected("reservation_ended", f"reservation {event.reservation_id!r} has expired")
    if type(event) is not FULFIL:
        return None
    if cart:
        why = carts.check_fulfil(found, event)
        return None if why is None else Rejected(*why)
    if event.lines is not None:
        return Rejected("bad_lines", f"reservation {event.reservation_id!r} is not a cart")
    if event.qty is not None and event.qty > found.qty:
        return Rejected(
            "fulfil_exceeds_held",
            f"fulfil of {event.qty} but reservation {event.reservation_id!r} holds {found.qty}",
        )
    return None


def check(book: Book, event: Any) -> Rejected | None:
    """A ``release`` or ``fulfil`` names a reservation held here (``check_held``); a
    ``restock`` or ``write_off`` takes at most the unsellable stock there is; a
    ``set_safety_stock`` for a channel names one of the policy's."""
    cls = type(event)
    if cls is RELEASE or cls is FULFIL:
        return check_held(book, event)
    kits = book.kits
    if kits is not None and event.sku in kits:
        return Rejected(
            "kit_has_no_stock",
            f"{event.sku} is a kit: its stock is its components' - at `$.sku`",
        )
    if cls is SET_SAFETY_STOCK:
        if event.channel in book.by_channel:
            return None
        return Rejected(
            "unknown_channel", f"channel {event.channel!r} is not a channel of the policy"
        )
    found = book.positions.get(event.sku)
    unsellable = 0 if found is None else found.unsellable
    if event.qty > unsellable:
        return Rejected(
            "exceeds_unsellable",
            f"{event.qty} units but {unsellable} unsellable at {book.location_id}/{event.sku}",
        )
    return None
