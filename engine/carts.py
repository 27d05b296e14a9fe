"""Carts and kits (docs/events.md §12): several skus held at one location, all or none.

A cart is a ``reserve`` with ``lines``; a kit (policy ``kits``) is a sku with no stock of its
own, whose reserve is a cart of its components (``n x qty`` each) and whose sale is a sale of
each. One ``Reservation`` holds every line: its object sits in the ``holds`` of each line's
position, so an expiry found through any of them ends the whole cart at once.

``engine.rules.apply`` sends here the events a cart or a kit takes, with the event's
positions made ready (created, their due expiries done); these functions apply the effect and
append the reservation outcomes to ``outputs``, and the rules publish the positions.

Kit figures for a reader (the API's ``GET /v1/atp/{location}/{kit}``): ``kit_atp``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from engine.book import Book
from engine.holds import Reservation
from engine.outputs import INSUFFICIENT_STOCK, UNKNOWN_CHANNEL, ReservationChanged
from engine.position import NO_EXPIRY, Position

Lines = tuple[tuple[str, int], ...]


def parts_of(book: Book, event: Any) -> tuple[Lines, str | None]:
    """The stock lines a cart or kit reserve asks for, and the kit sku if it names one. A kit
    on a cart's line counts as its components; lines that share a component add up (a cart
    that asks twice for one sku is checked against it once, for the sum)."""
    kits = book.kits or {}
    if event.lines is None:  # a kit of its own
        return tuple((sku, event.qty * qty) for sku, qty in kits[event.sku]), event.sku
    wanted: dict[str, int] = {}
    for line in event.lines:
        parts = kits.get(line.sku)
        if parts is None:
            wanted[line.sku] = wanted.get(line.sku, 0) + line.qty
            continue
        for sku, qty in parts:
            wanted[sku] = wanted.get(sku, 0) + line.qty * qty
    return tuple(wanted.items()), None


def reserve(
    book: Book, event: Any, expires_at: datetime, positions: list[Position], outputs: list[Any]
) -> None:
    """A new cart or kit reservation (a known id never reaches here), decided in one step on
    the channel ATP of every line. ``positions``: the lines' (``parts_of``), in their order,
    after the location's due expiries (``engine.rules``)."""
    ts = event.ts
    lines, kit = parts_of(book, event)
    channel = book.channel(event.channel)
    rooms = [0] * len(lines) if channel is None else [p.atp_for(channel) for p in positions]
    status, granted = _decide(event, lines, rooms, kit, channel is None)
    rid = event.reservation_id
    group = event.location_group
    made = Reservation(rid, None, status, sum(q for _, q in granted), expires_at, None, group)
    made.kit = kit
    if status == "rejected":
        made.first_reason = UNKNOWN_CHANNEL if channel is None else INSUFFICIENT_STOCK
        if channel is not None:
            pairs = zip(lines, rooms, strict=True)
            made.short = tuple((sku, qty, room) for (sku, qty), room in pairs if qty > room)
        made.lines = {sku: 0 for sku, _ in lines}
        made.qty = 0
        made.ended_at = ts
        book.ended[rid] = ts
    else:
        made.lines = dict(granted)
        for position, (_, qty) in zip(positions, granted, strict=True):
            position.hold(made, qty)
        heapq.heappush(book.expiries, (expires_at, rid))
    made.first_qty = made.qty
    made.first_lines = made.current_lines()
    book.reservations[rid] = made
    outputs.append(outcome(book, made, ts, event.event_id, made.first_reason))


def _decide(
    event: Any, lines: Lines, rooms: list[int], kit: str | None, unknown_channel: bool
) -> tuple[str, Lines]:
    """``confirmed``, ``partial`` (a kit's whole kits) or ``rejected``, and what each line
    holds then."""
    if unknown_channel:
        return "rejected", lines
    if all(qty <= room for (_, qty), room in zip(lines, rooms, strict=True)):
        return "confirmed", lines
    if kit is not None and event.allow_partial:
        per_kit = [qty // event.qty for _, qty in lines]
        whole = min(room // each for each, room in zip(per_kit, rooms, strict=True))
        if whole >= 1:
            held = zip(lines, per_kit, strict=True)
            return "partial", tuple((sku, whole * each) for (sku, _), each in held)
    return "rejected", lines


def release(book: Book, found: Reservation, event: Any, outputs: list[Any]) -> None:
    """A cart's ``release``: every line ends."""
    end(book, found, "released", event.ts, event.event_id, outputs)


def fulfil(
    book: Book, found: Reservation, event: Any, positions: dict[str, Position], outputs: list[Any]
) -> None:
    """A cart's ``fulfil``: each line named (by default every line's remainder) is picked:
    ``on_hand`` and ``reserved`` fall by its qty; ``fulfilled`` once no line holds anything.
    The rules checked the lines first (``check_fulfil``)."""
    ts = event.ts
    lines = found.lines or {}
    picked = (
        [(sku, qty) for sku, qty in lines.items() if qty > 0]
        if event.lines is None
        else [(line.sku, line.qty) for line in event.lines]
    )
    for sku, qty in picked:
        position = positions[sku]
        position.on_hand -= qty
        position.sold(ts, qty, book.sales_keep)
    take(book, found, picked, ts, event.event_id, outputs)


def check_fulfil(found: Reservation, event: Any) -> tuple[str, str] | None:
    """Why a cart's ``fulfil`` is impossible (``code, message``), or ``None``."""
    if event.qty is not None:
        return "bad_lines", "a cart is fulfilled by lines, not qty - at `$.qty`"
    lines = found.lines or {}
    for line in event.lines or ():
        held = lines.get(line.sku, 0)
        if line.qty > held:
            return (
                "fulfil_exceeds_held",
                f"fulfil of {line.qty} {line.sku} but reservation {found.reservation_id!r} "
                f"holds {held} of it",
            )
    return None


def sale_of_kit(book: Book, event: Any, positions: dict[str, Position], outputs: list[Any]) -> None:
    """A sale of a kit sku: a sale of each component (``qty x`` its qty), in one step; with a
    ``reservation_id`` of a cart held here, each component's line is consumed."""
    ts = event.ts
    parts = (book.kits or {})[event.sku]
    for sku, qty in parts:
        position = positions[sku]
        position.on_hand -= event.qty * qty
        position.sold(ts, event.qty * qty, book.sales_keep)
    rid = event.reservation_id
    found = None if rid is None else book.reservations.get(rid)
    if found is None or found.lines is None or not found.active:
        return  # any other reservation_id is ignored and the sale stands
    lines = found.lines
    used = [(sku, min(event.qty * qty, lines.get(sku, 0))) for sku, qty in parts]
    used = [(sku, qty) for sku, qty in used if qty > 0]
    if used:
        take(book, found, used, ts, event.event_id, outputs)


def consume_line(
    book: Book, position: Position, found: Reservation, qty: int, event: Any, outputs: list[Any]
) -> None:
    """A sale of one sku naming a cart held here takes up to ``qty`` of that sku's line."""
    held = (found.lines or {}).get(position.sku, 0)
    if held > 0:
        take(book, found, [(position.sku, min(qty, held))], event.ts, event.event_id, outputs)


def take(
    book: Book,
    found: Reservation,
    picked: list[tuple[str, int]],
    ts: datetime,
    event_id: str | None,
    outputs: list[Any],
) -> None:
    """Lines picked or sold leave the cart (``reserved`` falls with them); it is ``fulfilled``
    once no line holds anything, else it answers with its lines as they stand."""
    lines = found.lines or {}
    for sku, qty in picked:
        lines[sku] -= qty
        found.qty -= qty
        book.positions[sku].reserved -= qty
    if found.qty <= 0:
        end(book, found, "fulfilled", ts, event_id, outputs)
        return
    outputs.append(outcome(book, found, ts, event_id, None))


def end(
    book: Book,
    found: Reservation,
    status: str,
    ts: datetime,
    event_id: str | None,
    outputs: list[Any],
) -> list[Position]:
    """An active cart ends: every line gives back what it holds. Returns the positions of its
    lines, whose figures the caller publishes."""
    rid = found.reservation_id
    positions = []
    for sku, qty in (found.lines or {}).items():
        position = book.positions[sku]
        position.reserved -= qty
        holds = position.holds
        if holds is not None and holds.pop(rid, None) is not None:
            if not holds:
                position.holds = None
                position.next_expiry = NO_EXPIRY
            elif found.expires_at == position.next_expiry:
                position.next_expiry = min(r.expires_at for r in holds.values())
        positions.append(position)
        found.lines[sku] = 0  # type: ignore[index]
    found.qty = 0
    found.status = status
    found.ended_at = ts
    book.ended[rid] = ts
    outputs.append(outcome(book, found, ts, event_id, None))
    return positions


def outcome(
    book: Book, found: Reservation, ts: datetime, event_id: str | None, reason: str | None
) -> ReservationChanged:
    """A cart's outcome: its status and lines as they stand."""
    return ReservationChanged(
        found.reservation_id,
        book.location_id,
        None,
        found.status,
        found.qty,
        found.expires_at,
        ts,
        event_id,
        reason,
        location_group=found.location_group,
        lines=found.current_lines(),
        short=found.short if found.status == "rejected" else None,
        kit=found.kit,
    )


def kit_atp(parts: Iterable[tuple[str, int]], atp_of: Callable[[str], int | None]) -> int:
    """A kit's ATP from its components': the least of ``component atp // qty`` (0 where a
    component has no position). ``atp_of`` gives one component's figure (its ``atp`` or a
    channel's)."""
    least: int | None = None
    for sku, qty in parts:
        found = atp_of(sku)
        whole = 0 if found is None else max(0, found) // qty
        least = whole if least is None else min(least, whole)
    return least or 0
