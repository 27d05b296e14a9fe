"""The promise table in the API (docs/api.md §6.10, §6.15): ``POST /v1/promise/listing`` by
region from the table, and ``GET /v1/promise/stream``.

The embedded apps here run no table of their own: hand-made ``omnistock.promises`` messages go
in through ``ReadModel.take("promises", ...)``, as the dataflow's would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import orjson
import pytest

from api.app import create_app
from api.backends.embedded import EmbeddedBackend
from api.promise_table import PromiseTable
from api.readmodel import ReadModel
from engine.book import EngineConfig
from tests.api.conftest import stock, uvicorn_thread
from tests.api.test_alerts import events_of

AT = "2026-11-18T15:00:00Z"  # a Wednesday
REGIONS = [
    {"id": "100", "lat": 40.78, "lon": -73.97},  # Manhattan
    {"id": "606", "lat": 41.84, "lon": -87.68},  # Chicago
    {"id": "900", "lat": 34.05, "lon": -118.30},  # Los Angeles
]
STANDARD = {
    "deliver_by": "2026-11-20",
    "location_id": "S0001",
    "ship_by": "2026-11-18T14:00:00-05:00",
}
EXPRESS = {
    "deliver_by": "2026-11-19",
    "location_id": "DC01",
    "ship_by": "2026-11-18T18:00:00-06:00",
}


def region_promiser() -> Any:
    """A calculator over a small built-in network with REGIONS."""
    from api.promiser import promiser_of
    from workload.builtin import generate_network

    network = generate_network(12, seed=3)
    network["regions"] = REGIONS
    return promiser_of(orjson.dumps(network))


@pytest.fixture(scope="module")
def promiser() -> Any:
    return region_promiser()


def shipper(promiser: Any) -> str:
    """A location that ships (it delivers to every region of REGIONS at some level)."""
    return str(next(loc.id for loc in promiser.network.locations if loc.ship))


def entry(
    sku: str,
    regions: dict[str, dict[str, Any]],
    as_of: str = "2026-11-18T15:00:00Z",
    valid_until: str | None = "2026-11-18T19:00:00Z",
) -> bytes:
    """An ``omnistock.promises`` message (docs/network.md §9)."""
    return orjson.dumps(
        {"sku": sku, "as_of": as_of, "valid_until": valid_until, "regions": regions}
    )


def take(readmodel: ReadModel, *values: bytes) -> None:
    for value in values:
        readmodel.take("promises", value)


@pytest.fixture
def tabled(make_client, promiser):
    client = make_client(promiser=promiser, locations=tuple(promiser.location_ids))
    readmodel = client.app.state.omnistock.readmodel
    take(
        readmodel,
        entry("TENT", {"100": {"standard": STANDARD, "express": EXPRESS}, "606": {}}),
        entry("POLE", {"100": {}, "606": {"standard": STANDARD}}, valid_until=None),
    )
    return client, readmodel


def listing(client: Any, destination: dict[str, Any], **extra: Any) -> Any:
    body = {"skus": ["TENT", "POLE", "NEVER", "TENT"], "destination": destination, **extra}
    return client.post("/v1/promise/listing", json=body)


def test_a_region_is_answered_from_the_table_and_says_its_region(tabled):
    client, _ = tabled
    answer = listing(client, {"region": "100"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert list(body) == ["at", "destination", "region", "skus"]
    assert body["destination"] == {"lat": 40.78, "lon": -73.97}
    assert body["region"] == "100"
    assert body["skus"] == [
        {
            "sku": "TENT",
            "deliver_by": {"standard": "2026-11-20", "express": "2026-11-19"},
            "as_of": "2026-11-18T15:00:00Z",
            "valid_until": "2026-11-18T19:00:00Z",
        },
        {"sku": "POLE", "deliver_by": {}, "as_of": "2026-11-18T15:00:00Z", "valid_until": None},
        {"sku": "NEVER", "deliver_by": {}, "as_of": None, "valid_until": None},
    ]
    chicago = listing(client, {"region": "606"}).json()["skus"]
    assert [s["deliver_by"] for s in chicago] == [{}, {"standard": "2026-11-20"}, {}]
    # a region the network names but the entry does not: no level serves it
    assert listing(client, {"region": "900"}).json()["skus"][0]["deliver_by"] == {}


def test_a_postal_code_whose_prefix_is_a_region_is_answered_from_the_table(tabled):
    client, _ = tabled
    for code in ("10001", "10001-1234"):
        body = listing(client, {"postal_code": code}).json()
        assert body["region"] == "100"
        assert body["destination"]["postal_code"] == "10001"
        assert body["skus"][0]["deliver_by"] == {"standard": "2026-11-20", "express": "2026-11-19"}


def test_a_postal_code_whose_prefix_is_no_region_is_computed_as_in_v1(tabled, promiser):
    client, _ = tabled
    stock(client, 5, shipper(promiser), "TENT")
    body = listing(client, {"postal_code": "02139"}).json()
    assert "region" not in body
    assert body["destination"]["postal_code"] == "02139"
    assert [set(s) for s in body["skus"]] == [{"sku", "deliver_by"}] * 3
    unknown = listing(client, {"postal_code": "00000"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_postal_code"


def test_an_explicit_at_computes_per_request(tabled, promiser):
    client, _ = tabled
    stock(client, 5, shipper(promiser), "TENT")
    by_region = listing(client, {"region": "100"}, at=AT).json()
    at_point = listing(client, {"lat": 40.78, "lon": -73.97}, at=AT).json()
    assert by_region["region"] == "100"
    assert by_region["at"] == AT
    assert by_region["skus"] == at_point["skus"]  # the region's point, as v1 computes it
    assert "as_of" not in by_region["skus"][0]
    assert by_region["skus"][0]["deliver_by"]  # TENT is in stock now: the table does not know
    by_code = listing(client, {"postal_code": "10001"}, at=AT).json()
    assert "region" not in by_code  # a ZIP code with `at`: v1 itself


def test_without_a_table_a_region_is_computed_at_its_point(make_client, promiser):
    client = make_client(promiser=promiser, locations=tuple(promiser.location_ids))
    stock(client, 5, shipper(promiser), "TENT")
    body = listing(client, {"region": "100"}).json()
    assert body["region"] == "100"
    assert "as_of" not in body["skus"][0] and body["skus"][0]["deliver_by"]
    assert "region" not in listing(client, {"postal_code": "10001"}).json()


def test_an_unknown_region_or_a_mixed_destination_is_422(tabled):
    client, _ = tabled
    for at in ({}, {"at": AT}):
        unknown = listing(client, {"region": "999"}, **at)
        assert unknown.status_code == 422
        assert unknown.json()["error"]["code"] == "unknown_region"
    mixed = listing(client, {"region": "100", "postal_code": "10001"})
    assert mixed.status_code == 422
    assert mixed.json()["error"]["code"] == "invalid_request"
    cart = {"items": [{"sku": "TENT"}], "destination": {"region": "999"}}
    assert client.post("/v1/promise", json=cart).json()["error"]["code"] == "unknown_region"


def test_the_cart_promise_takes_a_region_too(tabled, promiser):
    client, _ = tabled
    stock(client, 5, shipper(promiser), "TENT")
    cart = {"items": [{"sku": "TENT"}], "at": AT}
    by_region = client.post("/v1/promise", json={**cart, "destination": {"region": "100"}})
    at_point = client.post(
        "/v1/promise", json={**cart, "destination": {"lat": 40.78, "lon": -73.97}}
    ).json()
    assert by_region.json() == {**at_point, "region": "100"}


def test_malformed_messages_are_counted_and_skipped(tabled):
    client, readmodel = tabled
    table = readmodel.promises
    bad = [
        b"not json",
        b"{}",
        orjson.dumps({"sku": "TENT", "as_of": "yesterday", "valid_until": None, "regions": {}}),
        orjson.dumps({"sku": "TENT", "as_of": "2026-11-18T15:00:00+01:00", "regions": {}}),
        entry("TENT", {"100": {"standard": {**STANDARD, "deliver_by": "soon"}}}),
        entry("TENT", {"100": {"standard": {"deliver_by": "2026-11-20"}}}),
        orjson.dumps({"sku": "TENT", "as_of": AT, "regions": {"100": []}}),
        entry("", {}),
    ]
    take(readmodel, *bad)
    assert table.unreadable == len(bad)
    assert table.levels("TENT", "100") == {"standard": STANDARD, "express": EXPRESS}
    assert listing(client, {"region": "100"}).json()["skus"][0]["deliver_by"]["express"]


def test_the_table_keeps_the_latest_entry_compactly():
    table = PromiseTable()
    same = {"standard": STANDARD}
    kept = table.put(entry("A", {"100": same, "606": same, "900": {}}))
    assert kept is not None and kept.cells["100"] is kept.cells["606"]  # one encoding, shared
    table.put(entry("A", {"100": {}}, as_of="2026-11-18T16:00:00Z"))
    assert table.levels("A", "100") == {} and table.levels("A", "606") == {}
    assert table.levels("NEVER", "100") == {}
    found = table.entry("A")
    assert found is not None and found.as_of == "2026-11-18T16:00:00Z"
    assert [msgspec.json.decode(raw) for raw in table.listing(["A", "B"], "100")] == [
        {
            "sku": "A",
            "deliver_by": {},
            "as_of": "2026-11-18T16:00:00Z",
            "valid_until": "2026-11-18T19:00:00Z",
        },
        {"sku": "B", "deliver_by": {}, "as_of": None, "valid_until": None},
    ]


def test_a_listing_of_200_skus_answers_each_from_the_table_in_order():
    """(Its speed is benchmarks/promise_listing.py's figure, not a test's.)"""
    table = PromiseTable()
    regions = {f"{n:03d}": {"standard": STANDARD, "express": EXPRESS} for n in range(100)}
    skus = [f"SKU{n:06d}" for n in range(200)]
    for sku in skus[:-1]:
        table.put(entry(sku, regions))
    from engine.timefmt import parse_instant

    at, where = parse_instant(AT), {"lat": 40.78, "lon": -73.97}
    answer = msgspec.json.decode(
        msgspec.json.Encoder().encode(table.answer(skus, "050", at, where))
    )
    assert [row["sku"] for row in answer["skus"]] == skus
    assert all(row["deliver_by"] for row in answer["skus"][:-1])
    assert answer["skus"][-1]["deliver_by"] == {}  # never heard of: nothing to promise


# -- the stream, under uvicorn -------------------------------------------------------------------


@pytest.fixture
def served(promiser) -> Iterator[tuple[str, ReadModel]]:
    readmodel = ReadModel(tuple(promiser.location_ids))
    app = create_app(EmbeddedBackend(readmodel, EngineConfig()), promiser=promiser)
    with uvicorn_thread(app, log_level="warning") as port:
        yield f"http://127.0.0.1:{port}", readmodel


def wait_subscribers(table: PromiseTable, want: int) -> None:
    deadline = time.monotonic() + 5
    while table.subscribers != want:
        assert time.monotonic() < deadline, f"{table.subscribers} subscribers"
        time.sleep(0.01)


def test_the_stream_sends_one_event_per_change_in_its_region(served):
    base, readmodel = served
    take(readmodel, entry("TENT", {"100": {"standard": STANDARD}, "606": {}}))
    with (
        httpx.Client(base_url=base, timeout=10) as client,
        client.stream("GET", "/v1/promise/stream?skus=TENT,POLE&region=100") as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-cache"
        assert readmodel.promises.subscribers == 1  # subscribed before the headers went
        take(
            readmodel,
            entry("TENT", {"100": {"standard": STANDARD}, "606": {"standard": STANDARD}}),  # 606
            entry("TENT", {"100": {"standard": STANDARD}}, as_of="2026-11-18T15:01:00Z"),  # same
            entry("OTHER", {"100": {"standard": STANDARD}}),  # another sku
            entry("POLE", {"100": {}}),  # new, no level: no change from nothing
            entry(
                "TENT",
                {"100": {"standard": STANDARD, "express": EXPRESS}},
                as_of="2026-11-18T15:02:00Z",
            ),
            entry("POLE", {"100": {"express": EXPRESS}}, valid_until=None),
            entry("TENT", {"606": {}}, as_of="2026-11-18T15:03:00Z"),  # gone from 100
        )
        lines = stream.iter_lines()
        events = events_of(lines, 3)
    assert [e["event"] for e in events] == ["promise"] * 3
    assert [e["data"] for e in events] == [
        {
            "sku": "TENT",
            "region": "100",
            "as_of": "2026-11-18T15:02:00Z",
            "valid_until": "2026-11-18T19:00:00Z",
            "levels": {"standard": STANDARD, "express": EXPRESS},
        },
        {
            "sku": "POLE",
            "region": "100",
            "as_of": "2026-11-18T15:00:00Z",
            "valid_until": None,
            "levels": {"express": EXPRESS},
        },
        {
            "sku": "TENT",
            "region": "100",
            "as_of": "2026-11-18T15:03:00Z",
            "valid_until": "2026-11-18T19:00:00Z",
            "levels": {},
        },
    ]
    assert all("id" not in e for e in events)
    wait_subscribers(readmodel.promises, 0)


def test_the_stream_sends_nothing_for_other_regions_or_skus(served, monkeypatch):
    from api import sse

    monkeypatch.setattr(sse, "KEEPALIVE_S", 0.3)
    base, readmodel = served
    with (
        httpx.Client(base_url=base, timeout=10) as client,
        client.stream("GET", "/v1/promise/stream?skus=TENT&region=606") as stream,
    ):
        take(
            readmodel,
            entry("TENT", {"100": {"standard": STANDARD}}),
            entry("POLE", {"606": {"standard": STANDARD}}),
        )
        assert events_of(stream.iter_lines(), 1) == [{"comment": "keep-alive"}]
    wait_subscribers(readmodel.promises, 0)


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("region=100", 422, "invalid_request"),
        ("skus=&region=100", 422, "invalid_request"),
        ("skus=A,,B&region=100", 422, "invalid_request"),
        ("skus=" + ",".join(f"S{n}" for n in range(201)) + "&region=100", 422, "invalid_request"),
        ("skus=A&region=999", 422, "unknown_region"),
        ("skus=A", 422, "invalid_request"),
    ],
)
def test_a_bad_stream_request_is_refused_in_json(tabled, query, status, code):
    client, _ = tabled
    answer = client.get(f"/v1/promise/stream?{query}")
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["code"] == code


def test_the_stream_needs_a_network(client):
    answer = client.get("/v1/promise/stream?skus=A&region=100")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "no_network"


def test_a_stream_that_falls_behind_is_dropped():
    async def run() -> list[bytes | None]:
        table = PromiseTable(queue_size=2)
        watcher = table.subscribe(["A"], "100")
        for n in range(4):
            levels = {"100": {"standard": {**STANDARD, "deliver_by": f"2026-11-2{n}"}}}
            await asyncio.to_thread(table.put, entry("A", levels))
        await asyncio.sleep(0.05)  # the offers run in this loop
        got = [watcher.queue.get_nowait() for _ in range(watcher.queue.qsize())]
        table.unsubscribe(watcher)
        assert table.subscribers == 0
        return got

    assert asyncio.run(run()) == [None]


def test_the_document_shows_the_region_the_table_fields_and_the_stream(tabled):
    client, _ = tabled
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert {"as_of", "valid_until"} <= set(schemas["ListingSku"]["properties"])
    assert "region" in schemas["ListingOut"]["properties"]
    shapes = schemas["Destination"]["anyOf"]
    assert [shape["required"] for shape in shapes] == [["postal_code"], ["lat", "lon"], ["region"]]
    streamed = document["paths"]["/v1/promise/stream"]["get"]
    ok = streamed["responses"]["200"]["content"]
    assert list(ok) == ["text/event-stream"]
    assert set(ok["text/event-stream"]["x-event-data"]["properties"]) == {
        "sku",
        "region",
        "as_of",
        "valid_until",
        "levels",
    }
    assert {"401", "403", "422", "503"} <= set(streamed["responses"])


def test_a_reservation_at_a_group_takes_a_region_destination():
    from pydantic import ValidationError

    from api.schemas import ReserveIn

    body = {"reservation_id": "r", "location_group": "g", "sku": "A", "qty": 1}
    assert ReserveIn.model_validate({**body, "destination": {"region": "100"}}).destination
    with pytest.raises(ValidationError, match="give one of destination"):
        ReserveIn.model_validate({**body, "destination": {"region": "100", "lat": 1.0}})


def test_the_hot_path_answers_the_listing_as_the_route_does(make_client, promiser):
    from datetime import datetime

    clients = [
        make_client(
            promiser=promiser,
            locations=tuple(promiser.location_ids),
            clock=lambda: datetime.fromisoformat("2026-11-20T12:00:00Z"),  # after stock()'s ts
            hot_path=hot,
        )
        for hot in (True, False)
    ]
    for client in clients:
        take(client.app.state.omnistock.readmodel, entry("TENT", {"100": {"standard": STANDARD}}))
        stock(client, 5, shipper(promiser), "TENT")
    body = {"skus": ["TENT", "NEVER"], "destination": {"region": "100"}}
    requests: list[dict[str, Any]] = [
        {"json": body},
        {"json": {**body, "destination": {"postal_code": "10001"}}},
        {"json": {**body, "destination": {"postal_code": "02139"}}},
        {"json": {**body, "at": AT}},
        {"json": {**body, "destination": {"region": "999"}}},
        {"json": {**body, "destination": {"region": "100", "lat": 1.0}}},
        {"content": orjson.dumps(body), "headers": {"content-type": "text/plain"}},
    ]
    for extra in requests:
        fast, routed = (client.post("/v1/promise/listing", **extra) for client in clients)
        assert (fast.status_code, fast.json()) == (routed.status_code, routed.json()), extra
    assert clients[0].post("/v1/promise/listing", json=body).json()["skus"][0]["as_of"] == AT
