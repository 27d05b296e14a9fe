"""The reservation rules (docs/events.md, "Reservations"): holding, releasing, fulfilling,
consuming by a sale, and expiring, on one position of a book.

``engine.rules.apply`` checks an event and calls these; each appends its
``ReservationChanged`` outcomes to ``outputs`` and updates the book and the position in place.
A known reservation id never reaches ``reserve``: ``repeat`` answers it with its first outcome.
"""

from __future__ import annotations

import heapq
from datetime import datetime, timedelta
from typing import Any, Final

from engine import carts
from engine.book import Book
from engine.holds import Reservation
from engine.outputs import INSUFFICIENT_STOCK, UNKNOWN_CHANNEL, ReservationChanged
from engine.position import NO_EXPIRY, Position
from engine.timefmt import later


def sale_uses_reservation(book: Book, position: Position, event: Any, outputs: list[Any]) -> None:
    """A sale naming an active reservation of this position consumes it (up to its qty)."""
    found = position.holds.get(event.reservation_id)  # type: ignore[union-attr]
    if found is not None:  # any other reservation_id is ignored and the sale stands
        consume(book, position, found, min(event.qty, found.qty), event, outputs)


def repeat(book: Book, found: Reservation, event: Any) -> ReservationChanged:
    """The answer to a ``reserve`` of a known id: its first outcome, as it stands now beside
    (a cart's with its lines; a one-sku reservation's line fields are ``None``)."""
    return ReservationChanged(
        found.reservation_id,
        book.location_id,
        found.sku,
        found.first_status,
        found.first_qty,
        found.expires_at,
        event.ts,
        event.event_id,
        found.first_reason,
        True,
        found.status,
        found.qty,
        found.location_group,
        found.first_lines,
        found.short,
        found.kit,
        found.current_lines(),
    )


def reserve(book: Book, position: Position, event: Any, outputs: list[Any]) -> None:
    """A new reservation (a known id never reaches here: ``repeat``), decided on the ATP of
    its channel here (docs/policy.md); a channel the policy does not know, with no default
    channel, is ``rejected`` as ``unknown_channel``."""
    rid = event.reservation_id
    channel = book.channel(event.channel)
    expires_at = later(event.ts, _ttl(event.ttl_s))
    if channel is None:
        room, reason = 0, UNKNOWN_CHANNEL
    else:
        room, reason = position.atp_for(channel), INSUFFICIENT_STOCK
    group = event.location_group
    if event.qty <= room:
        status, qty = "confirmed", event.qty
    elif event.allow_partial and room >= 1:
        status, qty = "partial", room
    else:
        rejected = Reservation(rid, position.sku, "rejected", 0, expires_at, reason, group)
        rejected.ended_at = event.ts
        book.reservations[rid] = rejected
        book.ended[rid] = event.ts
        outputs.append(
            ReservationChanged(
                rid,
                book.location_id,
                event.sku,
                "rejected",
                0,
                expires_at,
                event.ts,
                event.event_id,
                reason,
                location_group=group,
            )
        )
        return
    made = Reservation(rid, position.sku, status, qty, expires_at, None, group)
    book.reservations[rid] = made
    position.hold(made, qty)
    heapq.heappush(book.expiries, (expires_at, rid))
    outputs.append(
        ReservationChanged(
            rid,
            book.location_id,
            event.sku,
            status,
            qty,
            expires_at,
            event.ts,
            event.event_id,
            location_group=group,
        )
    )


def release(book: Book, position: Position, event: Any, outputs: list[Any]) -> None:
    found = position.holds[event.reservation_id]  # type: ignore[index]
    end_hold(book, position, found, "released", event.ts, event.event_id, outputs)


def fulfil(book: Book, position: Position, event: Any, outputs: list[Any]) -> None:
    found = position.holds[event.reservation_id]  # type: ignore[index]
    qty = found.qty if event.qty is None else event.qty
    position.on_hand -= qty
    position.sold(event.ts, qty, book.sales_keep)
    consume(book, position, found, qty, event, outputs)


def expires_at(event: Any) -> datetime:
    """When a ``reserve``'s hold ends: its ``ts`` plus ``ttl_s``."""
    return later(event.ts, _ttl(event.ttl_s))


_TTLS: Final[dict[int, timedelta]] = {}  # Final: a C static, not a module dict lookup


def _ttl(seconds: int) -> timedelta:
    """``timedelta(seconds=...)``, made once per distinct ttl (a handful in practice)."""
    found = _TTLS.get(seconds)
    if found is None:
        if len(_TTLS) >= 4096:
            _TTLS.clear()
        found = _TTLS[seconds] = timedelta(seconds=seconds)
    return found


def consume(
    book: Book, position: Position, found: Reservation, qty: int, event: Any, outputs: list[Any]
) -> None:
    """A sale or fulfil takes ``qty`` of what the reservation holds (of this sku's line, for a
    cart)."""
    if found.lines is not None:
        carts.consume_line(book, position, found, qty, event, outputs)
        return
    if qty >= found.qty:
        end_hold(book, position, found, "fulfilled", event.ts, event.event_id, outputs)
        return
    found.qty -= qty
    position.reserved -= qty
    outputs.append(
        ReservationChanged(
            found.reservation_id,
            book.location_id,
            found.sku,
            found.status,
            found.qty,
            found.expires_at,
            event.ts,
            event.event_id,
            location_group=found.location_group,
        )
    )


def end_hold(
    book: Book,
    position: Position,
    found: Reservation,
    status: str,
    ts: datetime,
    event_id: str | None,
    outputs: list[Any],
) -> None:
    """An active reservation ends: it gives back all it holds."""
    position.reserved -= found.qty
    found.qty = 0
    found.status = status
    found.ended_at = ts
    book.ended[found.reservation_id] = ts
    holds = position.holds
    del holds[found.reservation_id]  # type: ignore[union-attr]
    if not holds:
        position.holds = None
        position.next_expiry = NO_EXPIRY
    elif found.expires_at == position.next_expiry:
        position.next_expiry = min(r.expires_at for r in holds.values())
    outputs.append(
        ReservationChanged(
            found.reservation_id,
            book.location_id,
            found.sku,
            status,
            0,
            found.expires_at,
            ts,
            event_id,
            location_group=found.location_group,
        )
    )


def expire_due(
    book: Book,
    position: Position,
    ts: datetime,
    outputs: list[Any],
    touched: dict[str, Position] | None = None,
) -> None:
    """The position's reservations due by ``ts`` expire; a cart's, every line at once (its
    other lines' positions are added to ``touched``, for the caller to publish)."""
    due = [r for r in position.holds.values() if r.expires_at <= ts]  # type: ignore[union-attr]
    due.sort(key=lambda r: (r.expires_at, r.reservation_id))
    for found in due:
        if found.lines is None:
            end_hold(book, position, found, "expired", found.expires_at, None, outputs)
            continue
        for other in carts.end(book, found, "expired", found.expires_at, None, outputs):
            if touched is not None and other is not position:
                touched[other.sku] = other
