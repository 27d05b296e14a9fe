"""GET /v1/atp/{location_id}/{sku} and POST /v1/atp/query."""

from __future__ import annotations

from tests.api.conftest import receipt, stock


def test_a_position_reads_as_the_atp_topic_carries_it(client):
    stock(client, 5)
    body = client.get("/v1/atp/S1/A").json()
    assert body == {
        "location_id": "S1",
        "sku": "A",
        "on_hand": 5,
        "reserved": 0,
        "safety_stock": 0,
        "unsellable": 0,
        "available": 5,
        "atp": 5,
        "oversold": 0,
        "inbound": [],
        "as_of": "2026-11-20T10:00:00Z",
        "channels": {"web": 5, "app": 5, "call_centre": 5, "pos": 5},
        "sold_7d": 0,
        "stockout_eta": None,
    }


def test_atp_at_a_future_instant_counts_supply_due_by_then(client):
    inbound = {
        "event_id": "po",
        "type": "inbound",
        "location_id": "S1",
        "sku": "A",
        "qty": 10,
        "eta": "2026-11-22T08:00:00+01:00",
        "supply_id": "PO-1",
        "ts": "2026-11-20T10:00:00Z",
    }
    client.post("/v1/events", json=[receipt(2), inbound])
    before = client.get("/v1/atp/S1/A", params={"at": "2026-11-21T00:00:00Z"}).json()
    after = client.get("/v1/atp/S1/A", params={"at": "2026-11-22T07:00:00Z"}).json()
    assert before["atp_at"] == 2
    assert after["atp_at"] == 12
    assert after["inbound"] == [{"supply_id": "PO-1", "qty": 10, "eta": "2026-11-22T07:00:00Z"}]


def test_an_unknown_position_is_404_unknown_position(client):
    answer = client.get("/v1/atp/S1/NOPE")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "unknown_position"


def test_a_bad_at_is_422(client):
    stock(client, 1)
    answer = client.get("/v1/atp/S1/A", params={"at": "tomorrow"})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"


def test_query_returns_known_positions_of_the_grid_and_totals_per_sku(client):
    stock(client, 5, "S1", "A")
    stock(client, 7, "S2", "A")
    stock(client, 1, "S3", "A")
    stock(client, 2, "S1", "B")
    answer = client.post(
        "/v1/atp/query", json={"skus": ["A", "B", "C"], "location_ids": ["S1", "S2", "S9"]}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert sorted((p["location_id"], p["sku"]) for p in body["positions"]) == [
        ("S1", "A"),
        ("S1", "B"),
        ("S2", "A"),
    ]
    assert body["totals"] == {
        "A": {"on_hand": 12, "reserved": 0, "atp": 12},
        "B": {"on_hand": 2, "reserved": 0, "atp": 2},
        "C": {"on_hand": 0, "reserved": 0, "atp": 0},
    }


def test_query_lists_are_bounded_at_100(client):
    answer = client.post(
        "/v1/atp/query", json={"skus": [f"K{i}" for i in range(101)], "location_ids": ["S1"]}
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"
    assert "skus" in answer.json()["error"]["message"]


def test_query_rejects_bad_identifiers_and_unknown_fields(client):
    bad_id = client.post("/v1/atp/query", json={"skus": ["a b"], "location_ids": ["S1"]})
    extra = client.post("/v1/atp/query", json={"skus": ["A"], "location_ids": ["S1"], "x": 1})
    assert bad_id.status_code == 422
    assert extra.status_code == 422
