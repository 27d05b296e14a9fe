"""The promise table end to end in embedded mode: ``serve --network`` as ``omnistock`` builds it.

Events go in through ``POST /v1/events``; the in-process dataflow keeps the table; the
listing for a region is answered from it, and equals the listing computed per request for the
region's point at the entry's ``as_of``. A stock-out changes it within 2 s.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from omnistock.serve_cmd import build
from omnistock.settings import Settings
from workload.builtin import generate_network

REGIONS = ("100", "606", "900")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[TestClient, dict[str, Any]]]:
    network = generate_network(stores=12, regions=20)
    network["regions"] = [r for r in network["regions"] if r["id"] in REGIONS]
    args = argparse.Namespace(
        api_keys=None, network=None, bootstrap=None, policy=None, topic_prefix=None
    )
    app, _, _ = build(args, Settings.from_env(), network_text=orjson.dumps(network))
    with TestClient(app) as client:
        yield client, network


def _event(n: int, kind: str, location_id: str, sku: str, qty: int) -> dict[str, Any]:
    return {
        "event_id": f"e{n}",
        "type": kind,
        "location_id": location_id,
        "sku": sku,
        "qty": qty,
        "ts": datetime.now(UTC).isoformat(),
    }


def _listing(client: TestClient, skus: list[str], **destination: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"skus": skus, "destination": destination}
    if "at" in destination:
        body["at"] = destination.pop("at")
    answer = client.post("/v1/promise/listing", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _wait(client: TestClient, sku: str, changed: Any, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = _listing(client, [sku], region="100")["skus"][0]
        if changed(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def test_the_region_listing_comes_from_the_table_and_is_the_query(served):
    client, network = served
    ids = [loc["id"] for loc in network["locations"]]
    events = [
        _event(n, "receipt", lid, sku, 3)
        for n, (lid, sku) in enumerate(
            [(ids[0], "A"), (ids[3], "A"), (ids[5], "B"), (ids[-1], "B"), (ids[7], "C")]
        )
    ]
    assert client.post("/v1/events", json=events).status_code == 202
    for sku in ("A", "B", "C"):
        _wait(client, sku, lambda row: row["as_of"] is not None)
    for region in REGIONS:
        table = _listing(client, ["A", "B", "C", "NEVER"], region=region)
        assert table["region"] == region
        for row in table["skus"][:3]:
            point = next(r for r in network["regions"] if r["id"] == region)
            computed = _listing(
                client, [row["sku"]], lat=point["lat"], lon=point["lon"], at=row["as_of"]
            )
            assert "region" not in computed
            assert row["deliver_by"] == computed["skus"][0]["deliver_by"], (region, row)
        assert table["skus"][3] == {
            "sku": "NEVER",
            "deliver_by": {},
            "as_of": None,
            "valid_until": None,
        }


def test_a_stock_out_changes_the_table_within_2_s(served):
    client, network = served
    store = network["locations"][-2]["id"]  # a DC: it ships
    client.post("/v1/events", json=[_event(100, "receipt", store, "ONLY", 1)])
    before = _wait(client, "ONLY", lambda row: bool(row["deliver_by"]))
    assert before["deliver_by"]
    sent = time.monotonic()
    client.post("/v1/events", json=[_event(101, "sale", store, "ONLY", 1)])
    after = _wait(client, "ONLY", lambda row: row["deliver_by"] == {}, timeout=5)
    assert after["deliver_by"] == {}
    assert time.monotonic() - sent <= 2.0
    zipped = _listing(client, ["ONLY"], postal_code="10001")  # prefix 100: a region
    assert zipped["region"] == "100" and zipped["skus"][0]["deliver_by"] == {}
