"""The position and reservation rules (docs/events.md §3, §8), as pure transitions.

``apply(book, message) -> (book, outputs)`` folds one event (or one ``SupplyExpected`` routed
from another location) into a book; ``expire(book, now) -> (book, outputs)`` ends the
reservations whose time has come on a clock. Time is never read here: it is the event's ``ts``
or the ``now`` given. The book is updated in place and returned, so the same object can be
kept by a Bytewax step or a replay loop without copying.

Order of work for an event:

1. A duplicate (its ``event_id`` applied here within the dedup window) does nothing.
2. An impossible event (a ``release``/``fulfil`` of an unknown, ended, due or elsewhere-held
   reservation, a ``fulfil`` of more than it holds) does nothing and is ``Rejected``.
   A ``reserve`` of an id this book remembers is answered with the first outcome and changes
   nothing else (no position made, nothing expired, no ``as_of``): only the book's clock moves.
3. The position's reservations with ``expires_at <= ts`` expire.
4. The event's own effect; ``as_of`` becomes ``ts``.
5. Alerts for the conditions that changed across 3 and 4.

A ``transfer_out``'s supply at its destination is a message of its own (``engine.routing``).

Outputs, in order: ``ReservationChanged`` for expiries and the event, the changed ``Position``
(a live object: serialise it before the next message), then ``Alert``s.
"""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import Any

from engine import carts, reservations
from engine.alerts import conditions, fired
from engine.book import Book
from engine.checks import check
from engine.events import Event
from engine.holds import Reservation
from engine.kinds import (
    ADJUST,
    ALERT,
    CYCLE_COUNT,
    EVENT_ID,
    FULFIL,
    INBOUND,
    INBOUND_CANCEL,
    RECEIPT,
    RELEASE,
    RESERVE,
    RESTOCK,
    RETURN,
    REVOKE,
    SALE,
    SALE_QTY,
    SALE_RESERVATION_ID,
    SET_ALERT_THRESHOLDS,
    SET_SAFETY_STOCK,
    SKU,
    SUPPLY_EXPECTED,
    TRANSFER_OUT,
    TS,
    WRITE_OFF,
    fields_of,
)
from engine.outputs import (
    Alert,
    Duplicate,
    Rejected,
    ReservationChanged,
    SupplyExpected,
)
from engine.position import Position
from engine.timefmt import to_ms

Output = Position | ReservationChanged | SupplyExpected | Alert | Rejected | Duplicate
Message = Event | SupplyExpected


def apply(book: Book, message: Message) -> tuple[Book, list[Any]]:
    """Fold one message into the book.

    Args:
        book: the state of the message's location (``book.location_id == location_id``).
        message: a parsed event, or a ``SupplyExpected`` from a transfer elsewhere.

    Returns:
        The same book, updated, and the outputs (see the module docstring).
    """
    outputs = _apply(book, message)
    if book.sharded is not None:  # what changed, for the next snapshot (engine.shelves)
        book.sharded.marked(message, outputs)
    return book, outputs


def _apply(book: Book, message: Message) -> list[Any]:
    # Written flat on purpose: this runs once per event of every stream, and each Python call
    # or attribute chain saved here is throughput (benchmarks/replay_throughput.py).
    cls = type(message)
    if cls is SUPPLY_EXPECTED:
        return _supply_arrives(book, message)  # type: ignore[arg-type]
    event: Any = message
    fields = fields_of(event)  # one C call instead of an attribute read per field (kinds)
    event_id = fields[EVENT_ID]
    ts = fields[TS]
    dedup = book.seen
    seen = dedup.recent
    # One dict operation for the dedup check and the record in the batch's recent ids; the
    # older ones are in the table, looked up for the whole batch at once (engine.dedup). The
    # record is undone if the event turns out impossible.
    known = len(seen)
    ts_ms = to_ms(ts)  # once per event (engine.timefmt keeps it for the position's as_of)
    first_ms = seen.setdefault(event_id, ts_ms)
    if len(seen) == known:  # the id was applied here in this batch
        if dedup.applied_in_window(first_ms, book.watermark):
            return [Duplicate(event_id)]
        seen[event_id] = ts_ms  # out of the window: applied again
    elif dedup.count and dedup.known(event_id, book.watermark):
        del seen[event_id]
        return [Duplicate(event_id)]
    sku = fields[SKU]
    kits = book.kits
    if (
        cls is RELEASE
        or cls is FULFIL
        or cls is RESTOCK
        or cls is WRITE_OFF
        or (cls is SET_SAFETY_STOCK and event.channel is not None)
        or (kits is not None and sku in kits and cls is not RESERVE and cls is not SALE)
    ):
        rejected = check(book, event)
        if rejected is not None:
            if len(seen) > known:
                del seen[event_id]
            else:
                seen[event_id] = first_ms
            return [rejected]
        if cls is RELEASE or cls is FULFIL:
            held = book.reservations[event.reservation_id]
            if held.lines is not None:
                return _cart_event(book, event, held)
            sku = held.sku
    elif cls is RESERVE:
        found = book.reservation(event.reservation_id)
        if found is not None:  # a promise made once: the first outcome, and nothing changes
            _advance(book, ts)
            return [reservations.repeat(book, found, event)]
        if event.lines is not None or (kits is not None and sku in kits):
            return _cart_event(book, event, None)
    elif cls is REVOKE:
        return _revoke(book, event)
    elif cls is SALE and kits is not None and sku in kits:
        return _cart_event(book, event, None)
    position = book.positions.get(sku) or book.position(sku)
    before = position.flags
    outputs: list[Any] = []
    others: dict[str, Position] | None = None
    if position.holds is not None and position.next_expiry <= ts:  # None: no datetime compare
        others = {}
        reservations.expire_due(book, position, ts, outputs, others)
    if cls is SALE:
        qty: int = fields[SALE_QTY]
        position.on_hand -= qty
        position.sold(ts, qty, book.sales_keep)
        if fields[SALE_RESERVATION_ID] is not None and position.holds:
            reservations.sale_uses_reservation(book, position, event, outputs)
    elif cls is RECEIPT:
        position.on_hand += event.qty
        if event.supply_id is not None and position.inbound:
            _supply_received(position, event)
    elif cls is RETURN:
        if event.sellable:
            position.on_hand += event.qty
        else:
            position.unsellable += event.qty
    elif cls is ADJUST:
        position.on_hand += event.delta
    elif cls is CYCLE_COUNT:
        position.on_hand = event.qty
    elif cls is SET_SAFETY_STOCK:
        _set_safety_stock(position, event)
    elif cls is RESERVE:
        reservations.reserve(book, position, event, outputs)
    elif cls is FULFIL:
        reservations.fulfil(book, position, event, outputs)
    elif cls is RELEASE:
        reservations.release(book, position, event, outputs)
    elif cls is INBOUND:
        _inbound(position, event)
    elif cls is TRANSFER_OUT:
        position.on_hand -= event.qty  # the destination's supply travels apart: engine.routing
    elif cls is INBOUND_CANCEL:
        _inbound_cancel(position, event)
    elif cls is RESTOCK:
        position.unsellable -= event.qty
        position.on_hand += event.qty
    elif cls is WRITE_OFF:
        position.unsellable -= event.qty
    elif cls is SET_ALERT_THRESHOLDS:
        _set_thresholds(position, event)
    position.as_of = ts
    _advance(book, ts)
    if others:  # a cart's expiry ended lines at other positions
        for other in others.values():
            _settle(book, other, other.flags, ts, outputs)
    outputs.append(position)
    # No condition can hold while atp stays at or above ``book.quiet_from`` and nothing is
    # oversold: skip the full check when none held before either (alerts.quiet_from).
    # A position with thresholds of its own is checked every time; one that sells, when its
    # week's pace could be a stock-out soon (``may_run_out``: mostly one compare).
    atp = position.on_hand - position.reserved - position.safety_stock
    if (
        before
        or atp < book.quiet_from
        or position.reserved > position.on_hand
        or position.thresholds is not None
        or (position.sales is not None and position.may_run_out(atp, book.stockout_days))
    ):
        after = conditions(position, book.low_stock, book.reorder_point, book.stockout_days)
        if after != before:
            position.flags = after
            _alert(position, before, after, ts, outputs)
    return outputs


def expire(book: Book, now: datetime) -> tuple[Book, list[Any]]:
    """End every active reservation of the book with ``expires_at <= now``.

    Live expiry on the wall clock, and ``replay``'s final ``--as-of``. It applies no event:
    no ``as_of`` moves.
    """
    outputs = _expire(book, now)
    if book.sharded is not None:
        book.sharded.outputs(outputs)
    return book, outputs


def _expire(book: Book, now: datetime) -> list[Any]:
    outputs: list[Any] = []
    book.compact_expiries()
    heap = book.expiries
    touched: dict[str, tuple[Position, int]] = {}
    while heap and heap[0][0] <= now:
        found = book.due(heapq.heappop(heap))
        if found is None:
            continue
        if found.lines is not None:  # a cart: every line at once
            for position in carts.end(book, found, "expired", found.expires_at, None, outputs):
                touched.setdefault(position.sku, (position, position.flags))
            continue
        position = book.positions[found.sku]  # type: ignore[index]
        touched.setdefault(position.sku, (position, position.flags))
        reservations.end_hold(book, position, found, "expired", found.expires_at, None, outputs)
    for position, before in touched.values():
        _settle(book, position, before, now, outputs)
    return outputs


def _cart_event(book: Book, event: Any, found: Reservation | None) -> list[Any]:
    """An event of a cart or kit (``engine.carts``): a cart or kit ``reserve``, a cart's
    ``release`` or ``fulfil`` (``found``, checked), a kit's ``sale``. Its positions are every
    line's: made when new, their due expiries first (for a reserve, the whole location's), then
    the effect, ``as_of``, and each changed position published once with its alerts."""
    ts = event.ts
    cls = type(event)
    outputs: list[Any] = []
    if cls is RESERVE:
        outputs = _expire(book, ts)
        skus = [sku for sku, _ in carts.parts_of(book, event)[0]]
    elif cls is SALE:
        skus = [sku for sku, _ in (book.kits or {})[event.sku]]
    else:
        skus = list(found.lines or ())  # type: ignore[union-attr]
    touched: dict[str, Position] = {}
    positions = []
    for sku in skus:
        position = book.position(sku)
        if position.holds is not None and position.next_expiry <= ts:
            reservations.expire_due(book, position, ts, outputs, touched)
        touched[sku] = position
        positions.append(position)
    if cls is RESERVE:
        carts.reserve(book, event, reservations.expires_at(event), positions, outputs)
    elif cls is SALE:
        carts.sale_of_kit(book, event, touched, outputs)
    elif cls is RELEASE:
        carts.release(book, found, event, outputs)  # type: ignore[arg-type]
    else:
        carts.fulfil(book, found, event, touched, outputs)  # type: ignore[arg-type]
    for position in positions:
        position.as_of = ts
    _advance(book, ts)
    for position in touched.values():
        _settle(book, position, position.flags, ts, outputs)
    return outputs


# -- effects --------------------------------------------------------------------------------


def _set_safety_stock(position: Position, event: Any) -> None:
    if event.channel is None:
        position.own_safety_stock = position.safety_stock = event.qty
        return
    if position.channel_safety_stock is None:
        position.channel_safety_stock = {}
    position.channel_safety_stock[event.channel] = event.qty


def _set_thresholds(position: Position, event: Any) -> None:
    """The thresholds an event gives replace the position's; the others stay as they were."""
    low, reorder, days = position.thresholds or (None, None, None)
    if event.low_stock is not None:
        low = event.low_stock
    if event.reorder_point is not None:
        reorder = event.reorder_point
    if event.stockout_days is not None:
        days = event.stockout_days
    position.thresholds = (low, reorder, days)


def _supply_received(position: Position, event: Any) -> None:
    """A receipt naming an expected supply shrinks it, and removes it at zero."""
    inbound = position.inbound
    found = inbound.get(event.supply_id)  # type: ignore[union-attr]
    if found is None:
        return
    left = found[0] - event.qty
    if left > 0:
        inbound[event.supply_id] = (left, found[1])  # type: ignore[index]
    else:
        del inbound[event.supply_id]  # type: ignore[union-attr]
        if not inbound:
            position.inbound = None


def _inbound(position: Position, event: Any) -> None:
    if position.inbound is None:
        position.inbound = {}
    position.inbound[event.supply_id] = (event.qty, event.eta)


def _inbound_cancel(position: Position, event: Any) -> None:
    if (
        position.inbound
        and position.inbound.pop(event.supply_id, None) is not None
        and not position.inbound
    ):
        position.inbound = None


def _advance(book: Book, ts: datetime) -> None:
    """The book's clock (the dedup window's end) moves to an applied event's ``ts``."""
    if ts > book.watermark:
        book.watermark = ts
        if ts >= book.gc_due:
            book.forget_old()


def _revoke(book: Book, event: Any) -> list[Any]:
    """A hold made under an id another position claimed first ends (``engine.claims``), and the
    book forgets the id: a later ``reserve`` of it here asks the claim again. Its outcome is
    ``revoked``, which the claims step keeps from the reservations topic. Nothing else moves
    (no ``as_of``, no expiry): the claim's verdict, not an event of this location's."""
    found = book.reservations.get(event.reservation_id)
    if found is None or (found.lines is None and found.sku != event.sku):
        return []
    outputs: list[Any] = []
    if found.active and found.lines is not None:
        for position in carts.end(book, found, "revoked", event.ts, event.event_id, outputs):
            _settle(book, position, position.flags, event.ts, outputs)
    elif found.active:
        position = book.positions[found.sku]  # type: ignore[index]
        before = position.flags
        reservations.end_hold(book, position, found, "revoked", event.ts, event.event_id, outputs)
        _settle(book, position, before, event.ts, outputs)
    del book.reservations[event.reservation_id]
    book.ended.pop(event.reservation_id, None)
    return outputs


# -- shared steps ----------------------------------------------------------------------------


def _supply_arrives(book: Book, supply: SupplyExpected) -> list[Any]:
    if book.kits is not None and supply.sku in book.kits:
        return []  # a transfer of a kit: its sending location dead-letters it
    key = (supply.from_location_id, supply.event_id)
    dedup = book.seen
    first_ms = dedup.recent.get(key)
    if first_ms is not None:
        if dedup.applied_in_window(first_ms, book.watermark):
            return [Duplicate(supply.event_id)]
    elif dedup.count and dedup.known(key, book.watermark):
        return [Duplicate(supply.event_id)]
    dedup.recent[key] = to_ms(supply.ts)
    position = book.position(supply.sku)
    before = position.flags
    if position.inbound is None:
        position.inbound = {}
    position.inbound[supply.supply_id] = (supply.qty, supply.eta)
    outputs: list[Any] = []
    _settle(book, position, before, supply.ts, outputs)
    return outputs


def _settle(book: Book, position: Position, before: int, ts: datetime, outputs: list[Any]) -> None:
    """Record the changed position and the alerts its change fires."""
    outputs.append(position)
    after = conditions(position, book.low_stock, book.reorder_point, book.stockout_days)
    if after != before:
        position.flags = after
        _alert(position, before, after, ts, outputs)


def _alert(position: Position, before: int, after: int, ts: datetime, outputs: list[Any]) -> None:
    on_hand = position.on_hand
    reserved = position.reserved
    available = on_hand - reserved - position.safety_stock
    sold_7d = 0 if position.sales is None else position.sold_7d()
    eta = position.stockout_eta(sold_7d) if sold_7d else None
    outputs.extend(
        [
            ALERT(
                kind,
                position.location_id,
                position.sku,
                ts,
                on_hand,
                reserved,
                position.safety_stock,
                position.unsellable,
                available,
                max(0, available),
                max(0, reserved - on_hand),
                position.inbound_qty,
                sold_7d,
                eta,
            )
            for kind in fired(before, after)
        ]
    )
