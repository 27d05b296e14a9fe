"""POST /v1/events: valid events go in, invalid ones are listed by index."""

from __future__ import annotations

from tests.api.conftest import receipt


def test_valid_events_go_in_and_invalid_ones_are_listed_by_index(client):
    events = [
        receipt(4),
        {"type": "receipt"},
        receipt(1, ts="not a time"),
        receipt(2, sku="B"),
        "not an object",
    ]
    answer = client.post("/v1/events", json=events)
    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] == 2
    assert [(i["index"], i["code"]) for i in body["invalid"]] == [
        (1, "missing_field"),
        (2, "bad_timestamp"),
        (4, "not_an_object"),
    ]
    assert all(i["reason"] == f"{i['code']}: {i['message']}" for i in body["invalid"])
    assert client.get("/v1/atp/S1/A").json()["on_hand"] == 4
    assert client.get("/v1/atp/S1/B").json()["on_hand"] == 2


def test_engine_refusals_are_reported_as_dead_letters_in_embedded_mode(client):
    release = {
        "event_id": "x",
        "type": "release",
        "location_id": "S1",
        "sku": "A",
        "reservation_id": "ghost",
        "ts": 0,
    }
    body = client.post("/v1/events", json=[release]).json()
    assert body["accepted"] == 1
    assert body["dead_letters"][0]["code"] == "unknown_reservation"


def test_a_transfer_creates_supply_at_its_destination(client):
    transfer = {
        "event_id": "t1",
        "type": "transfer_out",
        "location_id": "DC1",
        "sku": "A",
        "qty": 3,
        "to_location_id": "S1",
        "eta": "2026-11-22T00:00:00Z",
        "supply_id": "T-1",
        "ts": "2026-11-20T10:00:00Z",
    }
    client.post("/v1/events", json=[receipt(10, "DC1"), transfer])
    assert client.get("/v1/atp/DC1/A").json()["on_hand"] == 7
    assert client.get("/v1/atp/S1/A").json()["inbound"][0]["qty"] == 3


def test_more_than_10000_events_is_422_too_many_items(client):
    answer = client.post("/v1/events", json=[{}] * 10_001)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "too_many_items"


def test_a_body_that_is_not_an_array_is_422(client):
    answer = client.post("/v1/events", json={"events": []})
    assert answer.status_code == 422


def test_bad_json_is_400_bad_json(client):
    answer = client.post("/v1/events", content=b"[{", headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_json"


def test_invalid_utf8_in_an_unknown_field_is_bad_json_as_on_the_stream(client):
    item = b'{"event_id":"u1","type":"receipt","location_id":"S1","sku":"A","qty":1,"ts":0'
    body = b"[" + item + b',"note":"caf\xe9"}]'
    answer = client.post("/v1/events", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 202
    assert answer.json()["accepted"] == 0
    assert answer.json()["invalid"][0]["code"] == "bad_json"
    assert client.get("/v1/atp/S1/A").status_code == 404  # nothing applied


def test_an_event_dated_far_ahead_cannot_move_the_dedup_window(client):
    """One device with a clock 8 days ahead: refused, and a redelivery of an earlier event is
    still a duplicate (it would be applied again if the window had moved)."""
    first = receipt(10, event_id="early")
    assert client.post("/v1/events", json=[first]).json()["accepted"] == 1
    ahead = receipt(1, sku="B", event_id="ahead", ts="2099-01-01T00:00:00Z")
    body = client.post("/v1/events", json=[ahead]).json()
    assert body["accepted"] == 0 and body["invalid"][0]["code"] == "ts_in_future"
    assert client.post("/v1/events", json=[first]).json()["accepted"] == 1
    assert client.get("/v1/atp/S1/A").json()["on_hand"] == 10  # the redelivery changed nothing


def test_a_revoke_is_the_engines_own_and_is_refused(client):
    """A ``revoke`` would end a hold silently: an API caller cannot send one (D122)."""
    assert client.post("/v1/events", json=[receipt(3)]).status_code == 202
    held = {"reservation_id": "mine", "location_id": "S1", "sku": "A", "qty": 2}
    made = client.post("/v1/reservations", json=held)
    assert made.status_code == 201
    revoke = {
        "event_id": "revoke:x",
        "type": "revoke",
        "location_id": "S1",
        "sku": "A",
        "reservation_id": "mine",
        "claimed_by": "S2",
        "reserve_event_id": made.json()["event_id"],
        "ts": "2026-11-20T10:00:01Z",
    }
    body = client.post("/v1/events", json=[revoke]).json()
    assert body["accepted"] == 0
    assert [(i["index"], i["code"]) for i in body["invalid"]] == [(0, "unknown_type")]
    assert client.get("/v1/reservations/mine").json()["status"] == "confirmed"
    assert client.get("/v1/atp/S1/A").json()["reserved"] == 2
