"""A reservation as the API shows it, and the event ids a request's events take.

Shared by the reservation commands (``api.service``) and carts across locations
(``api.carts``), which sits below it.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import msgspec

from api.outcomes import ReservationView
from engine.outputs import lines_record

MAX_EVENT_ID = 128


def new_event_id() -> str:
    return f"api-{uuid.uuid4().hex}"


def try_id(event_id: str, location_id: str) -> str:
    """The event id of a request's event at ``location_id`` (a group's try, a part of a cart
    across locations), made from the request's own: a retry of the request is then a
    duplicate at each location it reached."""
    made = f"{event_id}@{location_id}"
    if len(made) <= MAX_EVENT_ID:
        return made
    return "try:" + hashlib.sha256(made.encode()).hexdigest()


def status_of(code: str) -> int:
    """The HTTP status of a refusal by the engine."""
    if code == "unknown_reservation":
        return 404
    if code == "ts_in_future":  # the dataflow's clock disagrees with this server's
        return 422
    return 409


def view_record(known: ReservationView) -> dict[str, Any]:
    """A reservation's view as ``GET /v1/reservations/{id}`` answers it."""
    view = msgspec.structs.asdict(known)
    del view["first_event_id"]  # how a retry is recognised, not part of the answer
    lines, first_lines, short, kit = (
        view.pop("lines"),
        view.pop("first_lines"),
        view.pop("first_short"),
        view.pop("kit"),
    )
    if lines is not None:  # a cart: its lines in place of sku and qty
        del view["sku"], view["qty"], view["first_qty"]
        view["lines"] = lines_record(lines)
        view["first_lines"] = lines_record(first_lines or ())
        if short is not None:
            view["short"] = [{"sku": s, "qty": q, "atp": a} for s, q, a in short]
        if kit is not None:
            view["kit"] = kit
    return view
