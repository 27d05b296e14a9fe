"""A cart across locations read from its parts (``api.carts``): their ids, the cart's status
and view composed from the parts' views, and a part's lines as it holds them.

Pure functions of the read model's views and the engine's outcomes: no sending here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.errors import ApiError
from api.outcomes import ACTIVE, ReservationView
from api.schemas import ReserveIn
from api.views import view_record
from engine.outputs import INSUFFICIENT_STOCK, ReservationChanged

Lines = list[tuple[str, int]]


def part_id(rid: str, location_id: str) -> str:
    """The id of a cart's part at ``location_id``."""
    return f"{rid}@{location_id}"


def cart_status(views: list[ReservationView]) -> str:
    """A cart's status from its parts': ``rejected`` if one was refused at first; else
    ``confirmed`` while any part holds stock; else ``fulfilled`` if any was fulfilled, else
    ``expired`` if any expired, else ``released``."""
    statuses = {view.status for view in views}
    if any(view.first_status == "rejected" for view in views):
        return "rejected"
    if statuses & ACTIVE:
        return "confirmed"
    for status in ("fulfilled", "expired"):
        if status in statuses:
            return status
    return "released"


def view_of(rid: str, known: dict[str, ReservationView]) -> dict[str, Any]:

    views = list(known.values())
    rejected = any(view.first_status == "rejected" for view in views)
    updated = [view.updated_at for view in views if view.updated_at is not None]
    return {
        "reservation_id": rid,
        "status": cart_status(views),
        "expires_at": min(view.expires_at for view in views),
        "updated_at": max(updated) if updated else None,
        "reason": INSUFFICIENT_STOCK if rejected else None,
        "first_status": "rejected" if rejected else "confirmed",
        "first_reason": INSUFFICIENT_STOCK if rejected else None,
        "lines": [
            {"sku": sku, "qty": qty, "location_id": loc}
            for loc, view in known.items()
            for sku, qty in held_now(view)
        ],
        "first_lines": [
            {"sku": sku, "qty": 0 if rejected else qty, "location_id": loc}
            for loc, view in known.items()
            for sku, qty in first_lines(view)
        ],
        "parts": [view_record(view) for view in views],
    }


def parts_by_location(body: ReserveIn) -> dict[str, Lines]:
    """The request's lines by location, in the order the request names them."""
    found: dict[str, Lines] = {}
    for line in body.lines or ():
        assert line.location_id is not None  # the body's check
        found.setdefault(line.location_id, []).append((line.sku, line.qty))
    return found


def holds(answer: ReservationChanged) -> bool:
    """Whether the part holds stock now (a repeat: as it stands, ``current_status``)."""
    status = answer.current_status if answer.repeat else answer.status
    return status in ACTIVE


def held(answer: ReservationChanged) -> Lines:
    if answer.lines is not None:
        return list(answer.current_lines or answer.lines) if answer.repeat else list(answer.lines)
    qty = answer.current_qty if answer.repeat and answer.current_qty is not None else answer.qty
    return [(answer.sku or "", qty)]


def held_now(view: ReservationView | None) -> Lines:
    if view is None:
        return []
    if view.lines is not None:
        return list(view.lines)
    return [(view.sku or "", view.qty)]


def first_lines(view: ReservationView) -> Lines:
    if view.first_lines is not None:
        return list(view.first_lines)
    return [(view.sku or "", view.first_qty)]


def first_of(view: ReservationView, now: datetime) -> ReservationChanged:
    """A part decided before, as the engine's repeat would answer it."""
    return ReservationChanged(
        view.reservation_id,
        view.location_id,
        view.sku,
        view.first_status,
        view.first_qty,
        view.expires_at,
        now,
        None,
        view.first_reason,
        True,
        view.status,
        view.qty,
        view.location_group,
        view.first_lines,
        view.first_short,
        view.kit,
        view.lines,
    )


def ended(rid: str, known: dict[str, ReservationView]) -> ApiError:
    if not known:
        return unknown(rid)
    view = view_of(rid, known)
    return ApiError(
        409,
        "reservation_ended",
        f"cart {rid!r} is {view['status']}: nothing to release or fulfil",
        view,
    )


def unknown(rid: str) -> ApiError:
    return ApiError(404, "unknown_reservation", f"no reservation {rid!r} has been seen here")
