"""Invariants of the position and reservation rules, written once as named predicates.

Reused by the property tests here and, later, by the dataflow tests. A cart (docs/events.md
§12) is one ``Reservation`` with ``lines``, sitting in the ``holds`` of each line's position:
what it holds at a position is that line's qty (``held_at``).
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, TypedDict

import msgspec

from engine.book import Book
from engine.holds import Reservation
from engine.outputs import ReservationChanged
from engine.policy import Policy
from engine.replay import Replay

HELD = ("confirmed", "partial")


def held_at(reservation: Reservation, sku: str) -> int:
    """What a reservation holds at the position ``sku``: a cart's line there, else its qty."""
    if reservation.lines is not None:
        return reservation.lines.get(sku, 0)
    return reservation.qty


def holds_add_up(book: Book) -> bool:
    """Every position's ``reserved`` is the sum of what its active reservations hold there."""
    for position in book.positions.values():
        holds = (position.holds or {}).values()
        held = sum(held_at(r, position.sku) for r in holds)
        if held != position.reserved or any(not r.active for r in holds):
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
    made has no stock: every channel's ATP is 0. A cart reserve expires every due hold of its
    location first: at a line's position that is the same figure (a hold at a position sits in
    its ``holds``)."""
    position = book.positions.get(sku)
    if position is None:
        return {channel.name: 0 for channel in book.channels}
    holds = (position.holds or {}).values()
    due = sum(held_at(r, sku) for r in holds if r.expires_at <= ts)
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
    (docs/events.md §8.5); a cart's, at its lines' positions of one book."""
    holders: dict[str, list[tuple[str, Reservation]]] = {}
    for book in books:
        for position in book.positions.values():
            for rid, r in (position.holds or {}).items():
                holders.setdefault(rid, []).append((book.location_id, r))
    for found in holders.values():
        if len({location for location, _ in found}) > 1:
            return False
        if len({id(r) for _, r in found}) > 1:  # two reservations under one id
            return False
        first = found[0][1]
        if first.lines is None and len(found) > 1:
            return False
    return True


# -- carts and kits (docs/events.md §12) -------------------------------------------------------


def asked_parts(policy: Policy, event: Any) -> dict[str, int]:
    """What a cart or kit reserve asks of each stock sku: a kit (reserved, or on a line) as its
    components, lines naming one sku added up."""
    asked = (
        [(event.sku, event.qty)] if event.lines is None else [(x.sku, x.qty) for x in event.lines]
    )
    wanted: dict[str, int] = {}
    for sku, qty in asked:
        for part, each in policy.kits.get(sku, ((sku, 1),)):
            wanted[part] = wanted.get(part, 0) + qty * each
    return wanted


class BeforeCart(TypedDict):
    """What a cart or kit reserve may take, read from its location just before it (after the
    due expiries): each line's ``asked`` qty and the ATP of the channel it is decided on there
    (``rooms``; ``None`` when the policy takes its channel as none), and for a kit with
    ``allow_partial`` its components' qty per kit and the kits asked."""

    asked: dict[str, int]
    rooms: dict[str, int] | None
    per_kit: dict[str, int] | None
    kits: int


def before_cart(book: Book | None, policy: Policy, event: Any) -> BeforeCart:
    """``BeforeCart`` for a cart or kit reserve about to be applied to ``book`` (``None``: a
    location with nothing yet)."""
    asked = asked_parts(policy, event)
    taken_as = channel_taken_as(policy, event.channel)
    rooms: dict[str, int] | None = None
    if taken_as is not None:
        rooms = {}
        for sku in asked:
            if book is None:
                rooms[sku] = 0
            else:
                rooms[sku] = channels_before(book, sku, event.ts)[taken_as]
    partial = event.lines is None and event.allow_partial
    per_kit = dict(policy.kits[event.sku]) if partial else None
    return {"asked": asked, "rooms": rooms, "per_kit": per_kit, "kits": event.qty or 0}


def cart_within_channel_atp(before: BeforeCart, rid: str, outputs: list[Any]) -> bool:
    """A cart is held whole or not at all, each line within its channel's ATP there at that
    moment (the reserve's first outcome, repeats aside): ``confirmed`` holds every line as
    asked; ``partial`` (a kit's ``allow_partial`` only) the most whole kits, fewer than asked,
    that every component's ATP allows; ``rejected`` holds nothing and, for want of stock,
    names in ``short`` exactly the lines that exceed their ATP."""
    asked, rooms = before["asked"], before["rooms"]
    for out in outputs:
        if not isinstance(out, ReservationChanged) or out.repeat or out.reservation_id != rid:
            continue
        if out.status not in (*HELD, "rejected"):
            continue  # an expiry the reserve ran first (a reused id's old hold)
        lines = dict(out.lines or ())
        if out.sku is not None or list(lines) != list(asked) or out.qty != sum(lines.values()):
            return False
        if out.status == "rejected":
            if any(lines.values()):
                return False
            if rooms is None:
                return out.short is None
            shorts = [(s, q, rooms[s]) for s, q in asked.items() if q > rooms[s]]
            return bool(shorts) and list(out.short or ()) == shorts
        if rooms is None or any(q > rooms[s] for s, q in lines.items()):
            return False
        if out.status == "confirmed":
            return lines == asked
        per_kit = before["per_kit"]
        if per_kit is None:
            return False  # only a kit is ever held in part
        whole = [
            w for w in range(1, before["kits"]) if lines == {s: w * q for s, q in per_kit.items()}
        ]
        if not whole:
            return False
        more = whole[0] + 1
        return any(more * q > rooms[s] for s, q in per_kit.items())
    return True


def carts_all_or_nothing(book: Book) -> bool:
    """Every cart of the book holds its lines together: ``qty`` is their sum; an active one
    sits in the holds of every line's position (the one object) and no line holds more than
    it was granted; a refused or ended one holds nothing and sits nowhere."""
    for rid, r in book.reservations.items():
        if r.lines is None:
            continue
        if r.qty != sum(r.lines.values()) or any(q < 0 for q in r.lines.values()):
            return False
        granted = dict(r.first_lines or ())
        if list(granted) != list(r.lines):
            return False
        for sku in r.lines:
            position = book.positions.get(sku)
            there = None if position is None else (position.holds or {}).get(rid)
            if r.active and (there is not r or r.lines[sku] > granted[sku]):
                return False
            if not r.active and (there is r or r.lines[sku] != 0):
                return False
        if r.first_status == "rejected" and (r.first_qty != 0 or any(granted.values())):
            return False
    return True


def carts_hold_what_they_were_granted(book: Book, used: set[str]) -> bool:
    """An active cart that no sale or fulfil has named (``used``: the ids they named here)
    holds every line it was granted: nothing leaves a cart but whole, or by being used."""
    for rid, r in book.reservations.items():
        whole = r.lines is None or tuple(r.lines.items()) == r.first_lines
        if r.active and rid not in used and not whole:
            return False
    return True


# -- redelivery ----------------------------------------------------------------------------------


def state_of(replay: Replay) -> tuple[Any, ...]:
    """Everything a replay shows: every position as published, every reservation each book
    remembers (its lines too), the log's ledger and carts' lines, and the books' clocks."""
    positions = msgspec.json.encode(list(replay.records()))
    remembered = sorted(
        (location, rid, r.status, r.qty, r.expires_at, r.current_lines(), r.first_lines)
        for location, book in replay.books.items()
        for rid, r in book.reservations.items()
        if book.reservation(rid) is not None
    )
    clocks = sorted((location, book.watermark) for location, book in replay.books.items())
    return positions, remembered, dict(replay.ledger or {}), dict(replay.lines), clocks


def redelivery_changes_nothing(replay: Replay, applied: list[bytes]) -> bool:
    """Every applied event delivered again, within the dedup window, leaves the replay's state
    exactly as it was (docs/events.md §6): each is a duplicate."""
    before = state_of(replay)
    duplicates = replay.duplicates
    replay.feed(applied)
    return replay.duplicates - duplicates == len(applied) and state_of(replay) == before
