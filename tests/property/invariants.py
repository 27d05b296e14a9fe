"""Invariants of the position and reservation rules, written once as named predicates.

Reused by the property tests here and, later, by the dataflow tests.
"""

from __future__ import annotations

from typing import Any, TypedDict

from engine.book import Book
from engine.outputs import ReservationChanged


def holds_add_up(book: Book) -> bool:
    """Every position's ``reserved`` is the sum of what its active reservations hold."""
    for position in book.positions.values():
        held = sum(r.qty for r in (position.holds or {}).values())
        if held != position.reserved or any(not r.active for r in (position.holds or {}).values()):
            return False
    return True


class BeforeReserve(TypedDict):
    """A position's quantities and a reserve event's ``channel`` and ``qty``, just before it."""

    on_hand: int
    reserved: int
    safety_stock: int
    channel: str
    qty: int


def reserved_never_exceeds_rule(before: BeforeReserve, outputs: list[Any]) -> bool:
    """A reserve takes at most what the rule allowed at that moment (docs/events.md §8.1).

    ``before`` holds the position's ``on_hand``, ``reserved``, ``safety_stock`` and the event's
    ``channel`` and ``qty`` just before the reserve.
    """
    room = before["on_hand"] - before["reserved"]
    if before["channel"] != "pos":
        room -= before["safety_stock"]
    for out in outputs:
        if (
            isinstance(out, ReservationChanged)
            and not out.repeat
            and out.status in ("confirmed", "partial")
        ):
            if out.qty > max(room, 0) or out.qty > before["qty"]:
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
