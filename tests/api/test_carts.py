"""Carts and kits through the embedded API (docs/api.md §6.4a, §6.4b; docs/events.md §12):
a cart at one location is one ``reserve`` with lines, held whole by the engine; a cart across
locations is one per location (``api.carts``), held all or none by the API's ordering."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import httpx
import orjson
import pytest

from api.app import create_app
from api.backends.embedded import EmbeddedBackend
from api.kits import KitAtp
from api.outcomes import decode_outcome
from api.readmodel import ReadModel
from engine.book import EngineConfig
from engine.carts import kit_atp
from engine.policy import load
from tests.api.conftest import receipt, stock, uvicorn_thread

KITS = load(
    orjson.dumps(
        {"kits": [{"sku": "KIT", "components": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]}]}
    )
)


def cart(rid: str, *lines: tuple[str, int], location_id: str = "S1", **extra: Any) -> Any:
    return {
        "reservation_id": rid,
        "location_id": location_id,
        "lines": [{"sku": sku, "qty": qty} for sku, qty in lines],
        **extra,
    }


def across(rid: str, *lines: tuple[str, str, int], **extra: Any) -> Any:
    return {
        "reservation_id": rid,
        "lines": [{"location_id": loc, "sku": sku, "qty": qty} for loc, sku, qty in lines],
        **extra,
    }


def reserved(client: Any, location_id: str, sku: str) -> int:
    answer = client.get(f"/v1/atp/{location_id}/{sku}")
    return 0 if answer.status_code == 404 else int(answer.json()["reserved"])


# -- one location -------------------------------------------------------------------------------


def test_a_cart_is_held_whole_201_with_its_lines(client):
    stock(client, 3, sku="A")
    stock(client, 2, sku="B")
    answer = client.post("/v1/reservations", json=cart("c1", ("A", 2), ("B", 1)))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "confirmed" and "sku" not in body and "qty" not in body
    assert body["lines"] == [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]
    assert (reserved(client, "S1", "A"), reserved(client, "S1", "B")) == (2, 1)
    view = client.get("/v1/reservations/c1").json()
    assert view["lines"] == body["lines"] and view["first_lines"] == body["lines"]
    assert "sku" not in view


def test_a_cart_short_of_one_line_is_409_with_short_and_holds_nothing(client):
    stock(client, 3, sku="A")
    stock(client, 1, sku="B")
    answer = client.post("/v1/reservations", json=cart("c1", ("A", 2), ("B", 2)))
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "rejected"
    assert error["details"]["short"] == [{"sku": "B", "qty": 2, "atp": 1}]
    assert error["details"]["lines"] == [{"sku": "A", "qty": 0}, {"sku": "B", "qty": 0}]
    assert (reserved(client, "S1", "A"), reserved(client, "S1", "B")) == (0, 0)
    again = client.post("/v1/reservations", json=cart("c1", ("A", 1), ("B", 1)))
    assert again.status_code == 200 and again.json()["status"] == "rejected"


def test_a_cart_with_allow_partial_or_a_sku_twice_is_422(client):
    partial = client.post(
        "/v1/reservations", json=cart("c1", ("A", 1), ("B", 1), allow_partial=True)
    )
    assert partial.status_code == 422
    twice = client.post("/v1/reservations", json=cart("c1", ("A", 1), ("A", 1)))
    assert twice.status_code == 422 and twice.json()["error"]["code"] == "duplicate_line"
    both = client.post("/v1/reservations", json={**cart("c1", ("A", 1), ("B", 1)), "sku": "A"})
    assert both.status_code == 422


def test_a_cart_is_released_and_fulfilled_by_line(client):
    stock(client, 5, sku="A")
    stock(client, 5, sku="B")
    assert client.post("/v1/reservations", json=cart("c1", ("A", 2), ("B", 2))).status_code == 201
    assert client.post("/v1/reservations", json=cart("c2", ("A", 1), ("B", 1))).status_code == 201
    picked = client.post("/v1/reservations/c1/fulfil", json={"lines": [{"sku": "A", "qty": 2}]})
    assert picked.status_code == 200, picked.text
    assert picked.json()["status"] == "confirmed"
    assert picked.json()["lines"] == [{"sku": "A", "qty": 0}, {"sku": "B", "qty": 2}]
    assert client.get("/v1/atp/S1/A").json()["on_hand"] == 3
    over = client.post("/v1/reservations/c1/fulfil", json={"lines": [{"sku": "B", "qty": 3}]})
    assert over.status_code == 409 and over.json()["error"]["code"] == "fulfil_exceeds_held"
    rest = client.post("/v1/reservations/c1/fulfil")
    assert rest.status_code == 200 and rest.json()["status"] == "fulfilled"
    released = client.delete("/v1/reservations/c2")
    assert released.status_code == 200 and released.json()["status"] == "released"
    assert (reserved(client, "S1", "A"), reserved(client, "S1", "B")) == (0, 0)
    repeat = client.post("/v1/reservations", json=cart("c2", ("A", 1), ("B", 1)))
    assert repeat.status_code == 200
    body = repeat.json()
    assert (body["status"], body["current_status"]) == ("confirmed", "released")
    assert body["lines"] == [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}]
    assert body["current_lines"] == [{"sku": "A", "qty": 0}, {"sku": "B", "qty": 0}]


# -- kits ---------------------------------------------------------------------------------------


def test_a_kit_answers_its_atp_from_its_components(make_client):
    client = make_client(policy=KITS)
    stock(client, 3, sku="A")
    stock(client, 5, sku="B")
    body = client.get("/v1/atp/S1/KIT").json()
    assert (body["kit"], body["atp"]) == (True, 2)  # min(3 // 1, 5 // 2)
    assert body["channels"]["web"] == 2 and set(body["channels"]) >= {"web", "pos"}
    parts = {part["sku"]: part for part in body["components"]}
    assert (parts["A"]["qty"], parts["A"]["atp"], parts["B"]["qty"]) == (1, 3, 2)
    assert parts["B"]["on_hand"] == 5
    unknown = client.get("/v1/atp/S9/KIT")  # no component was ever seen there
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_position"
    stock(client, 1, sku="B", location_id="S9")
    assert client.get("/v1/atp/S9/KIT").json()["atp"] == 0  # B but no A there


def test_a_grid_query_totals_a_kit_from_its_components(make_client):
    client = make_client(policy=KITS)
    stock(client, 3, sku="A")
    stock(client, 5, sku="B")
    stock(client, 4, "S2", "A")
    stock(client, 2, "S2", "B")
    body = {"skus": ["KIT", "A"], "location_ids": ["S1", "S2", "S3"]}
    answer = client.post("/v1/atp/query", json=body).json()
    assert answer["totals"]["KIT"] == {"on_hand": 0, "reserved": 0, "atp": 2 + 1}
    assert answer["totals"]["A"]["atp"] == 7
    assert all(p["sku"] != "KIT" for p in answer["positions"])  # a kit is never a position


def test_a_kit_reserve_holds_its_components(make_client):
    client = make_client(policy=KITS)
    stock(client, 3, sku="A")
    stock(client, 5, sku="B")
    body = {"reservation_id": "k1", "location_id": "S1", "sku": "KIT", "qty": 2}
    answer = client.post("/v1/reservations", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["kit"] == "KIT"
    assert answer.json()["lines"] == [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 4}]
    assert client.get("/v1/atp/S1/KIT").json()["atp"] == 0
    refused = client.post("/v1/reservations", json={**body, "reservation_id": "k2", "qty": 1})
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["short"] == [{"sku": "B", "qty": 2, "atp": 1}]


# -- across locations ---------------------------------------------------------------------------


def test_a_cart_across_locations_is_held_at_each(client):
    stock(client, 2, "S1", "A")
    stock(client, 2, "S2", "B")
    stock(client, 2, "S2", "C")
    answer = client.post(
        "/v1/reservations", json=across("x1", ("S1", "A", 1), ("S2", "B", 2), ("S2", "C", 1))
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "confirmed" and "location_id" not in body
    assert sorted((line["location_id"], line["sku"], line["qty"]) for line in body["lines"]) == [
        ("S1", "A", 1),
        ("S2", "B", 2),
        ("S2", "C", 1),
    ]
    assert {part["reservation_id"] for part in body["parts"]} == {"x1@S1", "x1@S2"}
    assert [reserved(client, *p) for p in (("S1", "A"), ("S2", "B"), ("S2", "C"))] == [1, 2, 1]
    view = client.get("/v1/reservations/x1").json()
    assert view["status"] == "confirmed" and len(view["parts"]) == 2
    assert client.get("/v1/reservations/x1@S1").json()["sku"] == "A"  # a part: its own id
    repeat = client.post("/v1/reservations", json=across("x1", ("S3", "A", 1), ("S4", "B", 1)))
    assert repeat.status_code == 200 and repeat.json()["repeat"] is True
    assert repeat.json()["status"] == "confirmed"
    picked = client.post(
        "/v1/reservations/x1/fulfil", json={"lines": [{"location_id": "S2", "sku": "B", "qty": 2}]}
    )
    assert picked.status_code == 200, picked.text
    assert reserved(client, "S2", "B") == 0 and client.get("/v1/atp/S2/B").json()["on_hand"] == 0
    released = client.delete("/v1/reservations/x1")
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "released"
    assert [reserved(client, *p) for p in (("S1", "A"), ("S2", "B"), ("S2", "C"))] == [0, 0, 0]
    assert client.delete("/v1/reservations/x1").status_code == 409


def test_a_cart_across_locations_refused_at_one_releases_the_others(client):
    stock(client, 5, "S1", "A")
    stock(client, 5, "S3", "C")
    stock(client, 1, "S2", "B")
    body = across("x2", ("S1", "A", 1), ("S2", "B", 2), ("S3", "C", 1))
    answer = client.post("/v1/reservations", json=body)
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "rejected"
    assert error["details"]["short"] == [{"sku": "B", "qty": 2, "atp": 1, "location_id": "S2"}]
    assert [reserved(client, *p) for p in (("S1", "A"), ("S2", "B"), ("S3", "C"))] == [0, 0, 0]
    again = client.post("/v1/reservations", json=body)
    assert again.status_code == 200 and again.json()["status"] == "rejected"
    # its first outcome whole: every line asked (S1 and S3 never tried: scarcest first), short
    assert again.json()["repeat"] is True
    assert again.json()["short"] == error["details"]["short"]
    assert sorted(line["location_id"] for line in again.json()["lines"]) == ["S1", "S2", "S3"]


def test_a_cart_across_locations_scarcest_first_then_refused_holds_nothing(client):
    """The scarce location is tried first: a refusal there leaves nothing to release."""
    stock(client, 5, "S1", "A")
    answer = client.post("/v1/reservations", json=across("x3", ("S1", "A", 1), ("S2", "B", 1)))
    assert answer.status_code == 409
    assert [part["reservation_id"] for part in answer.json()["error"]["details"]["parts"]] == [
        "x3@S2"
    ]
    assert reserved(client, "S1", "A") == 0


def test_a_cart_across_locations_cut_off_midway_holds_nothing_past_its_ttl(client):
    """The replica dies after its first part was held (here: its sending fails): nothing
    releases that part, and it ends at its ttl on the wall clock, with no further event."""
    stock(client, 5, "S1", "A")
    stock(client, 5, "S2", "B")
    service = client.app.state.omnistock.reservations
    real = service.send
    sent: list[dict[str, Any]] = []

    async def dies_after_one(type_: str, fields: dict[str, Any]) -> Any:
        if sent:
            raise ConnectionError("the replica died")
        sent.append(fields)
        return await real(type_, fields)

    service.send = dies_after_one
    with pytest.raises(ConnectionError):
        client.post("/v1/reservations", json=across("cut", ("S1", "A", 1), ("S2", "B", 1), ttl_s=1))
    service.send = real
    first = sent[0]["location_id"]
    held = {"S1": ("S1", "A"), "S2": ("S2", "B")}
    assert reserved(client, *held[first]) == 1  # the first part holds, the second never went
    deadline = time.monotonic() + 10
    while reserved(client, *held[first]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [reserved(client, "S1", "A"), reserved(client, "S2", "B")] == [0, 0]
    assert client.get(f"/v1/reservations/cut@{first}").json()["status"] == "expired"


def test_a_cart_across_locations_id_is_checked(client):
    bad = client.post("/v1/reservations", json=across("a@b", ("S1", "A", 1), ("S2", "B", 1)))
    assert bad.status_code == 422
    mixed = across("x4", ("S1", "A", 1), ("S2", "B", 1))
    mixed["lines"][1].pop("location_id")
    assert client.post("/v1/reservations", json=mixed).status_code == 422


@pytest.mark.parametrize(("scarce_a", "scarce_b"), [(1, 1), (3, 2)])
def test_racing_carts_across_locations_on_scarce_stock(scarce_a, scarce_b):
    """Many carts each want one A at S1 and one B at S2, their lines in either order: never
    more confirmed than the scarcer allows, as many as it allows (no sale lost to the race:
    the holds are ordered), and no refused cart holds anything once the answers are in."""
    backend = EmbeddedBackend(ReadModel(), EngineConfig())
    app = create_app(backend, timeout_s=10)
    with uvicorn_thread(app) as port:
        url = f"http://127.0.0.1:{port}"
        stocked = [receipt(scarce_a, "S1", "A"), receipt(scarce_b, "S2", "B")]
        assert httpx.post(f"{url}/v1/events", json=stocked).status_code == 202
        rng = random.Random(3)
        bodies = []
        for i in range(24):
            lines = [("S1", "A", 1), ("S2", "B", 1)]
            rng.shuffle(lines)
            bodies.append(across(f"race-{i}", *lines))

        def buy(body: Any) -> httpx.Response:
            return httpx.post(f"{url}/v1/reservations", json=body, timeout=30)

        with ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(buy, bodies))
        statuses = [answer.status_code for answer in answers]
        assert set(statuses) <= {201, 409}, [a.text for a in answers]
        confirmed = statuses.count(201)
        assert confirmed == min(scarce_a, scarce_b)
        for name, sku in (("S1", "A"), ("S2", "B")):
            assert httpx.get(f"{url}/v1/atp/{name}/{sku}").json()["reserved"] == confirmed
        for body, answer in zip(bodies, answers, strict=True):
            view = httpx.get(f"{url}/v1/reservations/{body['reservation_id']}").json()
            held = sum(line["qty"] for line in view["lines"])
            assert held == (2 if answer.status_code == 201 else 0), view


def test_the_read_model_shows_a_cart_from_the_reservations_topic():
    """Kafka mode reads outcomes as ``engine.outputs.outcome_record`` wrote them."""
    readmodel = ReadModel()
    wire = {
        "reservation_id": "c1",
        "location_id": "S1",
        "status": "confirmed",
        "expires_at": "2026-11-20T10:15:00Z",
        "reason": None,
        "ts": "2026-11-20T10:00:00Z",
        "event_id": "e1",
        "lines": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}],
    }
    outcome = readmodel.take("reservations", orjson.dumps(wire))
    assert outcome is not None and (outcome.sku, outcome.qty) == (None, 3)
    view = readmodel.reservation("c1")
    assert view is not None and view.lines == (("A", 2), ("B", 1))
    refused = {**wire, "reservation_id": "c2", "status": "rejected"}
    refused["short"] = [{"sku": "B", "qty": 1, "atp": 0}]
    assert decode_outcome(orjson.dumps(refused)).short == (("B", 1, 0),)


def test_a_kit_atp_array_is_its_components_least():
    client_model = ReadModel()
    backend = EmbeddedBackend(client_model, EngineConfig().with_policy(KITS))
    backend.start()
    try:
        stocked = [receipt(3, "S1", "A"), receipt(5, "S1", "B"), receipt(9, "S2", "A")]
        assert backend.load([orjson.dumps(event) for event in stocked]) == []
        arrays = KitAtp(client_model, KITS.kits)
        got = list(arrays.atp_array("KIT")[:2])
        want = [
            kit_atp(KITS.kits["KIT"], partial(_lookup, client_model, loc)) for loc in ("S1", "S2")
        ]
        assert got == want == [2, 0]
    finally:
        backend.stop()


def _lookup(readmodel: ReadModel, location_id: str, sku: str) -> int | None:
    found = readmodel.position(location_id, sku)
    return None if found is None else found.atp
