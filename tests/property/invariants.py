"""Invariants of the position and reservation rules, written once as named predicates.

Reused by the property tests here and, later, by the dataflow tests.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, TypedDict

from engine.book import Book
from engine.outputs import ReservationChanged
from engine.policy import Policy


def holds_add_up(book: Book) -> bool:
    """Every position's ``reserved`` is the sum of what its active reservations hold."""
    for position in book.positions.values():
        held = sum(r.qty for r in (position.holds or {}).values())
        if held != position.reserved or any(not r.active for r in (position.holds or {}).values()):
            return False
    return True


class BeforeReserve(TypedDict):
    """What a reserve event may take, read from its position just before it (after the
    position's due expiries): the ATP of the channel it is decided on (``None`` when the policy
    takes its channel as none: nothing may be held), and the event's ``qty``."""

    channel_atp: int | None
    qty: int


def channel_taken_as(policy: Policy, name: str) -> str | None:
    """The channel a reserve naming ``name`` is decided on: that one when the policy names it,
    else the policy's ``default_channel`` (``None`` without one: ``unknown_channel``)."""
    if any(channel.name == name for channel in policy.channels):
        return name
    return policy.default_channel


def before_reserve(
    channels: dict[str, int], policy: Policy, channel: str, qty: int
) -> BeforeReserve:
    """``BeforeReserve`` from the position's published ``channels`` (``{name: atp_c}``) just
    before a reserve naming ``channel`` and ``qty``."""
    taken_as = channel_taken_as(policy, channel)
    return {"channel_atp": None if taken_as is None else channels[taken_as], "qty": qty}


def channels_before(book: Book, sku: str, ts: datetime) -> dict[str, int]:
    """A position's published ``channels`` as a reserve at ``ts`` finds them: after the
    position's due expiries (reckoned on a copy: the book is left as it is). A position not yet
    made has no stock: every channel's ATP is 0."""
    position = book.positions.get(sku)
    if position is None:
        return {channel.name: 0 for channel in book.channels}
    due = sum(r.qty for r in (position.holds or {}).values() if r.expires_at <= ts)
    seen = copy.copy(position)
    seen.reserved -= due
    return seen.wire(book.channels).channels


def reserve_within_channel_atp(before: BeforeReserve, outputs: list[Any]) -> bool:
    """A reserve holds at most the ATP of its channel at that moment (docs/events.md §8.1,
    docs/policy.md §5): every confirmed or partial outcome it makes (repeats aside) holds
    ``qty <= atp_c`` and at most what was asked, a partial one less than was asked, and nothing
    at all for a channel the policy does not take."""
    room = before["channel_atp"]
    for out in outputs:
        if (
            isinstance(out, ReservationChanged)
            and not out.repeat
            and out.status in ("confirmed", "partial")
        ):
            if room is None or out.qty > room or out.qty > before["qty"] or out.qty < 1:
                return False
            if out.status == "partial" and out.qty >= before["qty"]:
                return False
    return True


def one_hold_per_reservation_id(books: list[Book]) -> bool:
    """A reservation id holds stock at one position at most, across every book
    (docs/events.md §8.5)."""
    holders: dict[str, int] = {}
    for book in books:
        for position in book.positions.values():
            for rid in position.holds or {}:
                holders[rid] = holders.get(rid, 0) + 1
    return all(count == 1 for count in holders.values())
