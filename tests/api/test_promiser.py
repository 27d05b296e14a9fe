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


def test_the_last_order_instant_the_document_allows_is_one_the_calculator_covers(promised):
    """``api.instants.PROMISE_MAX_MS`` is documented as ``at``'s maximum: promises answer up to
    it, and past it answer at_out_of_range, for the body's and the query's ``at`` alike."""
    from api.instants import PROMISE_LAST_DAY, PROMISE_MAX_MS

    client, promiser = promised
    store = next(loc for loc in promiser.network.locations if loc.pickup)
    body = {"items": [{"sku": "SKU000001"}], "destination": {"postal_code": "10001"}}
    near = {"near": f"{store.lat},{store.lon}"}
    last = f"{PROMISE_LAST_DAY}T23:59:59.999999Z"
    for at in (PROMISE_MAX_MS, last):
        assert client.post("/v1/promise", json={**body, "at": at}).status_code == 200, at
        answer = client.get("/v1/availability/SKU000001", params={**near, "at": str(at)})
        assert answer.status_code == 200, at
    for at in (PROMISE_MAX_MS + 1, "9999-08-02T00:00:00Z"):
        late = client.post("/v1/promise", json={**body, "at": at})
        assert (late.status_code, late.json()["error"]["code"]) == (422, "at_out_of_range"), at
        answer = client.get("/v1/availability/SKU000001", params={**near, "at": str(at)})
        assert answer.json()["error"]["code"] == "at_out_of_range", at


def test_the_hot_paths_answer_as_the_fastapi_routes_do(make_client, network_file):
    """The same requests to an app with the hot path and to one without: the same answers,
    errors included (a body not declared JSON, a bad destination, an unknown position)."""
    from datetime import datetime

    from api.promiser import load_promiser

    promiser = load_promiser(network_file)
    clients = [
        make_client(
            promiser=promiser,
            locations=tuple(promiser.location_ids),
            clock=lambda: datetime.fromisoformat(AT),
            hot_path=hot,
        )
        for hot in (True, False)
    ]
    for client in clients:
        client.post("/v1/events", json=stock(list(promiser.location_ids)))
    body = {"items": [{"sku": "SKU000001", "qty": 1}], "destination": {"postal_code": "10001"}}
    text = orjson.dumps(body)
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/v1/promise", {"json": body}),
        ("POST", "/v1/promise", {"json": {**body, "at": AT}}),
        ("POST", "/v1/promise", {"content": text, "headers": {"content-type": "text/plain"}}),
        ("POST", "/v1/promise", {"content": text}),
        ("POST", "/v1/promise", {"json": {**body, "destination": {"lat": 40.7}}}),
        ("POST", "/v1/promise", {"json": {**body, "destination": {"postal_code": "00000"}}}),
        ("POST", "/v1/promise", {"json": {**body, "destination": {"postal_code": "1000"}}}),
        ("POST", "/v1/promise", {"json": {**body, "items": [{"sku": "SKU000001", "qty": 2.0}]}}),
        ("POST", "/v1/promise", {"json": {**body, "at": 253402300799998}}),
        ("POST", "/v1/promise", {"json": {**body, "at": "2026-11-18T15:00:00+0000"}}),
        ("GET", f"/v1/atp/{promiser.location_ids[0]}/SKU000001", {}),
        ("GET", "/v1/atp/NOWHERE/SKU000001", {}),
    ]
    for method, url, extra in requests:
        fast, routed = (client.request(method, url, **extra) for client in clients)
        assert (fast.status_code, fast.json()) == (routed.status_code, routed.json()), url
    assert clients[0].post("/v1/promise", json=body).json()["items"][0]["options"]


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
