"""Alert transitions (docs/events.md §11): given a position before and after, which alerts fire.

Each alert watches one condition and fires on its rising edge, once, when a change makes the
condition true (``back_in_stock`` is the falling edge of the stock-out condition). The
conditions that held after the last change are kept in the position as a small bit set, so
deciding costs a few integer operations and allocates nothing when nothing fires.

- ``stockout``: atp reached 0.
- ``back_in_stock``: atp rose from 0.
- ``low_stock``: 0 < atp <= the low-stock threshold (default 2); a drop straight to 0 is a
  ``stockout`` only.
- ``oversold``: reserved > on_hand.
- ``replenish``: atp + all expected supply < the reorder point (default 5).
- ``stockout_soon``: atp > 0 and ``atp x 7 < stockout_days x sold_7d`` (default 2 days):
  at the last 7 days' pace, the stock lasts fewer than ``stockout_days`` days.

Thresholds are the book's (the settings and the policy) unless a ``set_alert_thresholds``
set the position's own.

A new position starts from the conditions of an empty one (out of stock, below the reorder
point), so it alerts only once something moves it.
"""

from __future__ import annotations

from typing import Final

from engine.position import Position

OUT: Final = 1
LOW: Final = 2
OVER: Final = 4
REPLENISH: Final = 8
SOON: Final = 16


def conditions(
    position: Position, low_stock: int, reorder_point: int, stockout_days: int = 2
) -> int:
    """The bit set of alert conditions that hold for the position now, with the book's
    thresholds (the position's own, where set, win)."""
    own = position.thresholds
    if own is not None:
        if own[0] is not None:
            low_stock = own[0]
        if own[1] is not None:
            reorder_point = own[1]
        if own[2] is not None:
            stockout_days = own[2]
    on_hand = position.on_hand
    reserved = position.reserved
    atp = on_hand - reserved - position.safety_stock
    if atp > 0:
        flags = LOW if atp <= low_stock else 0
        if position.may_run_out(atp, stockout_days):
            flags |= SOON
    else:
        flags = OUT
        atp = 0
    if reserved > on_hand:
        flags |= OVER
    inbound = position.inbound
    if inbound:
        atp += sum(q for q, _ in inbound.values())
    if atp < reorder_point:
        flags |= REPLENISH
    return flags


def fired(before: int, after: int) -> list[str]:
    """The alert kinds that fire when the conditions go from ``before`` to ``after``."""
    rising = after & ~before
    kinds = []
    if rising & OUT:
        kinds.append("stockout")
    elif before & OUT and not after & OUT:
        kinds.append("back_in_stock")
    if rising & LOW:
        kinds.append("low_stock")
    if rising & OVER:
        kinds.append("oversold")
    if rising & REPLENISH:
        kinds.append("replenish")
    if rising & SOON:
        kinds.append("stockout_soon")
    return kinds


def initial(low_stock: int, reorder_point: int) -> int:
    """The conditions of an empty position."""
    return conditions(Position("", "", 0), low_stock, reorder_point)


def quiet_from(low_stock: int, reorder_point: int) -> int:
    """The atp from which no condition can hold, unless the position is oversold.

    At or above it atp is neither 0 nor low, and atp alone (expected supply only adds) reaches
    the reorder point: ``conditions`` is 0 whenever ``reserved <= on_hand``.
    """
    return max(1, low_stock + 1, reorder_point)
