"""``--network``: the promise routes over ``engine.promise``."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

AT = "2026-11-18T15:00:00Z"  # a Wednesday


@pytest.fixture(scope="module")
def network_file(tmp_path_factory):
    from workload.builtin import generate_network

    path = tmp_path_factory.mktemp("net") / "network.json"
    path.write_bytes(orjson.dumps(generate_network(12, seed=3)))
    return path


def stock(location_ids):
    from workload.builtin import stock_events

    return list(stock_events(location_ids, 5, "2026-11-18T12:00:00Z"))


@pytest.fixture
def promised(make_client, network_file):
    from api.promiser import load_promiser

    promiser = load_promiser(network_file)
    client = make_client(promiser=promiser, locations=tuple(promiser.location_ids))
    events = stock(list(promiser.location_ids))
    assert client.post("/v1/events", json=events).json()["invalid"] == []
    return client, promiser


def test_the_read_model_indexes_locations_like_the_network(promised):
    client, promiser = promised
    readmodel = client.app.state.omnistock.readmodel
    assert readmodel.location_ids[: len(promiser.location_ids)] == list(promiser.location_ids)


def test_promise_listing_and_availability_answer_from_the_read_model(promised):
    client, promiser = promised
    store = next(loc for loc in promiser.network.locations if loc.pickup)
    where = {"lat": store.lat, "lon": store.lon}
    cart = client.post(
        "/v1/promise",
        json={"items": [{"sku": "SKU000001", "qty": 1}], "destination": where, "at": AT},
    )
    assert cart.status_code == 200, cart.text
    assert cart.json()["items"][0]["options"]
    listing = client.post(
        "/v1/promise/listing",
        json={"skus": ["SKU000001", "SKU000002"], "destination": where, "at": AT},
    )
    assert listing.status_code == 200, listing.text
    assert len(listing.json()["skus"]) == 2
    near = client.get(
        "/v1/availability/SKU000001",
        params={"near": f"{store.lat},{store.lon}", "radius_km": 100, "at": AT},
    )
    assert near.status_code == 200, near.text


def test_a_reservation_shows_at_once_in_the_array_the_kernels_read(promised):
    client, _ = promised
    readmodel = client.app.state.omnistock.readmodel
    stocked = {lid: r.atp for lid, r in readmodel.positions_of("SKU000005").items() if r.atp}
    location_id, atp = next(iter(stocked.items()))
    client.post(
        "/v1/reservations",
        json={"reservation_id": "all", "location_id": location_id, "sku": "SKU000005", "qty": atp},
    )
    index = readmodel.location_index[location_id]
    assert readmodel.atp_array("SKU000005")[index] == 0


def test_an_unknown_postal_code_is_422(promised):
    client, _ = promised
    answer = client.post(
        "/v1/promise",
        json={"items": [{"sku": "SKU000001"}], "destination": {"postal_code": "00000"}},
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "unknown_postal_code"


def test_an_order_instant_near_the_end_of_dates_is_422_not_a_server_error(promised):
    """Found by schemathesis: the calendars of an order in late 9999 ran past date.max."""
    client, _ = promised
    cases: tuple[tuple[str, dict[str, Any]], ...] = (
        ("/v1/promise", {"items": [{"sku": "SKU000001"}]}),
        ("/v1/promise/listing", {"skus": ["SKU000001"]}),
    )
    for route, body in cases:
        body |= {"destination": {"postal_code": "10001"}, "at": 253402300799998}
        answer = client.post(route, json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "at_out_of_range"
    ordinary = {"items": [{"sku": "SKU000001"}], "destination": {"postal_code": "10001"}}
    assert client.post("/v1/promise", json={**ordinary, "at": AT}).status_code == 200


def test_the_promise_fast_path_answers_as_the_route_does(make_client, network_file):
    """A plain body is answered below FastAPI; with ``at`` the route answers: same figures."""
    from datetime import datetime

    from api.promiser import load_promiser

    promiser = load_promiser(network_file)
    client = make_client(
        promiser=promiser,
        locations=tuple(promiser.location_ids),
        clock=lambda: datetime.fromisoformat(AT),
    )
    client.post("/v1/events", json=stock(list(promiser.location_ids)))
    body = {"items": [{"sku": "SKU000001", "qty": 1}], "destination": {"postal_code": "10001"}}
    fast = client.post("/v1/promise", json=body)
    routed = client.post("/v1/promise", json={**body, "at": AT})
    assert fast.status_code == routed.status_code == 200
    assert fast.json() == routed.json()
    assert fast.json()["items"][0]["options"]
    # What the fast path leaves to the route still gets the route's errors.
    unknown = client.post("/v1/promise", json={**body, "destination": {"postal_code": "00000"}})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_postal_code"
    extra = client.post("/v1/promise", json={**body, "colour": "red"})
    assert extra.status_code == 422
    broken = client.post("/v1/promise", content=b"{", headers={"content-type": "application/json"})
    assert broken.status_code in {400, 422}
    assert broken.json()["error"]["code"]


def test_the_promise_route_agrees_with_omnistock_promise(promised, network_file, tmp_path, capsys):
    """Same network, same events: ``POST /v1/promise`` answers what the CLI prints."""
    from omnistock.cli import main

    client, promiser = promised
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join(orjson.dumps(e) for e in stock(list(promiser.location_ids))))
    for sku, to in (("SKU000001", "10001"), ("SKU000003", "60601"), ("SKU000005", "34.05,-118.24")):
        capsys.readouterr()
        code = main(
            [
                *("promise", "--network", str(network_file), "--events", str(log)),
                *("--sku", sku, "--qty", "1", "--to", to, "--at", AT),
            ]
        )
        assert code == 0
        printed = orjson.loads(capsys.readouterr().out)
        if "," in to:
            lat, lon = (float(part) for part in to.split(","))
            destination: dict[str, float | str] = {"lat": lat, "lon": lon}
        else:
            destination = {"postal_code": to}
        body = {"items": [{"sku": sku, "qty": 1}], "destination": destination, "at": AT}
        answered = client.post("/v1/promise", json=body)
        assert answered.status_code == 200, answered.text
        assert answered.json() == printed
