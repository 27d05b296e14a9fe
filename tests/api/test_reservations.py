"""POST/GET/DELETE /v1/reservations and fulfil: the engine decides, the API maps the answer."""

from __future__ import annotations

import time
from typing import Any

from tests.api.conftest import reserve, stock


def test_a_confirmed_reservation_is_201_and_holds_stock(client):
    stock(client, 3)
    answer = reserve(client, "r1", 2)
    assert answer.status_code == 201
    body = answer.json()
    assert (body["status"], body["qty"]) == ("confirmed", 2)
    assert body["expires_at"].endswith("Z") and body["event_id"].startswith("api-")
    assert client.get("/v1/atp/S1/A").json()["reserved"] == 2


def test_a_partial_reservation_is_201(client):
    stock(client, 3)
    answer = reserve(client, "r1", 5, allow_partial=True)
    assert answer.status_code == 201
    assert (answer.json()["status"], answer.json()["qty"]) == ("partial", 3)


def test_a_rejected_reservation_is_409_with_the_outcome(client):
    stock(client, 1)
    answer = reserve(client, "r1", 2)
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "rejected"
    assert error["details"]["status"] == "rejected"
    assert error["details"]["reason"] == "insufficient_stock"


def test_the_same_id_again_is_200_with_the_first_outcome_and_changes_nothing(client):
    stock(client, 3)
    first = reserve(client, "r1", 2)
    again = reserve(client, "r1", 1)
    assert again.status_code == 200
    body = again.json()
    assert body["repeat"] is True
    assert (body["status"], body["qty"]) == ("confirmed", 2)
    assert client.get("/v1/atp/S1/A").json()["reserved"] == 2
    assert {k: body[k] for k in ("reservation_id", "expires_at", "reason")} == {
        k: first.json()[k] for k in ("reservation_id", "expires_at", "reason")
    }


def test_after_a_release_the_same_id_still_answers_the_first_outcome(client):
    stock(client, 3)
    reserve(client, "r1", 2)
    client.delete("/v1/reservations/r1")
    body = reserve(client, "r1", 2).json()
    assert (body["status"], body["qty"]) == ("confirmed", 2)
    assert (body["current_status"], body["current_qty"]) == ("released", 0)
    assert client.get("/v1/atp/S1/A").json()["reserved"] == 0


def test_a_rejected_id_again_is_200_with_the_rejection_and_its_reason(client):
    reserve(client, "r1", 2)
    stock(client, 5)
    again = reserve(client, "r1", 2)
    assert again.status_code == 200
    body = again.json()
    assert (body["status"], body["qty"], body["reason"]) == ("rejected", 0, "insufficient_stock")
    assert client.get("/v1/atp/S1/A").json()["reserved"] == 0


def test_a_retry_with_the_same_event_id_is_200(client):
    stock(client, 3)
    first = reserve(client, "r1", 1, event_id="ev-1")
    again = reserve(client, "r1", 1, event_id="ev-1")
    assert first.status_code == 201
    assert again.status_code == 200
    assert (again.json()["status"], again.json()["repeat"]) == ("confirmed", True)


def test_an_id_held_at_another_position_answers_its_first_outcome(client):
    """docs/events.md §8: a promise made once, "whatever the new fields say": nothing at S2
    moves."""
    stock(client, 3)
    reserve(client, "r1", 1)
    for location_id, sku in (("S2", "A"), ("S1", "B")):
        other = client.post(
            "/v1/reservations",
            json={"reservation_id": "r1", "location_id": location_id, "sku": sku, "qty": 1},
        )
        assert other.status_code == 200
        body = other.json()
        assert (body["location_id"], body["sku"], body["status"]) == ("S1", "A", "confirmed")
        assert client.get(f"/v1/atp/{location_id}/{sku}").status_code == 404


def test_pos_may_use_the_safety_stock(client):
    stock(client, 3)
    safety = {
        "event_id": "ss",
        "type": "set_safety_stock",
        "location_id": "S1",
        "sku": "A",
        "qty": 3,
        "ts": "2026-11-20T10:00:01Z",
    }
    client.post("/v1/events", json=[safety])
    assert reserve(client, "web", 1).status_code == 409
    assert reserve(client, "till", 1, channel="pos").status_code == 201


def test_get_answers_the_latest_outcome_and_the_first(client):
    stock(client, 3)
    reserve(client, "r1", 2)
    client.post("/v1/reservations/r1/fulfil", json={"qty": 1})
    body = client.get("/v1/reservations/r1").json()
    assert (body["status"], body["qty"], body["first_qty"]) == ("confirmed", 1, 2)


def test_get_of_an_unknown_id_is_404(client):
    answer = client.get("/v1/reservations/nope")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "unknown_reservation"


def test_release_gives_the_stock_back_and_a_second_release_is_409(client):
    stock(client, 3)
    reserve(client, "r1", 2)
    released = client.delete("/v1/reservations/r1")
    assert released.status_code == 200
    assert (released.json()["status"], released.json()["qty"]) == ("released", 0)
    assert client.get("/v1/atp/S1/A").json()["atp"] == 3
    again = client.delete("/v1/reservations/r1")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "reservation_ended"


def test_release_or_fulfil_of_an_unknown_id_is_404(client):
    assert client.delete("/v1/reservations/nope").status_code == 404
    assert client.post("/v1/reservations/nope/fulfil").status_code == 404


def test_fulfil_takes_the_stock_and_ends_the_reservation(client):
    stock(client, 3)
    reserve(client, "r1", 2)
    done = client.post("/v1/reservations/r1/fulfil")
    assert done.status_code == 200
    assert done.json()["status"] == "fulfilled"
    position = client.get("/v1/atp/S1/A").json()
    assert (position["on_hand"], position["reserved"]) == (1, 0)
    assert client.post("/v1/reservations/r1/fulfil").status_code == 409


def test_fulfil_of_more_than_held_is_409_from_the_engine(client):
    stock(client, 3)
    reserve(client, "r1", 2)
    answer = client.post("/v1/reservations/r1/fulfil", json={"qty": 3})
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "fulfil_exceeds_held"


def test_reserve_validates_its_fields(client):
    cases = [
        {"reservation_id": "r", "location_id": "S1", "sku": "A", "qty": 0},
        {"reservation_id": "r", "location_id": "S 1", "sku": "A", "qty": 1},
        {"reservation_id": "r", "location_id": "S1", "sku": "A", "qty": 1, "ttl_s": 0},
        {"reservation_id": "r", "location_id": "S1", "sku": "A", "qty": 1, "ts": "yesterday"},
        {"reservation_id": "r", "location_id": "S1", "sku": "A", "qty": "one"},
        {"location_id": "S1", "sku": "A", "qty": 1},
    ]
    for body in cases:
        answer = client.post("/v1/reservations", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"]["code"] == "invalid_request"


def test_a_ts_past_any_instant_is_422_not_a_server_error(client):
    """Found by schemathesis: an integer ``ts`` past 64 bits could not even be encoded."""
    stock(client, 3)
    for ts in (81435317917615229423845376, -1, 253_402_300_800_000):
        body = {"reservation_id": "r1", "location_id": "S1", "sku": "A", "qty": 1, "ts": ts}
        answer = client.post("/v1/reservations", json=body)
        assert answer.status_code == 422, (ts, answer.text)
        assert answer.json()["error"]["code"] == "invalid_request"
    assert client.get("/v1/atp/S1/A").json()["reserved"] == 0


def test_the_body_is_as_strict_as_an_event_and_may_be_the_whole_reserve_event(client):
    stock(client, 3)
    wrongs: tuple[dict[str, Any], ...] = ({"qty": "1"}, {"allow_partial": 1}, {"type": "release"})
    for wrong in wrongs:
        answer = reserve(client, "r1", **{"qty": 1, **wrong})
        assert answer.status_code == 422, wrong
        assert answer.json()["error"]["code"] == "invalid_request"
    whole = reserve(client, "r1", 1, type="reserve", event_id="e-r1", ts="2026-11-20T10:00:02Z")
    assert (whole.status_code, whole.json()["status"]) == (201, "confirmed")


def test_an_outcome_not_known_in_time_answers_202_pending_and_is_decided_later(make_client):
    client = make_client(timeout_s=0)  # every request gives up waiting at once
    stock(client, 3)
    answer = reserve(client, "slow", qty=2)
    assert answer.status_code == 202
    pending = answer.json()
    assert pending["status"] == "pending" and pending["reservation_id"] == "slow"
    assert pending["event_id"].startswith("api-")
    deadline = time.monotonic() + 10
    while (found := client.get("/v1/reservations/slow").json())["status"] == "pending":
        assert time.monotonic() < deadline, found
        time.sleep(0.01)
    assert (found["status"], found["qty"]) == ("confirmed", 2)  # the engine decided it
    client.app.state.omnistock.reservations.timeout_s = 5.0  # the engine is back to answering
    again = reserve(client, "slow", qty=2)  # a retry answers the first outcome
    assert again.status_code == 200
    assert (again.json()["status"], again.json()["repeat"]) == ("confirmed", True)
    assert client.get("/v1/atp/S1/A").json()["reserved"] == 2  # held once


def test_a_request_never_sent_is_not_pending(make_client):
    client = make_client(timeout_s=0)
    answer = reserve(client, "bad", qty=0)
    assert answer.status_code == 422  # refused before sending
    assert client.get("/v1/reservations/bad").status_code == 404


def test_a_reservation_dated_far_ahead_of_the_clock_is_422_and_holds_nothing(client):
    stock(client, 3)
    answer = reserve(client, "future", ts="9999-01-01T00:00:00Z")
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "ts_in_future"
    assert client.get("/v1/reservations/future").status_code == 404
    assert client.get("/v1/atp/S1/A").json()["reserved"] == 0
