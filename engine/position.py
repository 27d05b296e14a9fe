"""A position: one sku at one location, and the figures derived from it (docs/events.md §4).

State is compact on purpose: a position is a slotted object of small ints plus two optional
dicts that exist only while the position has expected supply or active reservations, so a
million positions cost a few hundred bytes each including the dict that indexes them
(``benchmarks/state_memory.py`` measures it).

Derived figures are never stored:

- ``available = on_hand - reserved - safety_stock``
- ``atp = max(0, available)``
- ``oversold = max(0, reserved - on_hand)``
- ATP on a future instant T: ``max(0, available + sum(expected supply with eta <= T))``
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from msgspec.structs import asdict

from engine.kinds import POSITION_RECORD, SUPPLY
from engine.outputs import PositionRecord
from engine.timefmt import NEVER

NO_EXPIRY: Final = NEVER


class Reservation:
    """One reservation, from its first outcome until it is forgotten.

    ``status`` is ``confirmed`` or ``partial`` while active, then ``released``, ``expired`` or
    ``fulfilled``; a refused one is ``rejected`` from the start. ``qty`` is what it holds now,
    ``first_qty`` what its first outcome granted.
    """

    __slots__ = (
        "ended_at",
        "expires_at",
        "first_qty",
        "first_status",
        "qty",
        "reservation_id",
        "sku",
        "status",
    )

    def __init__(
        self, reservation_id: str, sku: str, status: str, qty: int, expires_at: datetime
    ) -> None:
        self.reservation_id = reservation_id
        self.sku = sku
        self.status = status
        self.qty = qty
        self.expires_at = expires_at
        self.first_status = status
        self.first_qty = qty
        self.ended_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status in {"confirmed", "partial"}

    def __reduce__(self) -> tuple[Any, ...]:
        # Constructor arguments, then the state: works compiled (mypyc classes cannot be made
        # without calling __init__) and interpreted alike.
        args = (self.reservation_id, self.sku, self.status, self.qty, self.expires_at)
        return (Reservation, args, self.__getstate__())

    def __getstate__(self) -> tuple[Any, ...]:
        return (
            self.reservation_id,
            self.sku,
            self.status,
            self.qty,
            self.expires_at,
            self.first_status,
            self.first_qty,
            self.ended_at,
        )

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        (
            self.reservation_id,
            self.sku,
            self.status,
            self.qty,
            self.expires_at,
            self.first_status,
            self.first_qty,
            self.ended_at,
        ) = state


class Position:
    """Stock of one sku at one location.

    Attributes:
        on_hand, reserved, safety_stock, unsellable: the stored quantities.
        as_of: ``ts`` of the last event applied here (``None`` until one is).
        inbound: expected supply, ``supply_id -> (qty, eta)``, or ``None`` when there is none.
        holds: active reservations held here, ``reservation_id -> Reservation``, or ``None``.
        next_expiry: the soonest ``expires_at`` among ``holds`` (``NO_EXPIRY`` when none).
        flags: which alert conditions held after the last change (``engine.alerts``).
    """

    __slots__ = (
        "as_of",
        "flags",
        "holds",
        "inbound",
        "location_id",
        "next_expiry",
        "on_hand",
        "reserved",
        "safety_stock",
        "sku",
        "unsellable",
    )

    def __init__(self, location_id: str, sku: str, flags: int) -> None:
        self.location_id = location_id
        self.sku = sku
        self.on_hand = 0
        self.reserved = 0
        self.safety_stock = 0
        self.unsellable = 0
        self.as_of: datetime | None = None
        self.inbound: dict[str, tuple[int, datetime]] | None = None
        self.holds: dict[str, Reservation] | None = None
        self.next_expiry = NO_EXPIRY
        self.flags = flags

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved - self.safety_stock

    @property
    def atp(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)

    @property
    def oversold(self) -> int:
        return max(0, self.reserved - self.on_hand)

    @property
    def inbound_qty(self) -> int:
        return sum(qty for qty, _ in self.inbound.values()) if self.inbound else 0

    def atp_at(self, at: datetime) -> int:
        """ATP on the instant ``at``, counting expected supply due by then."""
        due = sum(q for q, eta in self.inbound.values() if eta <= at) if self.inbound else 0
        return max(0, self.available + due)

    def supplies(self) -> list[tuple[str, int, datetime]]:
        """The expected supplies, ``(supply_id, qty, eta)``, soonest first (then by id)."""
        if not self.inbound:
            return []
        # Sorted as (eta, supply_id) tuples: no key function to call per item.
        due = [(eta, supply_id, qty) for supply_id, (qty, eta) in self.inbound.items()]
        if len(due) > 1:
            due.sort()
        return [(supply_id, qty, eta) for eta, supply_id, qty in due]

    def record(self) -> dict[str, Any]:
        """The position as published on ``omnistock.atp`` and printed by ``replay``, as a dict
        (``wire()`` is the same as a struct, what the hot paths encode)."""
        wire = self.wire()
        record = asdict(wire)
        record["inbound"] = [asdict(supply) for supply in wire.inbound]
        return record

    def wire(self) -> PositionRecord:
        """The position as published on ``omnistock.atp`` and printed by ``replay``: a struct
        encodes in half the time of a dict."""
        available = self.on_hand - self.reserved - self.safety_stock
        inbound = [SUPPLY(supply_id, qty, eta) for supply_id, qty, eta in self.supplies()]
        return POSITION_RECORD(
            self.location_id,
            self.sku,
            self.on_hand,
            self.reserved,
            self.safety_stock,
            self.unsellable,
            available,
            max(0, available),
            max(0, self.reserved - self.on_hand),
            inbound,
            self.as_of,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (Position, (self.location_id, self.sku, self.flags), self.__getstate__())

    def __getstate__(self) -> tuple[Any, ...]:
        return (
            self.location_id,
            self.sku,
            self.on_hand,
            self.reserved,
            self.safety_stock,
            self.unsellable,
            self.as_of,
            self.inbound,
            self.holds,
            self.next_expiry,
            self.flags,
        )

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        (
            self.location_id,
            self.sku,
            self.on_hand,
            self.reserved,
            self.safety_stock,
            self.unsellable,
            self.as_of,
            self.inbound,
            self.holds,
            self.next_expiry,
            self.flags,
        ) = state
