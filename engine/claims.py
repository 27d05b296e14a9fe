"""One reservation id, one reservation, across every location (docs/events.md §8.5).

A book knows only the ids used at its own location, so two locations (or two books of one
location split by sku) can each hold stock under one ``reservation_id``. The claims step sits
after the books, keyed by ``reservation_id``, and sees every reservation outcome: the first
position to answer a ``reserve`` of an id claims it; the claiming location's own answers stand
(its book knows the id). An outcome from any other location is a loser's:

- its answer to a ``reserve`` is replaced by the claim's first outcome as a repeat
  (``repeat: true``, the reservation as it stands now beside), carrying the loser's
  ``event_id`` so that its sender recognises the answer;
- if it held stock, a ``Revoke`` event is written back to the loser's location, which ends the
  hold silently and forgets the id (``engine.rules``);
- any later outcome of its hold (released, expired, fulfilled, revoked) never reaches the
  reservations topic as such: the reservation is the claim's, and the topic tells of that one
  only. One caused by an event is answered as a repeat of the claim, so that its sender is
  answered; an expiry or the revocation itself says nothing.

``decide`` is the rule, ``apply(state, outcome) -> (state, outputs)`` in the engine's way. A claim
is kept as long as its book remembers the reservation (``Claims``, offline) or for the dedup
window on the clock (the dataflow), so an id reused after that is a new reservation, as at one
location.

A log replayed offline carries the live run's revocations: ``losers`` names the
``(location_id, event_id)`` of the reserves a log revokes. Such a loser never claims, whatever
the order of locations in the replayed log, and its revocation is the log's own, so a replay of
a live run's events topic leaves its positions exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

import msgspec

from engine.outputs import ReservationChanged
from engine.schema import Revoke

FIRST: Final = frozenset({"confirmed", "partial", "rejected"})  # a reserve's own answers
HELD: Final = frozenset({"confirmed", "partial"})
REVOKED: Final = "revoked"  # a loser's hold, ended by its Revoke
MAX_ID: Final = 128


class Claim(msgspec.Struct, gc=False):
    """Who holds an id: its first outcome, and the reservation as it stands now."""

    first: ReservationChanged
    status: str
    qty: int
    expires_at: datetime


Losers = set[tuple[str, str]]  # (location_id, event_id of a reserve) that a log revokes
Remembered = Callable[[str, str], bool]  # does this location's book remember this id?


def claim_of(outcome: ReservationChanged) -> Claim | None:
    """The claim an outcome makes when no claim is known: a reserve's answer (or a repeat of
    one, whose first outcome it carries); ``None`` for an outcome of a hold's later life."""
    if outcome.repeat:
        first = ReservationChanged(
            outcome.reservation_id,
            outcome.location_id,
            outcome.sku,
            outcome.status,
            outcome.qty,
            outcome.expires_at,
            outcome.ts,
            None,
            outcome.reason,
        )
        status = outcome.current_status or outcome.status
        qty = outcome.qty if outcome.current_qty is None else outcome.current_qty
        return Claim(first, status, qty, outcome.expires_at)
    if outcome.status in FIRST:
        return Claim(outcome, outcome.status, outcome.qty, outcome.expires_at)
    return None


def decide(
    claim: Claim | None,
    outcome: ReservationChanged,
    losers: Losers | None = None,
    by_sku: bool = False,
) -> tuple[Claim | None, list[Any]]:
    """One outcome through the claims: the claim after it, and what to emit (the outcome to
    publish, as it is or as a repeat, and a ``Revoke`` for a loser that held stock).

    ``by_sku``: a location's skus are split over several books (``--sku-shards``), so only
    the claiming position's own book answers for the id; otherwise its whole location's does.
    """
    if outcome.status == REVOKED:
        return claim, []  # a loser's hold ended: nothing the reservation's readers should see
    lost = losers is not None and (outcome.location_id, outcome.event_id or "") in losers
    if claim is None:
        if lost:  # the log revokes it: its winner comes later in this log
            return None, []
        return claim_of(outcome), [outcome]
    first = claim.first
    if outcome.location_id == first.location_id and (not by_sku or outcome.sku == first.sku):
        # The claiming location's own book knows the id: its answer stands. A first answer
        # there (not a repeat) means the book had forgotten the id: a new reservation claims it.
        if outcome.repeat:
            return claim, [outcome]
        if outcome.status in FIRST:
            return Claim(outcome, outcome.status, outcome.qty, outcome.expires_at), [outcome]
        claim.status = outcome.status
        claim.qty = outcome.qty
        claim.expires_at = outcome.expires_at
        return claim, [outcome]
    if not outcome.repeat and outcome.status not in FIRST:
        # The later life of a loser's hold before its revocation. An expiry is dropped; an
        # event's (a release, a fulfil, a sale) is answered with the reservation, so that its
        # sender is answered too.
        return claim, ([] if outcome.event_id is None else [repeat_of(claim, outcome)])
    out: list[Any] = [repeat_of(claim, outcome)]
    if not outcome.repeat and outcome.status in HELD and not lost:
        out.append(revoke(outcome, first.location_id))
    return claim, out


def repeat_of(claim: Claim, asked: ReservationChanged) -> ReservationChanged:
    """The claim's first outcome, answering the ``reserve`` that ``asked`` is the answer to."""
    first = claim.first
    return ReservationChanged(
        first.reservation_id,
        first.location_id,
        first.sku,
        first.status,
        first.qty,
        first.expires_at,
        asked.ts,
        asked.event_id,
        first.reason,
        True,
        claim.status,
        claim.qty,
    )


def revoke(lost: ReservationChanged, claimed_by: str) -> Revoke:
    """The event that ends a loser's hold at its location; its id is made from the loser's
    reserve, so a revocation written twice (a recovery) is applied once."""
    event_id = f"revoke:{lost.event_id}"
    if len(event_id) > MAX_ID:
        event_id = "revoke:" + hashlib.sha256((lost.event_id or "").encode()).hexdigest()
    return Revoke(
        event_id=event_id,
        location_id=lost.location_id,
        sku=lost.sku,
        ts=lost.ts,
        reservation_id=lost.reservation_id,
        claimed_by=claimed_by,
        reserve_event_id=lost.event_id or "",
    )


class Claims:
    """Every claim of an offline fold (``engine.replay``).

    A claim holds while the claiming book remembers the reservation (``remembered(location_id,
    reservation_id)``, given to each call: an ended one for the dedup window after it ended),
    exactly the memory a single location has of its ids; ``losers`` as in the module
    docstring.
    """

    def __init__(self, window: timedelta, losers: Losers | None = None) -> None:
        self.window = window
        self.losers = losers
        self.claims: dict[str, tuple[datetime, Claim]] = {}
        self.latest: datetime | None = None
        self._takes = 0

    def take(self, outcome: ReservationChanged, remembered: Remembered) -> list[Any]:
        """``decide`` for one outcome, with the claim kept here."""
        rid = outcome.reservation_id
        found = self.claims.get(rid)
        if found is not None and not remembered(found[1].first.location_id, rid):
            del self.claims[rid]  # its book forgot it: the id is free again
            found = None
        claim, out = decide(None if found is None else found[1], outcome, self.losers)
        if claim is not None and (found is None or claim is not found[1]):
            self.claims.pop(rid, None)  # a new claim goes to the end: the oldest stay in front
            self.claims[rid] = (outcome.ts, claim)
        if self.latest is None or outcome.ts > self.latest:
            self.latest = outcome.ts
        self._takes += 1
        if self._takes % 1024 == 0:
            self._forget(remembered)
        return out

    def _forget(self, remembered: Remembered) -> None:
        """Drop the claims made a window ago whose books forgot them (claims arrive in about
        the order of time: the scan stops at the first recent one)."""
        assert self.latest is not None
        horizon = self.latest - self.window
        old = []
        for rid, (made, claim) in self.claims.items():
            if made >= horizon:
                break
            if not remembered(claim.first.location_id, rid):
                old.append(rid)
        for rid in old:
            del self.claims[rid]
