"""A reservation as a book holds it, from its first outcome until it is forgotten
(docs/events.md §8): what ``engine.reservations`` and ``engine.carts`` make and end, and what
sits in the ``holds`` of each position it holds stock at (``engine.position``).

Pickled by its constructor arguments and its state (``__reduce__``), as every snapshot keeps
it. It lived in ``engine.position`` until 2026-12-03; that module still names it, so a snapshot
pickled before then loads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mypy_extensions import mypyc_attr


@mypyc_attr(acyclic=True)  # strings, datetimes and dicts of str -> int: nothing leads back
class Reservation:
    """One reservation, from its first outcome until it is forgotten.

    ``status`` is ``confirmed`` or ``partial`` while active, then ``released``, ``expired`` or
    ``fulfilled``; a refused one is ``rejected`` from the start. ``qty`` is what it holds now,
    ``first_qty`` what its first outcome granted.

    A cart (``engine.carts``) has ``sku`` ``None`` and ``lines``, ``sku -> qty`` it holds now
    (``qty`` their sum), ``first_lines`` its first outcome's, ``short`` the lines a refusal
    fell short on, and ``kit`` the kit sku when a kit was reserved. Its object sits in the
    ``holds`` of every line's position.
    """

    __slots__ = (
        "ended_at",
        "expires_at",
        "first_lines",
        "first_qty",
        "first_reason",
        "first_status",
        "kit",
        "lines",
        "location_group",
        "qty",
        "reservation_id",
        "short",
        "sku",
        "status",
    )

    def __init__(
        self,
        reservation_id: str,
        sku: str | None,
        status: str,
        qty: int,
        expires_at: datetime,
        reason: str | None = None,
        location_group: str | None = None,
    ) -> None:
        self.reservation_id = reservation_id
        self.sku = sku
        self.status = status
        self.qty = qty
        self.expires_at = expires_at
        self.first_status = status
        self.first_qty = qty
        self.first_reason = reason
        self.location_group = location_group
        self.ended_at: datetime | None = None
        self.lines: dict[str, int] | None = None
        self.first_lines: tuple[tuple[str, int], ...] | None = None
        self.short: tuple[tuple[str, int, int], ...] | None = None
        self.kit: str | None = None

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
            self.first_reason,
            self.location_group,
            self.lines,
            self.first_lines,
            self.short,
            self.kit,
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
            self.first_reason,
            self.location_group,
            self.lines,
            self.first_lines,
            self.short,
            self.kit,
        ) = state

    def current_lines(self) -> tuple[tuple[str, int], ...] | None:
        """A cart's lines as they stand, in their order; ``None`` for one sku."""
        return None if self.lines is None else tuple(self.lines.items())
