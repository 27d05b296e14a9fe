"""``GET /v1/alerts`` and ``GET /v1/alerts/stream`` in embedded mode (docs/api.md §6.13-6.14).

Events go in through ``POST /v1/events``; the in-process dataflow's alerts reach the read
model, and both routes answer them. The stream runs under uvicorn, read with httpx.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from api import sse
from api.app import create_app
from api.auth import Keys
from api.backends.embedded import EmbeddedBackend
from api.readmodel import ReadModel
from engine.book import EngineConfig
from tests.api.conftest import KEYS_JSON, READ_KEY, WRITE_KEY, Make, receipt, uvicorn_thread

FIELDS = [
    "kind",
    "location_id",
    "sku",
    "ts",
    "on_hand",
    "reserved",
    "safety_stock",
    "unsellable",
    "available",
    "atp",
    "oversold",
    "inbound_qty",
    "sold_7d",
    "stockout_eta",
]


def sale(qty: int, location_id: str = "S1", sku: str = "A", minute: int = 1) -> dict[str, Any]:
    return {
        **receipt(qty, location_id, sku),
        "type": "sale",
        "ts": f"2026-11-20T10:{minute:02d}:00Z",
    }


def out_and_back(location_id: str = "S1", sku: str = "A") -> list[dict[str, Any]]:
    """In stock (``back_in_stock``: a new position starts out of stock), sold out
    (``stockout``), restocked (``back_in_stock``)."""
    return [
        receipt(3, location_id, sku),
        sale(3, location_id, sku, minute=1),
        {**receipt(10, location_id, sku), "ts": "2026-11-20T10:02:00Z"},
    ]


def post(client: Any, events: list[dict[str, Any]]) -> None:
    answer = client.post("/v1/events", json=events)
    assert answer.status_code == 202 and answer.json()["accepted"] == len(events), answer.text


def kinds(answer: Any) -> list[tuple[str, str, str]]:
    assert answer.status_code == 200, answer.text
    return [(a["kind"], a["location_id"], a["sku"]) for a in answer.json()["alerts"]]


def test_a_stockout_and_its_return_are_listed_newest_first(client):
    post(client, out_and_back())
    answer = client.get("/v1/alerts")
    assert kinds(answer) == [
        ("back_in_stock", "S1", "A"),
        ("stockout", "S1", "A"),
        ("back_in_stock", "S1", "A"),
    ]
    back, out, _ = answer.json()["alerts"]
    assert list(back) == FIELDS
    assert (out["ts"], out["on_hand"], out["atp"], out["sold_7d"]) == (
        "2026-11-20T10:01:00Z",
        0,
        0,
        3,
    )
    assert (back["ts"], back["on_hand"], back["atp"]) == ("2026-11-20T10:02:00Z", 10, 10)


def test_filters_and_limit_narrow_the_answer(client):
    for location_id, sku in [("S1", "A"), ("S2", "A"), ("S1", "B")]:  # one after the other
        post(client, out_and_back(location_id, sku))
    assert kinds(client.get("/v1/alerts?location_id=S2")) == [
        ("back_in_stock", "S2", "A"),
        ("stockout", "S2", "A"),
        ("back_in_stock", "S2", "A"),
    ]
    assert kinds(client.get("/v1/alerts?sku=B&kind=stockout")) == [("stockout", "S1", "B")]
    assert kinds(client.get("/v1/alerts?location_id=S1&sku=A&kind=stockout")) == [
        ("stockout", "S1", "A")
    ]
    assert kinds(client.get("/v1/alerts?kind=stockout")) == [
        ("stockout", "S1", "B"),
        ("stockout", "S2", "A"),
        ("stockout", "S1", "A"),
    ]
    assert kinds(client.get("/v1/alerts?limit=2")) == [
        ("back_in_stock", "S1", "B"),
        ("stockout", "S1", "B"),
    ]
    assert kinds(client.get("/v1/alerts?location_id=NOWHERE")) == []
    assert len(client.get("/v1/alerts?limit=10000").json()["alerts"]) == 9


@pytest.mark.parametrize(
    "query", ["kind=sold_out", "limit=0", "limit=10001", "limit=ten", "limit=2.5"]
)
def test_a_bad_kind_or_limit_is_422_in_the_envelope(client, query):
    answer = client.get(f"/v1/alerts?{query}")
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"][0]["loc"][0] == "query"


def test_the_stream_refuses_a_bad_kind_with_the_json_envelope(client):
    answer = client.get("/v1/alerts/stream?kind=sold_out")
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("path", ["/v1/alerts", "/v1/alerts/stream"])
def test_alerts_need_the_read_scope(make_client: Make, path):
    client = make_client(keys=Keys.parse(KEYS_JSON, "test"))
    assert client.get(path).status_code == 401
    refused = client.get(path, headers={"Authorization": f"Bearer {WRITE_KEY}"})
    assert refused.status_code == 403
    assert refused.json()["error"]["details"] == {"needs": "read"}
    if path == "/v1/alerts":
        allowed = client.get(path, headers={"Authorization": f"Bearer {READ_KEY}"})
        assert allowed.status_code == 200 and allowed.json() == {"alerts": []}


def test_the_document_names_both_routes_and_the_event_stream(client):
    paths = client.get("/openapi.json").json()["paths"]
    listed = paths["/v1/alerts"]["get"]["responses"]
    assert listed["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AlertsOut"
    }
    streamed = paths["/v1/alerts/stream"]["get"]["responses"]
    assert list(streamed["200"]["content"]) == ["text/event-stream"]
    assert list(streamed["401"]["content"]) == ["application/json"]
    assert {"422", "503"} <= set(streamed)


# -- the stream, under uvicorn -------------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[str, ReadModel]]:
    readmodel = ReadModel()
    app = create_app(EmbeddedBackend(readmodel, EngineConfig()))
    with uvicorn_thread(app, log_level="warning") as port:
        yield f"http://127.0.0.1:{port}", readmodel


def events_of(lines: Iterator[str], count: int) -> list[dict[str, Any]]:
    """The next ``count`` SSE events (``event``, ``id``, decoded ``data``); comments kept as
    ``{"comment": text}``."""
    found: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for line in lines:
        if line.startswith(":"):
            found.append({"comment": line[1:].strip()})
        elif line == "":
            if current:
                found.append({**current, "data": orjson.loads(current["data"])})
                current = {}
        else:
            name, _, value = line.partition(": ")
            current[name] = value
        if len(found) == count:
            return found
    raise AssertionError(f"the stream ended after {found}")


def wait_subscribers(readmodel: ReadModel, want: int) -> None:
    deadline = time.monotonic() + 5
    while readmodel.alerts.subscribers != want:
        assert time.monotonic() < deadline, f"{readmodel.alerts.subscribers} subscribers"
        time.sleep(0.01)


def test_the_stream_delivers_an_alert_fired_after_the_client_connected(served):
    base, readmodel = served
    with httpx.Client(base_url=base, timeout=10) as client:
        post(client, [receipt(2)])  # before: not streamed without Last-Event-ID
        with client.stream("GET", "/v1/alerts/stream?kind=stockout") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert stream.headers["cache-control"] == "no-cache"
            assert readmodel.alerts.subscribers == 1  # subscribed before the headers went
            post(client, [{**receipt(3, sku="OTHER")}, sale(2)])
            (event,) = events_of(stream.iter_lines(), 1)
        assert event["event"] == "alert"
        assert event["id"] == str(readmodel.alerts.last)
        assert (event["data"]["kind"], event["data"]["sku"], event["data"]["atp"]) == (
            "stockout",
            "A",
            0,
        )
        assert list(event["data"]) == FIELDS
        listed = client.get("/v1/alerts?limit=1").json()["alerts"]
        assert listed == [event["data"]]
    wait_subscribers(readmodel, 0)  # the client went: its subscriber with it


def test_last_event_id_replays_the_kept_alerts_after_it(served):
    base, readmodel = served
    with httpx.Client(base_url=base, timeout=10) as client:
        post(client, out_and_back())  # ids 1, 2, 3
        headers = {"Last-Event-ID": "1"}
        with client.stream("GET", "/v1/alerts/stream", headers=headers) as stream:
            lines = stream.iter_lines()
            replayed = events_of(lines, 2)
            post(client, [sale(10, minute=3)])
            (live,) = events_of(lines, 1)
    assert [(e["id"], e["data"]["kind"]) for e in replayed] == [
        ("2", "stockout"),
        ("3", "back_in_stock"),
    ]
    assert (live["id"], live["data"]["kind"]) == ("4", "stockout")
    wait_subscribers(readmodel, 0)


def test_an_idle_stream_gets_a_keep_alive_comment(served, monkeypatch):
    monkeypatch.setattr(sse, "KEEPALIVE_S", 0.2)
    base, readmodel = served
    with (
        httpx.Client(base_url=base, timeout=10) as client,
        client.stream("GET", "/v1/alerts/stream") as stream,
    ):
        assert events_of(stream.iter_lines(), 1) == [{"comment": "keep-alive"}]
    wait_subscribers(readmodel, 0)


def test_many_clients_that_come_and_go_leave_no_subscriber_behind(served):
    base, readmodel = served
    barrier = threading.Barrier(8)

    def one(i: int) -> dict[str, Any]:
        with (
            httpx.Client(base_url=base, timeout=10) as client,
            client.stream("GET", f"/v1/alerts/stream?location_id=L{i % 2}") as stream,
        ):
            barrier.wait()
            if i == 0:
                wait_subscribers(readmodel, 8)
                post(client, [receipt(1, "L0"), receipt(1, "L1")])
            (event,) = events_of(stream.iter_lines(), 1)
            return dict(event["data"])

    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda i=i: results.append(one(i))) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(r["location_id"] for r in results) == ["L0"] * 4 + ["L1"] * 4
    assert {r["kind"] for r in results} == {"back_in_stock"}
    wait_subscribers(readmodel, 0)
