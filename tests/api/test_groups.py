"""Channels and location groups through the embedded API (docs/policy.md): a group's ATP,
the query by groups and channel, and reservations at a group, alone and in a race."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import pytest

from api.app import create_app
from api.backends.embedded import EmbeddedBackend
from api.readmodel import ReadModel
from engine.book import EngineConfig
from engine.policy import load
from tests.api.conftest import receipt, uvicorn_thread

POLICY = load(
    b"""{"channels": [
      {"name": "web"}, {"name": "pos", "safety_stock": false},
      {"name": "call_centre", "locations": ["group:northeast"]},
      {"name": "marketplace", "buffer_pct": 20, "protect_units": 1, "locations": ["group:dcs"]}],
     "groups": [
      {"id": "dcs", "locations": ["DC1", "DC2"]},
      {"id": "northeast", "locations": ["S1", "S2", "group:dcs"]}],
     "safety_stock": {"default": 1}}"""
)
STOCK = {"S1": 6, "S2": 11, "DC1": 21, "DC2": 1, "S9": 50}  # S9 is in no group


@pytest.fixture
def client(make_client):
    made = make_client(policy=POLICY)
    events = [receipt(qty, location) for location, qty in STOCK.items()]
    assert made.post("/v1/events", json=events).status_code == 202
    return made


def test_a_group_answers_the_sum_of_its_locations_channel_atp(client):
    web = client.get("/v1/atp/group/northeast/A").json()
    # web holds one unit of safety stock back everywhere
    assert web == {
        "group_id": "northeast",
        "sku": "A",
        "channel": "web",
        "atp": 5 + 10 + 20 + 0,
        "locations": [
            {"location_id": "S1", "atp": 5},
            {"location_id": "S2", "atp": 10},
            {"location_id": "DC1", "atp": 20},
            {"location_id": "DC2", "atp": 0},
        ],
    }
    # marketplace: DCs only, one unit protected, 20 % kept back: (21-1-1)*80//100 = 15
    market = client.get("/v1/atp/group/northeast/A", params={"channel": "marketplace"}).json()
    assert [loc["atp"] for loc in market["locations"]] == [0, 0, 15, 0]
    assert market["atp"] == 15
    assert client.get("/v1/atp/group/dcs/A", params={"channel": "pos"}).json()["atp"] == 22
    assert client.get("/v1/atp/group/nowhere/A").json()["error"]["code"] == "unknown_group"
    assert client.get("/v1/atp/group/nowhere/A").status_code == 404
    # this policy has no default channel: a channel it does not name is refused
    missing = client.get("/v1/atp/group/dcs/A", params={"channel": "kiosk"})
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "unknown_channel"


def test_positions_carry_every_channel(client):
    assert client.get("/v1/atp/S9/A").json()["channels"] == {
        "web": 49,
        "pos": 50,
        "call_centre": 0,  # S9 is not in the call centre's group
        "marketplace": 0,
    }


def test_the_query_takes_groups_and_a_channel(client):
    body = {"skus": ["A"], "location_ids": ["S9", "DC1"], "location_groups": ["dcs"]}
    answer = client.post("/v1/atp/query", json={**body, "channel": "marketplace"}).json()
    assert [p["location_id"] for p in answer["positions"]] == ["S9", "DC1", "DC2"]
    assert answer["channel"] == "marketplace"
    assert answer["totals"]["A"] == {"on_hand": 72, "reserved": 0, "atp": 15}
    plain = client.post("/v1/atp/query", json={"skus": ["A"], "location_groups": ["dcs"]}).json()
    assert plain["totals"]["A"]["atp"] == 20  # atp without a channel: safety stock held back
    unknown = client.post("/v1/atp/query", json={"skus": ["A"], "location_groups": ["x"]})
    assert unknown.status_code == 404


def reserve(client, rid: str, qty: int, **extra: Any) -> Any:
    body = {"reservation_id": rid, "location_group": "northeast", "sku": "A", "qty": qty}
    return client.post("/v1/reservations", json={**body, **extra})


def test_a_reservation_at_a_group_holds_where_the_channel_atp_is_largest(client):
    made = reserve(client, "g-1", 12)
    assert made.status_code == 201, made.text
    assert made.json()["location_id"] == "DC1"
    assert made.json()["location_group"] == "northeast"
    assert made.json()["status"] == "confirmed"
    assert client.get("/v1/atp/DC1/A").json()["reserved"] == 12
    # the id names one reservation: a repeat answers its first outcome
    again = reserve(client, "g-1", 1)
    assert again.status_code == 200 and again.json()["repeat"] is True
    assert again.json()["location_id"] == "DC1"
    view = client.get("/v1/reservations/g-1").json()
    assert (view["location_id"], view["location_group"]) == ("DC1", "northeast")
    assert client.delete("/v1/reservations/g-1").status_code == 200
    assert client.get("/v1/atp/DC1/A").json()["reserved"] == 0


def test_a_channel_limited_to_a_group_reserves_only_there(client):
    # marketplace sells from the DCs only: 15 units at DC1 for it
    assert reserve(client, "m-1", 16, channel="marketplace").status_code == 409
    made = reserve(client, "m-2", 15, channel="marketplace")
    assert made.status_code == 201 and made.json()["location_id"] == "DC1"


def test_no_location_of_the_group_can_hold_it(client):
    refused = reserve(client, "g-big", 21)
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["location_group"] == "northeast"
    assert refused.json()["error"]["details"]["reason"] == "insufficient_stock"
    # no location could be tried: nothing was sent, nothing is made (no position appears)
    assert (
        client.post(
            "/v1/reservations",
            json={"reservation_id": "g-big", "location_group": "northeast", "sku": "NEW", "qty": 1},
        ).status_code
        == 409
    )
    assert client.get("/v1/atp/S1/NEW").status_code == 404
    # partial: the largest ATP of one location
    partial = reserve(client, "g-part", 21, allow_partial=True)
    assert partial.status_code == 201
    assert (partial.json()["status"], partial.json()["qty"]) == ("partial", 20)
    assert reserve(client, "g-1", 1, location_id="S1").status_code == 422  # not both


def test_a_destination_orders_the_locations_by_delivery(make_client, tmp_path):
    import orjson

    from api.promiser import promiser_of
    from workload.builtin import generate_network

    network = generate_network(stores=20)
    ids = [loc["id"] for loc in network["locations"]]
    policy = load(orjson.dumps({"groups": [{"id": "all", "locations": ids}]}))
    promiser = promiser_of(orjson.dumps(network))
    client = make_client(policy=policy, promiser=promiser, locations=tuple(promiser.location_ids))
    client.post("/v1/events", json=[receipt(5, loc) for loc in ids])
    body = {"reservation_id": "near", "location_group": "all", "sku": "A", "qty": 1}
    # the network's first level (standard) from each location to New York (10001)
    rank = promiser.rank(ids, {"postal_code": "10001"}, _now())
    best = min(
        (loc for loc in ids if rank[loc][0] is not None),
        key=lambda loc: (rank[loc][0], rank[loc][1], loc),
    )
    made = client.post("/v1/reservations", json={**body, "destination": {"postal_code": "10001"}})
    assert made.status_code == 201, made.text
    assert made.json()["location_id"] == best


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def until_group_atp(base: str, group_id: str, atp: int) -> None:
    """Wait until the read model shows the group's ATP (the race starts from it)."""
    deadline = time.monotonic() + 60
    while httpx.get(f"{base}/v1/atp/group/{group_id}/A").json().get("atp") != atp:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_many_buyers_at_one_group_hold_exactly_its_channel_atp():
    """120 buyers at once, over HTTP, at a group with 35 units of web ATP: exactly 35 are
    held, each at a location of the group, and every other buyer is refused."""
    backend = EmbeddedBackend(ReadModel(), EngineConfig().with_policy(POLICY))
    app = create_app(backend, policy=POLICY)
    with uvicorn_thread(app) as port:
        base = f"http://127.0.0.1:{port}"
        events = [receipt(qty, location) for location, qty in STOCK.items()]
        assert httpx.post(f"{base}/v1/events", json=events).status_code == 202
        until_group_atp(base, "northeast", 35)

        async def buyers() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                return await asyncio.gather(
                    *[
                        http.post(
                            "/v1/reservations",
                            json={
                                "reservation_id": f"buyer-{i}",
                                "location_group": "northeast",
                                "sku": "A",
                                "qty": 1,
                            },
                        )
                        for i in range(120)
                    ]
                )

        answers = asyncio.run(buyers())
        codes = [a.status_code for a in answers]
        assert codes.count(201) == 35 and codes.count(409) == 85, codes
        where = [a.json()["location_id"] for a in answers if a.status_code == 201]
        assert set(where) <= {"S1", "S2", "DC1", "DC2"}
        held = {loc: httpx.get(f"{base}/v1/atp/{loc}/A").json()["reserved"] for loc in STOCK}
        assert held == {"S1": 5, "S2": 10, "DC1": 20, "DC2": 0, "S9": 0}
        assert httpx.get(f"{base}/v1/atp/group/northeast/A").json()["atp"] == 0


def test_buyers_spread_over_a_group_of_more_locations_than_tries():
    """Eight stocked locations, five tries each: every buyer asks the read model afresh after a
    refused try, so the race still holds every unit of the group."""
    stores = [f"T{n}" for n in range(8)]
    policy = load(
        orjson.dumps(
            {"channels": [{"name": "web"}], "groups": [{"id": "many", "locations": stores}]}
        )
    )
    backend = EmbeddedBackend(ReadModel(), EngineConfig().with_policy(policy))
    app = create_app(backend, policy=policy)
    with uvicorn_thread(app) as port:
        base = f"http://127.0.0.1:{port}"
        events = [receipt(3, store) for store in stores]
        assert httpx.post(f"{base}/v1/events", json=events).status_code == 202
        until_group_atp(base, "many", 24)

        async def buyers() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                body = {"location_group": "many", "sku": "A", "qty": 1}
                return await asyncio.gather(
                    *[
                        http.post("/v1/reservations", json={**body, "reservation_id": f"b{i}"})
                        for i in range(60)
                    ]
                )

        codes = [a.status_code for a in asyncio.run(buyers())]
        assert codes.count(201) == 24 and codes.count(409) == 36, codes
        assert httpx.get(f"{base}/v1/atp/group/many/A").json()["atp"] == 0


KIT_POLICY = load(
    orjson.dumps(
        {
            "channels": [{"name": "web"}],
            "groups": [{"id": "pair", "locations": ["T0", "T1"]}],
            "kits": [
                {"sku": "KIT", "components": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]}
            ],
        }
    )
)


def test_a_group_answers_and_reserves_a_kit_from_its_components(make_client):
    """A kit has no position: a group's ATP of it is the sum over its locations of their
    components' least (``atp // qty``), and a reservation at the group holds where that is."""
    client = make_client(policy=KIT_POLICY)
    stock = [receipt(4, "T0", "A"), receipt(1, "T0", "B"), receipt(2, "T1", "A")]
    stock.append(receipt(5, "T1", "B"))
    assert client.post("/v1/events", json=stock).status_code == 202
    group = client.get("/v1/atp/group/pair/KIT").json()
    assert group["atp"] == 2  # min(4 // 2, 1) + min(2 // 2, 5)
    assert group["locations"] == [{"location_id": "T0", "atp": 1}, {"location_id": "T1", "atp": 1}]
    held = [reserve(client, f"kit-{i}", 1, location_group="pair", sku="KIT") for i in range(3)]
    assert [answer.status_code for answer in held] == [201, 201, 409]
    assert {answer.json()["location_id"] for answer in held[:2]} == {"T0", "T1"}
    assert client.get("/v1/atp/group/pair/KIT").json()["atp"] == 0
    assert client.get("/v1/atp/T1/B").json()["reserved"] == 1


def test_a_buyer_waits_for_the_try_in_flight_that_speaks_for_the_stock():
    """Between a hold's position reaching the read model and its outcome reaching the buyer,
    the hold counts twice (in the ATP read and as a try in flight): a second buyer then sees
    nothing left, though a unit is. It waits for the try to end, and holds the unit (D121)."""
    policy = load(
        b'{"channels": [{"name": "web"}], "groups": [{"id": "one", "locations": ["T0"]}]}'
    )
    backend = EmbeddedBackend(ReadModel(), EngineConfig().with_policy(policy))
    decided, release = threading.Event(), threading.Event()
    command = backend.command

    async def late(raw: bytes, event: Any, timeout_s: float) -> Any:
        answer = await command(raw, event, timeout_s)
        if event.reservation_id == "first":  # decided, its position read: the outcome lags
            decided.set()
            await asyncio.to_thread(release.wait, 30)
        return answer

    backend.command = late  # type: ignore[method-assign]
    app = create_app(backend, policy=policy)
    with uvicorn_thread(app) as port, ThreadPoolExecutor(2) as pool:
        base = f"http://127.0.0.1:{port}"
        assert httpx.post(f"{base}/v1/events", json=[receipt(2, "T0")]).status_code == 202
        until_group_atp(base, "one", 2)

        def buy(rid: str) -> httpx.Response:
            body = {"reservation_id": rid, "location_group": "one", "sku": "A", "qty": 1}
            return httpx.post(f"{base}/v1/reservations", json=body, timeout=30)

        first = pool.submit(buy, "first")
        assert decided.wait(30)
        assert httpx.get(f"{base}/v1/atp/group/one/A").json()["atp"] == 1
        second = pool.submit(buy, "second")
        time.sleep(0.5)  # the second buyer is waiting now (before D121 it was refused)
        release.set()
        assert first.result().status_code == 201
        assert second.result().status_code == 201, second.result().text
        assert httpx.get(f"{base}/v1/atp/group/one/A").json()["atp"] == 0
