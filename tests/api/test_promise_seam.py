"""The promise routes: 503 no_network without a calculator; with one, they hand it the read
model's ATP arrays indexed like the network's locations."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import stock


class FakePromiser:
    """Records what it was given; answers with the ATP it reads for the first sku."""

    location_ids = ("DC1", "S1", "S2")

    def promise(self, items, destination, at, atp) -> dict[str, Any]:
        sku = items[0][0]
        by_location = dict(zip(atp.location_ids, atp.atp_array(sku).tolist(), strict=False))
        return {"items": items, "destination": destination, "at": at, "atp": by_location}

    def listing(self, skus, destination, at, atp) -> dict[str, Any]:
        return {"skus": skus, "destination": destination}

    def availability(self, sku, near, radius_km, qty, limit, at, atp) -> dict[str, Any]:
        if near == "00000":
            error = ValueError("unknown postal code 00000")
            error.code = "unknown_postal_code"  # type: ignore[attr-defined]
            raise error
        return {"sku": sku, "near": near, "radius_km": radius_km, "qty": qty, "limit": limit}


def test_without_a_network_the_promise_routes_answer_503_no_network(client):
    destination = {"postal_code": "10001"}
    answers = [
        client.post("/v1/promise", json={"items": [{"sku": "A"}], "destination": destination}),
        client.post("/v1/promise/listing", json={"skus": ["A"], "destination": destination}),
        client.get("/v1/availability/A", params={"near": "10001"}),
    ]
    for answer in answers:
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "no_network"


def test_with_a_promiser_the_routes_read_atp_by_network_index(make_client):
    promiser = FakePromiser()
    client = make_client(promiser=promiser, locations=promiser.location_ids)
    stock(client, 4, "S2", "A")
    body = {
        "items": [{"sku": "A", "qty": 2}],
        "destination": {"lat": 40.7, "lon": -74.0},
        "at": "2026-11-20T09:00:00-05:00",
    }
    answer = client.post("/v1/promise", json=body)
    assert answer.status_code == 200
    assert answer.json() == {
        "items": [["A", 2]],
        "destination": {"lat": 40.7, "lon": -74.0},
        "at": "2026-11-20T14:00:00Z",
        "atp": {"DC1": 0, "S1": 0, "S2": 4},
    }
    listing = client.post(
        "/v1/promise/listing", json={"skus": ["A"], "destination": {"postal_code": "10001"}}
    )
    assert listing.json() == {"skus": ["A"], "destination": {"postal_code": "10001"}}
    near = client.get("/v1/availability/A", params={"near": "40.7,-74.0", "qty": 2})
    assert near.json()["qty"] == 2


def test_a_destination_needs_a_postal_code_or_both_coordinates(make_client):
    client = make_client(promiser=FakePromiser())
    answer = client.post("/v1/promise", json={"items": [{"sku": "A"}], "destination": {"lat": 1}})
    assert answer.status_code == 422


def test_a_promiser_error_with_a_code_is_422_with_that_code(make_client):
    client = make_client(promiser=FakePromiser())
    answer = client.get("/v1/availability/A", params={"near": "00000"})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "unknown_postal_code"
