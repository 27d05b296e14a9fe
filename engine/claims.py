"""One reservation id, one reservation, across every location (docs/events.md §8.7).

A book knows only the ids used at its own location, so two locations can each hold stock under
one ``reservation_id``. The claims step sits
after the books, keyed by a bucket of ``reservation_id`` (``engine.batch.claim_groups``), and
sees every reservation outcome: the first
position to answer a ``reserve`` of an id claims it; the claiming location's own answers stand
(its book knows the id). An outcome from any other location is a loser's:

- its answer to a ``reserve`` is replaced by the claim's first outcome as a repeat
  (``repeat: true``, the reservation as it stands now beside), carrying the loser's
  ``event_id`` so that its sender recognises the answer;
- a ``Revoke`` event is written back to the loser's location, which ends the hold (if it held
  stock) silently and forgets the id, held or refused, so that the loser's book never answers
  for the id after the claim is gone (``engine.rules``);
- a try of a reservation at a group (``location_group``) after a refused try of the same
  group is no loser: its answer claims the id anew (docs/policy.md);
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

Compiled by mypyc with the rules (``setup.py``): every outcome passes here. ``Claim`` is a
struct of ``engine.outputs``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from msgspec.structs import replace

from engine.outputs import Claim, ReservationChanged
from engine.schema import Revoke
from engine.timefmt import BEFORE_ALL

FIRST: Final = frozenset({"confirmed", "partial", "rejected"})  # a reserve's own answers
HELD: Final = frozenset({"confirmed", "partial"})
REVOKED: Final = "revoked"  # a loser's hold, ended by its Revoke
MAX_ID: Final = 128


Losers = set[tuple[str, str]]  # (location_id, event_id of a reserve) that a log revokes
Remembered = Callable[[str, str], bool]  # does this location's book remember this id?


def claim_of(outcome: ReservationChanged) -> Claim | None:
    """The claim an outcome makes when no claim is known: a reserve's answer (or a repeat of
    one, whose first outcome it carries); ``None`` for an outcome of a hold's later life."""
    if outcome.repeat:
        first = replace(
            outcome,
            event_id=None,
            repeat=False,
            current_status=None,
            current_qty=None,
            current_lines=None,
        )
        status = outcome.current_status or outcome.status
        qty = outcome.qty if outcome.current_qty is None else outcome.current_qty
        lines = outcome.lines if outcome.current_lines is None else outcome.current_lines
        return Claim(first, status, qty, outcome.expires_at, lines)
    if outcome.status in FIRST:
        return _claim(outcome)
    return None


def _claim(outcome: ReservationChanged) -> Claim:
    return Claim(outcome, outcome.status, outcome.qty, outcome.expires_at, outcome.lines)


def decide(
    claim: Claim | None,
    outcome: ReservationChanged,
    losers: Losers | None = None,
) -> tuple[Claim | None, list[Any]]:
    """One outcome through the claims: the claim after it, and what to emit (the outcome to
    publish, as it is or as a repeat, and a ``Revoke`` for a loser that held stock).
    """
    if outcome.status == REVOKED:
        return claim, []  # a loser's hold ended: nothing the reservation's readers should see
    lost = losers is not None and (outcome.location_id, outcome.event_id or "") in losers
    if claim is None:
        if lost:  # the log revokes it: its winner comes later in this log
            return None, []
        return claim_of(outcome), [outcome]
    first = claim.first
    if outcome.location_id == first.location_id:
        # The claiming location's own book knows the id: its answer stands. A first answer
        # there (not a repeat) means the book had forgotten the id: a new reservation claims it.
        if outcome.repeat:
            return claim, [outcome]
        if outcome.status in FIRST:
            return _claim(outcome), [outcome]
        claim.status = outcome.status
        claim.qty = outcome.qty
        claim.expires_at = outcome.expires_at
        claim.lines = outcome.lines
        return claim, [outcome]
    if (
        claim.status == "rejected"
        and outcome.location_group is not None
        and outcome.location_group == first.location_group
        and not outcome.repeat
        and outcome.status in FIRST
    ):
        # The next try of a reservation at a group, after a refused one (docs/policy.md): a
        # refusal does not hold the id, so this try's answer claims it.
        return _claim(outcome), [outcome]
    if not outcome.repeat and outcome.status not in FIRST:
        # The later life of a loser's hold before its revocation. An expiry is dropped; an
        # event's (a release, a fulfil, a sale) is answered with the reservation, so that its
        # sender is answered too.
        return claim, ([] if outcome.event_id is None else [repeat_of(claim, outcome)])
    out: list[Any] = [repeat_of(claim, outcome)]
    if not outcome.repeat and outcome.status in FIRST and not lost:
        out.append(revoke(outcome, first.location_id))
    return claim, out


def repeat_of(claim: Claim, asked: ReservationChanged) -> ReservationChanged:
    """The claim's first outcome, answering the ``reserve`` that ``asked`` is the answer to."""
    return replace(
        claim.first,
        ts=asked.ts,
        event_id=asked.event_id,
        repeat=True,
        current_status=claim.status,
        current_qty=claim.qty,
        current_lines=claim.lines,
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
    """A set of claims, as the dataflow keeps them (one per bucket of reservation ids, the key
    of the claims step) and as ``engine.replay`` does (one for the whole log).

    A claim holds while its reservation is active, and for the dedup window after it ended, on
    the event time of the outcomes seen here (the largest ``ts``; the clock rule keeps it
    honest). ``replay`` passes ``remembered(location_id, reservation_id)`` instead, the claiming
    book's own memory of the id (docs/events.md §8.6), which a single location would have.
    ``losers`` as in the module docstring.
    """

    def __init__(self, window: timedelta, losers: Losers | None = None):
        self.window = window
        self.losers = losers
        self.claims: dict[str, Claim] = {}
        self.ended: dict[str, datetime] = {}  # when each ended claim's reservation ended
        self.latest = BEFORE_ALL
        self._takes = 0

    def take(self, outcome: ReservationChanged, remembered: Remembered | None = None) -> list[Any]:
        """``decide`` for one outcome, with the claim kept here: what to emit."""
        rid = outcome.reservation_id
        claim = self.claims.get(rid)
        # only another location's answer asks whether the claim still holds
        if (
            claim is not None
            and claim.first.location_id != outcome.location_id
            and not self._holds(rid, claim, remembered)
        ):
            self._drop(rid)  # forgotten: the id is free again
            claim = None
        made, out = decide(claim, outcome, self.losers)
        if made is not None:
            if made is not claim:  # a new claim goes to the end: the oldest stay in front
                self.claims.pop(rid, None)
                self.claims[rid] = made
            if made.status in HELD:
                self.ended.pop(rid, None)
            elif rid not in self.ended:
                self.ended[rid] = outcome.ts
        self.latest = max(self.latest, outcome.ts)
        self._takes += 1
        if self._takes % 1024 == 0:
            self._forget(remembered)
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        # A compiled class pickles by its constructor's arguments, then its state (a snapshot).
        return (Claims, (self.window, self.losers), self.__getstate__())

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.claims, self.ended, self.latest, self._takes)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.claims, self.ended, self.latest, self._takes = state

    def _holds(self, rid: str, claim: Claim, remembered: Remembered | None) -> bool:
        if remembered is not None:
            return remembered(claim.first.location_id, rid)
        ended = self.ended.get(rid)
        return ended is None or ended >= self.latest - self.window

    def _drop(self, rid: str) -> None:
        del self.claims[rid]
        self.ended.pop(rid, None)

    def _forget(self, remembered: Remembered | None) -> None:
        """Drop the claims that ended a window ago (and, in a replay, whose book forgot them);
        they end in about the order of time: the scan stops at the first recent one."""
        horizon = self.latest - self.window
        old = []
        for rid, ended in self.ended.items():
            if ended >= horizon:
                break
            claim = self.claims[rid]
            if remembered is None or not remembered(claim.first.location_id, rid):
                old.append(rid)
        for rid in old:
            self._drop(rid)
