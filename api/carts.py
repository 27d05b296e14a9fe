"""Carts across locations (docs/api.md §6.4b; docs/decisions.md D-entry "carts across
locations"): one cart per location, each an ordinary ``reserve`` the location's book decides.

A ``POST /v1/reservations`` whose ``lines`` each name a ``location_id`` is cut into parts, one
per location, each reserved under the id ``{reservation_id}@{location_id}`` (two lines or more:
a cart, held whole by the engine; one line: a one-sku reserve). The API only sequences them:

- **Order.** Parts are reserved one at a time, the scarcest first: by the least, over the
  part's lines, of ``channel ATP - qty`` as the read model has it, then by ``location_id``.
  Carts racing for the same scarce units all reach for them first, so a cart that holds a
  scarce unit is one whose other lines have room: two carts never each hold one of two
  scarce units and both fail.
- **All or none.** The first part refused (or found ended) stops the walk; every part held is
  released before the 409 answers. A request cut off in the middle (a replica dies) leaves
  parts that expire by their ``ttl_s``; a retry of the id resumes the walk (the engine
  answers the parts it decided before with their first outcomes).
- **Repeats.** The parts in the read model are the cart's record (``ReadModel.parts_of``):
  an id whose parts cover the request's locations, or one of whose parts was refused,
  answers 200 with the cart's first outcome at once.
- ``GET``/``DELETE``/``fulfil`` of the cart's id read, release or fulfil each part.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from api import kits
from api.backends import Answer, Pending
from api.cart_parts import (
    Lines,
    ended,
    first_lines,
    first_of,
    held,
    held_now,
    holds,
    part_id,
    parts_by_location,
    unknown,
    view_of,
)
from api.errors import ApiError
from api.outcomes import ReservationView
from api.readmodel import ReadModel
from api.schemas import FulfilIn, ReserveIn
from api.views import new_event_id, status_of, try_id
from engine.outputs import (
    INSUFFICIENT_STOCK,
    Duplicate,
    Rejected,
    ReservationChanged,
    outcome_record,
)
from engine.policy import Policy
from engine.timefmt import to_ms

Result = tuple[int, dict[str, Any]]  # an HTTP status and its body


class Sender(Protocol):
    """What the carts need of the reservation commands (``api.service.Reservations``)."""

    readmodel: ReadModel
    policy: Policy
    pending: dict[str, dict[str, Any]]
    clock: Callable[[], datetime]

    async def send(self, type_: str, fields: dict[str, Any]) -> Answer: ...

    def remember_pending(self, reservation_id: str, record: dict[str, Any]) -> None: ...


MAX_ID = 128  # a reservation id's longest (engine.schema.Token)
MAX_ANSWERED = 10_000  # first answers of carts this replica keeps for their repeats


class CrossCarts:
    """The cart-across-locations commands, over ``Reservations``' sending and read model."""

    def __init__(self, service: Sender) -> None:
        self.service = service
        self.readmodel = service.readmodel
        self.answered: dict[str, dict[str, Any]] = {}  # first answers given here, by cart id

    # -- reserve ------------------------------------------------------------------------------

    async def reserve(self, body: ReserveIn) -> Result:
        rid = body.reservation_id
        by_location = parts_by_location(body)
        if "@" in rid or max(len(part_id(rid, loc)) for loc in by_location) > MAX_ID:
            raise ApiError(
                422,
                "invalid_request",
                f"a cart across locations holds parts named {rid!r}@LOCATION: its "
                f"reservation_id has no '@' and leaves room for the location (at most "
                f"{MAX_ID} characters in all)",
            )
        known = self.readmodel.parts_of(rid)
        if known and (
            set(by_location) <= set(known)
            or any(p.first_status == "rejected" for p in known.values())
        ):
            if any(p.first_status == "rejected" for p in known.values()):
                await self._release_all(
                    [(loc, p.reservation_id) for loc, p in known.items() if p.active]
                )
            return 200, self.first_outcome(rid, body.event_id)
        ts = body.ts if body.ts is not None else to_ms(self.service.clock())
        answers: dict[str, ReservationChanged] = {}
        refused: tuple[str, ReservationChanged] | None = None
        repeats = True
        for loc in self._order(by_location, body.channel):
            answer = await self.service.send("reserve", self._part(body, loc, by_location[loc], ts))
            if isinstance(answer, Pending):
                return self._pending(body, answer)
            if isinstance(answer, Duplicate):  # a retry with the first request's event_id
                view = self.readmodel.reservation(part_id(rid, loc))
                if view is None:
                    await self._release_held(answers)
                    raise ApiError(
                        409,
                        "duplicate_event",
                        f"event_id {body.event_id!r} was already used for another request: "
                        "send a new event_id",
                    )
                answer = first_of(view, self.service.clock())
            if isinstance(answer, Rejected):
                await self._release_held(answers)
                raise ApiError(status_of(answer.code), answer.code, answer.message)
            answers[loc] = answer
            repeats = repeats and answer.repeat
            if answer.status == "rejected" or not holds(answer):
                refused = (loc, answer)
                break
        if refused is not None:
            await self._release_held(answers)
            loc, answer = refused
            if repeats:  # every part was decided before: the cart's first outcome
                return 200, self.first_outcome(rid, body.event_id)
            if answer.status != "rejected":
                raise ApiError(
                    409,
                    "reservation_ended",
                    f"part {answer.reservation_id!r} of cart {rid!r} is "
                    f"{answer.current_status}: the cart cannot be held whole again; reserve "
                    "it under a new reservation_id",
                    self._refusal(body, by_location, answers, loc, answer),
                )
            refusal = self._refusal(body, by_location, answers, loc, answer)
            self._keep(rid, refusal)
            if answer.reason == INSUFFICIENT_STOCK:
                short = ", ".join(
                    f"{s['sku']} at {s['location_id']} ({s['qty']} asked, {s['atp']} available)"
                    for s in refusal["short"]
                )
                message = f"not enough stock for cart {rid!r}: {short}"
            else:
                message = f"cart {rid!r} refused at {loc}: {answer.reason}"
            raise ApiError(409, "rejected", message, refusal)
        record = self._answer(rid, body.event_id, by_location, answers)
        if repeats:
            return 200, self.first_outcome(rid, body.event_id)
        self._keep(rid, record)
        return 201, record

    def _keep(self, rid: str, record: dict[str, Any]) -> None:
        """This replica's first answer to a cart, which its repeats give again whole (another
        replica composes it from the parts: ``first_outcome``)."""
        if len(self.answered) >= MAX_ANSWERED:
            del self.answered[next(iter(self.answered))]
        self.answered[rid] = record

    def _order(self, by_location: dict[str, Lines], channel: str) -> list[str]:
        """The scarcest part first: the least ``channel ATP - qty`` over its lines, then the
        location id (docs/decisions.md)."""
        policy = self.service.policy
        found = policy.channel(channel)
        name = channel if found is None else found.name

        def slack(loc: str) -> tuple[int, str]:
            least = min(
                kits.channel_atp(self.readmodel, policy, loc, sku, name) - qty
                for sku, qty in by_location[loc]
            )
            return least, loc

        return sorted(by_location, key=slack)

    def _part(self, body: ReserveIn, loc: str, lines: Lines, ts: Any) -> dict[str, Any]:

        fields: dict[str, Any] = {
            "reservation_id": part_id(body.reservation_id, loc),
            "location_id": loc,
            "ttl_s": body.ttl_s,
            "channel": body.channel,
            "ts": ts,
            "event_id": new_event_id() if body.event_id is None else try_id(body.event_id, loc),
        }
        if len(lines) == 1:
            fields["sku"], fields["qty"] = lines[0]
        else:
            fields["lines"] = [{"sku": sku, "qty": qty} for sku, qty in lines]
        return fields

    def _pending(self, body: ReserveIn, pending: Pending) -> Result:
        record = {
            "status": "pending",
            "reservation_id": body.reservation_id,
            "event_id": pending.event_id,
        }
        service = self.service
        if body.reservation_id not in service.pending:
            service.remember_pending(
                body.reservation_id,
                {
                    **record,
                    "lines": [line.model_dump(exclude_none=True) for line in body.lines or ()],
                },
            )
        return 202, record

    async def _release_held(self, answers: dict[str, ReservationChanged]) -> None:
        await self._release_all(
            [(loc, answer.reservation_id) for loc, answer in answers.items() if holds(answer)]
        )

    async def _release_all(self, parts: list[tuple[str, str]]) -> list[Any]:
        """Release parts at once; an answer not known in time is left to the engine (the
        release was sent) and the hold's ``ttl_s`` bounds it anyway."""
        sends = [
            self.service.send("release", {"reservation_id": pid, "location_id": loc})
            for loc, pid in parts
        ]
        return list(await asyncio.gather(*sends, return_exceptions=True))

    def _short(
        self, loc: str, answer: ReservationChanged, lines: Lines, channel: str
    ) -> list[dict[str, Any]]:
        """The lines the refused part fell short on, each with its location."""
        if answer.short is not None:
            return [{"sku": s, "qty": q, "atp": a, "location_id": loc} for s, q, a in answer.short]
        view = self.readmodel.reservation(answer.reservation_id)
        if view is not None and view.first_short is not None:
            return [
                {"sku": s, "qty": q, "atp": a, "location_id": loc} for s, q, a in view.first_short
            ]
        if answer.reason != INSUFFICIENT_STOCK:
            return []
        policy = self.service.policy
        found = policy.channel(channel)
        name = channel if found is None else found.name
        short = []
        for sku, qty in lines:  # a one-sku part: its ATP as the read model has it now
            atp = kits.channel_atp(self.readmodel, policy, loc, sku, name)
            if qty > atp:
                short.append({"sku": sku, "qty": qty, "atp": atp, "location_id": loc})
        return short

    def _refusal(
        self,
        body: ReserveIn,
        by_location: dict[str, Lines],
        answers: dict[str, ReservationChanged],
        loc: str,
        answer: ReservationChanged,
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "reservation_id": body.reservation_id,
            "status": "rejected",
            "expires_at": answer.expires_at,
            "reason": answer.reason
            if answer.status == "rejected"
            else f"part {answer.current_status}",
            "ts": answer.ts,
            "event_id": body.event_id,
            "lines": [
                {"sku": sku, "qty": 0, "location_id": at}
                for at, lines in by_location.items()
                for sku, _ in lines
            ],
            "short": self._short(loc, answer, by_location[loc], body.channel)
            if answer.status == "rejected"
            else [],
            "parts": [outcome_record(part) for part in answers.values()],
        }
        return record

    def _answer(
        self,
        rid: str,
        event_id: str | None,
        by_location: dict[str, Lines],
        answers: dict[str, ReservationChanged],
    ) -> dict[str, Any]:
        """201: every part confirmed, every line held, each with its location."""
        parts = [answers[loc] for loc in by_location]
        return {
            "reservation_id": rid,
            "status": "confirmed",
            "expires_at": min(part.expires_at for part in parts),
            "reason": None,
            "ts": max(part.ts for part in parts),
            "event_id": event_id,
            "lines": [
                {"sku": sku, "qty": qty, "location_id": loc}
                for loc in by_location
                for sku, qty in held(answers[loc])
            ],
            "parts": [outcome_record(part) for part in parts],
        }

    def first_outcome(self, rid: str, event_id: str | None) -> dict[str, Any]:
        """The answer to a reserve of a cart id decided before (``repeat: true``), from the
        read model: its first outcome, and the cart as it stands now."""
        known = self.readmodel.parts_of(rid)
        views = list(known.values())
        if not views:
            raise unknown(rid)
        now = view_of(rid, known)
        kept = self.answered.get(rid)
        if kept is not None:  # this replica answered it first: that answer, whole
            return {
                **kept,
                "ts": self.service.clock(),
                "event_id": event_id,
                "repeat": True,
                "current_status": now["status"],
                "current_lines": now["lines"],
                "parts": now["parts"],
            }
        rejected = any(view.first_status == "rejected" for view in views)
        short = [
            line
            for loc, view in known.items()
            if view.first_status == "rejected"
            for line in self._short_of(loc, view)
        ]
        return {
            "reservation_id": rid,
            "status": "rejected" if rejected else "confirmed",
            "expires_at": min(view.expires_at for view in views),
            "reason": INSUFFICIENT_STOCK if rejected else None,
            "ts": self.service.clock(),
            "event_id": event_id,
            "lines": [
                {"sku": sku, "qty": 0 if rejected else qty, "location_id": loc}
                for loc, view in known.items()
                for sku, qty in first_lines(view)
            ],
            **({"short": short} if rejected else {}),
            "repeat": True,
            "current_status": now["status"],
            "current_lines": now["lines"],
            "parts": now["parts"],
        }

    def _short_of(self, loc: str, view: ReservationView) -> list[dict[str, Any]]:
        """A refused part's short lines as another replica knows them: a cart part's, which
        the engine's outcome carries; a one-sku part's outcome says no more than its refusal
        (its line, qty 0, is in ``lines``)."""
        if view.first_short is None:
            return []
        return [{"sku": s, "qty": q, "atp": a, "location_id": loc} for s, q, a in view.first_short]

    # -- release, fulfil, read ----------------------------------------------------------------

    async def release(self, rid: str, event_id: str | None) -> Result:

        known = self.readmodel.parts_of(rid)
        held = [(loc, view) for loc, view in known.items() if view.active]
        if not held:
            raise ended(rid, known)
        answers = await asyncio.gather(
            *(
                self.service.send(
                    "release",
                    {
                        "reservation_id": view.reservation_id,
                        "location_id": loc,
                        "event_id": None if event_id is None else try_id(event_id, loc),
                    },
                )
                for loc, view in held
            )
        )
        return self._after(rid, list(answers))

    async def fulfil(self, rid: str, body: FulfilIn) -> Result:

        known = self.readmodel.parts_of(rid)
        if body.qty is not None:
            raise ApiError(
                422, "invalid_request", "a cart across locations is fulfilled by lines, not qty"
            )
        picks = self._picks(rid, known, body)
        answers = []
        for loc, lines in picks.items():
            view = known[loc]
            fields: dict[str, Any] = {
                "reservation_id": view.reservation_id,
                "location_id": loc,
                "event_id": None if body.event_id is None else try_id(body.event_id, loc),
                "ts": body.ts,
            }
            if lines is not None and view.lines is not None:
                fields["lines"] = [{"sku": sku, "qty": qty} for sku, qty in lines]
            elif lines is not None:
                fields["qty"] = lines[0][1]
            answers.append(await self.service.send("fulfil", fields))
        return self._after(rid, answers)

    def _picks(
        self, rid: str, known: dict[str, ReservationView], body: FulfilIn
    ) -> dict[str, Lines | None]:
        """What each part hands over (``None``: all it holds), checked against the read model."""
        if body.lines is None:
            picks: dict[str, Lines | None] = {
                loc: None for loc, view in known.items() if view.active
            }
            if not picks:
                raise ended(rid, known)
            return picks
        named: dict[str, Lines] = {}
        for line in body.lines:
            if line.location_id is None:
                raise ApiError(
                    422,
                    "invalid_request",
                    "a cart across locations: each line of a fulfil names its location_id",
                )
            named.setdefault(line.location_id, []).append((line.sku, line.qty))
        for loc, lines in named.items():
            view = known.get(loc)
            if view is not None and not view.active:
                raise ended(rid, known)
            held = dict(held_now(view)) if view is not None else {}
            for sku, qty in lines:
                if qty > held.get(sku, 0):
                    raise ApiError(
                        409,
                        "fulfil_exceeds_held",
                        f"fulfil of {qty} {sku} at {loc} but cart {rid!r} holds "
                        f"{held.get(sku, 0)} of it there",
                    )
            if view is not None and view.lines is None and len(lines) > 1:
                raise ApiError(422, "invalid_request", f"a sku is on two lines at {loc}")
        return dict(named)

    def _after(self, rid: str, answers: list[Any]) -> Result:
        """The cart after a release or fulfil of its parts, or the first trouble."""
        for answer in answers:
            if isinstance(answer, Pending):
                return 202, {
                    "status": "pending",
                    "reservation_id": rid,
                    "event_id": answer.event_id,
                }
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
            if isinstance(answer, Rejected):
                raise ApiError(
                    status_of(answer.code),
                    answer.code,
                    answer.message,
                    view_of(rid, self.readmodel.parts_of(rid)),
                )
        now = view_of(rid, self.readmodel.parts_of(rid))
        decided = [a for a in answers if isinstance(a, ReservationChanged)]
        record = {
            "reservation_id": rid,
            "status": now["status"],
            "expires_at": now["expires_at"],
            "reason": None,
            "ts": max(a.ts for a in decided) if decided else now["updated_at"],
            "event_id": None,
            "lines": now["lines"],
            "parts": now["parts"],
        }
        if answers and all(isinstance(a, Duplicate) for a in answers):
            record["repeat"] = True
        return 200, record

    def view(self, rid: str) -> dict[str, Any] | None:
        """``GET`` of a cart across locations, or ``None`` when no part is known."""
        known = self.readmodel.parts_of(rid)
        return view_of(rid, known) if known else None
