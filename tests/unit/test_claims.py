"""One reservation id, one reservation across locations (engine.claims, docs/events.md §8.5)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from engine.claims import Claims, decide, revoke
from engine.outputs import ReservationChanged
from engine.replay import Replay, revocations
from engine.schema import Revoke
from tests.factories import at, line


def outcome(
    location: str, status: str, qty: int, event_id: str, sku: str = "A", repeat: bool = False
) -> ReservationChanged:
    return ReservationChanged(
        "R1", location, sku, status, qty, at(900_000), at(0), event_id, None, repeat
    )


def test_the_first_answer_claims_and_another_locations_hold_is_revoked():
    claim, out = decide(None, outcome("S1", "confirmed", 2, "e1"))
    assert claim is not None and out == [outcome("S1", "confirmed", 2, "e1")]
    claim, out = decide(claim, outcome("S2", "confirmed", 3, "e2"))
    answer, revocation = out
    assert answer.repeat and answer.location_id == "S1" and answer.qty == 2
    assert answer.event_id == "e2"  # its sender recognises the answer
    assert (answer.current_status, answer.current_qty) == ("confirmed", 2)
    assert isinstance(revocation, Revoke)
    assert (revocation.location_id, revocation.reservation_id) == ("S2", "R1")
    assert (revocation.claimed_by, revocation.reserve_event_id) == ("S1", "e2")


def test_a_rejected_loser_held_nothing_and_is_revoked_to_forget_the_id():
    """Its book must not answer for the id once the claim is gone (tests/property:
    FORGOTTEN_CLAIM): the revocation makes it forget its refusal."""
    claim, _ = decide(None, outcome("S1", "confirmed", 2, "e1"))
    _, out = decide(claim, outcome("S2", "rejected", 0, "e2"))
    answer, revocation = out
    assert answer.repeat and answer.status == "confirmed"
    assert isinstance(revocation, Revoke) and revocation.location_id == "S2"


def test_a_rejected_first_answer_claims_too():
    claim, _ = decide(None, outcome("S1", "rejected", 0, "e1"))
    _, out = decide(claim, outcome("S2", "confirmed", 1, "e2"))
    assert out[0].status == "rejected" and out[0].repeat
    assert isinstance(out[1], Revoke)


def test_the_claiming_location_answers_for_itself_and_its_changes_follow():
    claim, _ = decide(None, outcome("S1", "confirmed", 2, "e1"))
    claim, out = decide(claim, outcome("S1", "confirmed", 2, "e9", sku="B", repeat=True))
    assert out == [outcome("S1", "confirmed", 2, "e9", sku="B", repeat=True)]
    claim, _ = decide(claim, outcome("S1", "released", 0, "e3"))
    assert claim is not None and (claim.status, claim.qty) == ("released", 0)
    _, out = decide(claim, outcome("S2", "confirmed", 1, "e4"))
    assert (out[0].current_status, out[0].current_qty) == ("released", 0)


def test_a_losers_later_life_and_its_revocation_are_never_published():
    claim, _ = decide(None, outcome("S1", "confirmed", 2, "e1"))
    for status in ("released", "fulfilled"):  # an event's: its sender gets the reservation
        (answer,) = decide(claim, outcome("S2", status, 0, "e5"))[1]
        assert answer.repeat and answer.location_id == "S1" and answer.event_id == "e5"
    expired = ReservationChanged("R1", "S2", "A", "expired", 0, at(9), at(9), None)
    assert decide(claim, expired)[1] == []
    assert decide(claim, outcome("S2", "revoked", 0, "revoke:e5"))[1] == []
    assert decide(None, outcome("S2", "revoked", 0, "revoke:e5")) == (None, [])


def test_a_loser_named_by_the_log_never_claims_and_is_not_revoked_again():
    losers = {("S2", "e2")}
    assert decide(None, outcome("S2", "confirmed", 3, "e2"), losers) == (None, [])
    claim, _ = decide(None, outcome("S1", "confirmed", 2, "e1"), losers)
    _, out = decide(claim, outcome("S2", "confirmed", 3, "e2"), losers)
    assert len(out) == 1 and out[0].repeat


def test_a_revocation_of_a_long_event_id_keeps_to_128_characters():
    long = outcome("S2", "confirmed", 1, "x" * 128)
    made = revoke(long, "S1")
    assert len(made.event_id) <= 128 and made.event_id.startswith("revoke:")
    assert made.event_id != revoke(outcome("S2", "confirmed", 1, "x" * 127 + "y"), "S1").event_id


def test_claims_are_forgotten_once_their_book_forgets_the_reservation():
    claims = Claims(timedelta(minutes=1))
    claims.take(outcome("S1", "confirmed", 2, "e1"), lambda loc, rid: True)
    assert claims.take(outcome("S2", "confirmed", 1, "e2"), lambda loc, rid: True)[0].repeat
    fresh = claims.take(outcome("S2", "confirmed", 1, "e3"), lambda loc, rid: False)
    assert fresh == [outcome("S2", "confirmed", 1, "e3")]


# -- replay: the same claims, in file order ----------------------------------------------------

RECEIPTS = [
    line("receipt", location_id=loc, sku="A", qty=5, event_id=f"r-{loc}", ts=at(0))
    for loc in ("S1", "S2")
]


def reserve(location: str, event_id: str, qty: int = 2, offset_ms: int = 1000) -> bytes:
    return line(
        "reserve",
        location_id=location,
        sku="A",
        qty=qty,
        reservation_id="R1",
        event_id=event_id,
        ts=at(offset_ms),
    )


def replayed(lines: list[bytes], losers: Any = None) -> tuple[Replay, list[Any]]:
    seen: list[Any] = []
    replay = Replay(on_outputs=seen.extend, ledger=True, losers=losers)
    replay.feed(lines)
    return replay, [o for o in seen if isinstance(o, ReservationChanged)]


def reserved(replay: Replay) -> dict[str, int]:
    return {p.location_id: p.reserved for p in replay.positions()}


def test_replay_a_reserve_of_an_id_held_elsewhere_holds_nothing_and_repeats():
    replay, outcomes = replayed([*RECEIPTS, reserve("S1", "e1"), reserve("S2", "e2", qty=3)])
    assert reserved(replay) == {"S1": 2, "S2": 0}
    answer = outcomes[-1]
    assert answer.repeat and answer.location_id == "S1" and answer.event_id == "e2"
    assert list(replay.reservations()) == [{"reservation_id": "R1", "status": "active", "qty": 2}]


def test_replay_of_a_live_log_follows_its_revocations_whatever_the_order():
    # Live, S1 claimed R1 and S2's hold was revoked; a replay that reads S2's partition first
    # must leave what the live run left.
    revocation = revoke(outcome("S2", "confirmed", 3, "e2"), "S1")
    revoke_line = line(
        "revoke",
        event_id=revocation.event_id,
        location_id="S2",
        sku="A",
        reservation_id="R1",
        claimed_by="S1",
        reserve_event_id="e2",
        ts=at(1000),
    )
    # S2's partition (its reserve, then the revocation) read around S1's reserve
    log = [*RECEIPTS, reserve("S2", "e2", qty=3), reserve("S1", "e1"), revoke_line]
    losers = revocations(log)
    assert losers == {("S2", "e2")}
    replay, _ = replayed(log, losers)
    assert reserved(replay) == {"S1": 2, "S2": 0}
    # without the log's losers, file order decides (S2 first), and the log's revocation then
    # leaves nobody holding
    replay, _ = replayed(log)
    assert reserved(replay) == {"S1": 0, "S2": 0}
