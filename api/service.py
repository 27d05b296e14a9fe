"""Reservation commands: build the event, send it through the backend, map the answer.

The engine decides; this module only turns its answer into an HTTP status and body
(docs/api.md §6): 201 confirmed or partial, 409 rejected, 200 with the first outcome for an
id seen before; release and fulfil 200, 404 for an id never seen, 409 when it is not active.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from api import groups
from api.backends import Answer, Backend, Pending
from api.carts import CrossCarts, Result
from api.errors import ApiError
from api.outcomes import ReservationView
from api.schemas import FulfilIn, ReserveIn
from api.views import new_event_id, status_of, try_id, view_record
from engine.events import Event, clock_limit, in_future, parse
from engine.outputs import (
    INSUFFICIENT_STOCK,
    UNKNOWN_CHANNEL,
    Duplicate,
    Rejected,
    ReservationChanged,
    first_reason,
    outcome_record,
)
from engine.policy import DEFAULT_POLICY, Policy
from engine.timefmt import parse_instant, to_ms

MAX_REFUSED = 10_000  # refused group tries remembered (api.groups.next_try), then forgotten
MAX_PENDING = 10_000  # pending requests this replica remembers for GET, the oldest forgotten


class Reservations:
    """``reserve``, ``release``, ``fulfil`` as request-response over the engine."""

    def __init__(
        self,
        backend: Backend,
        timeout_s: float,
        clock: Callable[[], datetime],
        max_future_s: int = 300,
        policy: Policy = DEFAULT_POLICY,
        promiser: Any = None,
    ) -> None:
        self.backend = backend
        self.policy = policy
        self.promiser = promiser  # api.promiser.Promiser | None: orders a group's locations
        self.readmodel = backend.readmodel
        self.timeout_s = timeout_s
        self.clock = clock
        self.max_future_s = max_future_s
        self.pending: dict[str, dict[str, Any]] = {}  # sent, not yet decided, by reservation id
        self.in_flight: dict[tuple[str, str], int] = {}  # a group's tries out, by position
        self.refused: dict[tuple[str, str], object] = {}  # a group's refused tries (next_try)
        self.settled = asyncio.Condition()  # notified whenever a group's try in flight ends
        self.carts = CrossCarts(self)  # carts across locations

    async def reserve(self, body: ReserveIn) -> Result:
        known = self.readmodel.reservation(body.reservation_id)
        if known is None and self.readmodel.parts_of(body.reservation_id):
            # a cart across locations: its first outcome, whatever the new fields say
            return 200, self.carts.first_outcome(body.reservation_id, body.event_id)
        if body.across:
            if known is not None:  # the id names one reservation: its first outcome
                return 200, self._first_outcome(known, body.event_id)
            return await self.carts.reserve(body)
        if body.location_group is not None:
            return await self.reserve_at_group(body)
        assert body.location_id is not None  # one of the two: the body's own check
        if known is not None and (
            (known.location_id, known.sku) != (body.location_id, body.sku)
            or (body.event_id is not None and known.first_event_id == body.event_id)
        ):
            # A promise made once, whatever the new fields say (docs/events.md §8): the first
            # outcome, as the engine's claims would answer it (§8.7), without a trip through
            # the stream; a retry of the very first request need not travel either.
            return 200, self._first_outcome(known, body.event_id)
        fields = body.model_dump(exclude_none=True, exclude={"destination"})
        answer = await self._send("reserve", fields)
        if isinstance(answer, Pending):
            return self._pending(answer, body.location_id, body.sku, body)
        if isinstance(answer, ReservationChanged):
            if answer.repeat:
                return 200, outcome_record(answer)
            if answer.status == "rejected":
                raise ApiError(409, "rejected", _refused(body, answer), outcome_record(answer))
            return 201, outcome_record(answer)
        if isinstance(answer, Duplicate):
            return self._seen_before(body.reservation_id, answer, reserve=True)
        raise ApiError(status_of(answer.code), answer.code, answer.message)

    async def reserve_at_group(self, body: ReserveIn) -> Result:
        """A reservation at a location group (docs/policy.md): each try an ordinary
        ``reserve`` at one of its locations, decided by that location's book, each the best
        of those left as the read model stands then (``api.groups.next_try``); the first that
        holds stock answers, else 409."""
        group_id = body.location_group
        assert group_id is not None
        members = groups.members(self.policy, group_id)
        known = self.readmodel.reservation(body.reservation_id)
        if known is not None:  # the id names one reservation: its first outcome
            return 200, self._first_outcome(known, body.event_id)
        rank = None
        if body.destination is not None and self.promiser is not None:
            destination = body.destination.model_dump(exclude_none=True)
            at = self.clock() if body.ts is None else parse_instant(str(body.ts))
            try:
                rank = self.promiser.rank(members, destination, at)
            except Exception as exc:
                code = getattr(exc, "code", None)
                if code is None:
                    raise
                raise ApiError(422, code, str(exc)) from None
        assert body.sku is not None and body.qty is not None  # no cart at a group
        need = 1 if body.allow_partial else body.qty
        fields = body.model_dump(exclude_none=True, exclude={"destination", "location_group"})
        first_event_id = fields.pop("event_id", None)
        last: ReservationChanged | None = None
        tries: list[str] = []
        while True:
            location_id = groups.next_try(
                self.readmodel,
                self.policy,
                group_id,
                body.sku,
                body.channel,
                need,
                tries,
                rank,
                self.in_flight,
                self.refused,
            )
            if location_id is None:
                if await self._spoken_for(group_id, body.sku, body.channel, need, tries, rank):
                    continue  # a try in flight ended: ask again
                break
            tries.append(location_id)
            key = (location_id, body.sku)
            event_id = (
                new_event_id() if first_event_id is None else try_id(first_event_id, location_id)
            )
            self.in_flight[key] = self.in_flight.get(key, 0) + body.qty
            try:
                answer = await self._send(
                    "reserve",
                    {
                        **fields,
                        "location_id": location_id,
                        "location_group": group_id,
                        "event_id": event_id,
                    },
                )
            finally:
                left = self.in_flight.pop(key) - body.qty
                if left > 0:
                    self.in_flight[key] = left
                async with self.settled:
                    self.settled.notify_all()

            if isinstance(answer, Pending):
                return self._pending(answer, location_id, body.sku)
            if isinstance(answer, Duplicate):
                return self._seen_before(body.reservation_id, answer, reserve=True)
            if isinstance(answer, Rejected):
                raise ApiError(status_of(answer.code), answer.code, answer.message)
            if answer.status != "rejected":
                return (200 if answer.repeat else 201), outcome_record(answer)
            last = answer
            position = self.readmodel.position(location_id, body.sku)
            if position is not None:
                if len(self.refused) > MAX_REFUSED:
                    self.refused.clear()
                self.refused[key] = position
        tried = f"tried {', '.join(tries)}" if tries else "no location has enough"
        raise ApiError(
            409,
            "rejected",
            f"no location of group {group_id} could hold {body.qty} of {body.sku} ({tried})",
            outcome_record(last) if last is not None else self._refusal(body, group_id),
        )

    async def _spoken_for(
        self,
        group_id: str,
        sku: str,
        channel: str,
        need: int,
        tries: list[str],
        rank: dict[str, tuple[Any, float]] | None,
    ) -> bool:
        """When the only locations left with the stock are those other buyers' tries in flight
        may take, wait for one of those tries to end (``True``; at most the request's timeout):
        a try in flight may be refused, and its stock is then this buyer's (D121)."""
        if not self.in_flight:
            return False
        left = groups.next_try(
            self.readmodel,
            self.policy,
            group_id,
            sku,
            channel,
            need,
            tries,
            rank,
            None,
            self.refused,
        )
        if left is None:  # no stock left whatever the tries in flight do
            return False
        async with self.settled:
            try:
                await asyncio.wait_for(self.settled.wait(), self.timeout_s)
            except TimeoutError:
                return False
        return True

    def _refusal(self, body: ReserveIn, group_id: str) -> dict[str, Any]:
        """The 409's details when no location of the group could be tried: nothing was sent,
        so nothing is recorded (a later request may find stock)."""
        return {
            "reservation_id": body.reservation_id,
            "location_id": None,
            "sku": body.sku,
            "status": "rejected",
            "qty": 0,
            "reason": INSUFFICIENT_STOCK,
            "location_group": group_id,
        }

    async def release(self, reservation_id: str, event_id: str | None) -> Result:
        if self._across(reservation_id):
            return await self.carts.release(reservation_id, event_id)
        known = self._active(reservation_id)
        fields = {"reservation_id": reservation_id, "event_id": event_id}
        answer = await self._send("release", {**_position(known), **fields})
        return self._ended(answer, reservation_id)

    async def fulfil(self, reservation_id: str, body: FulfilIn) -> Result:
        if self._across(reservation_id):
            return await self.carts.fulfil(reservation_id, body)
        known = self._active(reservation_id)
        fields = {"reservation_id": reservation_id, **body.model_dump(exclude_none=True)}
        for line in fields.get("lines", ()):  # a cart's lines are at its one location
            if line.pop("location_id", known.location_id) != known.location_id:
                raise ApiError(
                    422,
                    "invalid_request",
                    f"reservation {reservation_id!r} is held at {known.location_id}: a line "
                    "names another location_id",
                )
        answer = await self._send("fulfil", {**_position(known), **fields})
        return self._ended(answer, reservation_id)

    def get(self, reservation_id: str) -> dict[str, Any]:
        known = self.readmodel.reservation(reservation_id)
        if known is not None:
            self.pending.pop(reservation_id, None)
            return view_record(known)
        cart = self.carts.view(reservation_id)
        if cart is not None:
            self.pending.pop(reservation_id, None)
            return cart
        pending = self.pending.get(reservation_id)
        if pending is not None:  # sent by this replica, not decided yet
            return pending
        raise _unknown(reservation_id)

    # -- helpers ------------------------------------------------------------------------------

    def _across(self, reservation_id: str) -> bool:
        """Whether the id is a cart across locations (its parts known, no reservation of it)."""
        return self.readmodel.reservation(reservation_id) is None and bool(
            self.readmodel.parts_of(reservation_id)
        )

    async def send(self, type_: str, fields: dict[str, Any]) -> Answer:
        """One event built from ``fields`` (``api.carts`` sends its parts through it)."""
        return await self._send(type_, fields)

    def remember_pending(self, reservation_id: str, record: dict[str, Any]) -> None:
        """What ``GET`` answers for a request sent and not decided yet."""
        if len(self.pending) >= MAX_PENDING:
            del self.pending[next(iter(self.pending))]
        self.pending[reservation_id] = record

    async def _send(self, type_: str, fields: dict[str, Any]) -> Answer:
        fields = {k: v for k, v in fields.items() if v is not None}
        fields.setdefault("event_id", new_event_id())
        fields.setdefault("ts", to_ms(self.clock()))
        fields["type"] = type_
        try:
            raw = orjson.dumps(fields)
        except orjson.JSONEncodeError as exc:  # an integer past 64 bits, say: not an event
            raise ApiError(422, "invalid_request", f"cannot encode the event: {exc}") from None
        event = parse(raw)
        if isinstance(event, Rejected):
            raise ApiError(422, "invalid_request", event.message, {"reason": event.code})
        ahead = self.in_future(event)
        if ahead is not None:
            raise ApiError(422, ahead.code, ahead.message)
        return await self.backend.command(raw, event, self.timeout_s)

    def in_future(self, event: Event) -> Rejected | None:
        """The live modes' clock rule (docs/events.md §2), by this server's clock, before an
        event is sent; the dataflow applies it again by its own."""
        limit = clock_limit(self.clock(), self.max_future_s)
        return in_future(event.ts, limit, self.max_future_s)  # type: ignore[arg-type]

    def _active(self, reservation_id: str) -> ReservationView:
        known = self.readmodel.reservation(reservation_id)
        if known is None:
            raise _unknown(reservation_id)
        if not known.active:
            raise ApiError(
                409,
                "reservation_ended",
                f"reservation {reservation_id!r} is {known.status}: nothing to release or fulfil",
                view_record(known),
            )
        return known

    def _pending(
        self, pending: Pending, location_id: str, sku: str | None, body: ReserveIn | None = None
    ) -> Result:
        """202: sent, not decided within the timeout; ``GET`` shows it pending until it is."""
        record = _pending_record(pending)
        if self.readmodel.reservation(pending.reservation_id) is None:
            shown: dict[str, Any] = {**record, "location_id": location_id}
            if sku is not None:
                shown["sku"] = sku
            elif body is not None and body.lines is not None:
                shown["lines"] = [{"sku": line.sku, "qty": line.qty} for line in body.lines]
            self.remember_pending(pending.reservation_id, shown)
        return 202, record

    def _ended(self, answer: Answer, reservation_id: str) -> Result:
        if isinstance(answer, Pending):
            return 202, _pending_record(answer)
        if isinstance(answer, ReservationChanged):
            return 200, outcome_record(answer)
        if isinstance(answer, Duplicate):
            return self._seen_before(reservation_id, answer)
        raise ApiError(status_of(answer.code), answer.code, answer.message)

    def _seen_before(
        self, reservation_id: str, duplicate: Duplicate, reserve: bool = False
    ) -> Result:
        """The event_id was applied before: a ``reserve`` is answered with the first outcome,
        a ``release`` or ``fulfil`` with the reservation as it stands."""
        known = self.readmodel.reservation(reservation_id)
        if known is None:
            raise ApiError(
                409,
                "duplicate_event",
                f"event_id {duplicate.event_id!r} was already used for another request: "
                "send a new event_id",
            )
        if reserve:
            return 200, self._first_outcome(known, duplicate.event_id)
        return 200, {**view_record(known), "repeat": True}

    def _first_outcome(self, known: ReservationView, event_id: str | None) -> dict[str, Any]:
        """What the engine answers to a ``reserve`` of a known id (``engine.rules._repeat``),
        from the read model: the first outcome, the reservation as it stands now beside."""
        return outcome_record(
            ReservationChanged(
                known.reservation_id,
                known.location_id,
                known.sku,
                known.first_status,
                known.first_qty,
                known.expires_at,
                self.clock(),
                event_id,
                known.first_reason or first_reason(known.first_status),
                True,
                known.status,
                known.qty,
                known.location_group,
                known.first_lines,
                known.first_short if known.first_status == "rejected" else None,
                known.kit,
                known.lines,
            )
        )


def _refused(body: ReserveIn, answer: ReservationChanged) -> str:
    """The 409's message for a refused reserve at one location."""
    if answer.reason == UNKNOWN_CHANNEL:
        return f"channel {body.channel!r} is not a channel of the policy"
    if answer.short:
        short = ", ".join(f"{sku} ({qty} asked, {atp} available)" for sku, qty, atp in answer.short)
        return f"not enough stock at {body.location_id}: {short}"
    return f"not enough stock of {body.sku} at {body.location_id} for {body.qty}"


def _pending_record(pending: Pending) -> dict[str, Any]:
    return {
        "status": "pending",
        "reservation_id": pending.reservation_id,
        "event_id": pending.event_id,
    }


def _position(known: ReservationView) -> dict[str, Any]:
    return {"location_id": known.location_id, "sku": known.sku}  # a cart's sku: None, left out


def _unknown(reservation_id: str) -> ApiError:
    return ApiError(
        404, "unknown_reservation", f"no reservation {reservation_id!r} has been seen here"
    )
