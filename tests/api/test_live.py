"""The embedded API served by uvicorn: a reservation storm, and expiry on the wall clock."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from api.app import create_app
from api.backends.embedded import EmbeddedBackend
from api.readmodel import ReadModel
from engine.book import EngineConfig
from tests.api.conftest import receipt, uvicorn_thread


@pytest.fixture
def served():
    app = create_app(EmbeddedBackend(ReadModel(), EngineConfig()))
    with uvicorn_thread(app, log_level="warning") as port:
        yield f"http://127.0.0.1:{port}"


def test_a_storm_of_300_reservations_against_120_units_confirms_exactly_120(served):
    with httpx.Client(base_url=served, timeout=30) as client:
        assert client.post("/v1/events", json=[receipt(120)]).status_code == 202

    def one(i: int) -> int:
        with httpx.Client(base_url=served, timeout=30) as client:
            body = {"reservation_id": f"storm-{i}", "location_id": "S1", "sku": "A", "qty": 1}
            return client.post("/v1/reservations", json=body).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = Counter(pool.map(one, range(300)))
    assert statuses == {201: 120, 409: 180}
    with httpx.Client(base_url=served) as client:
        position = client.get("/v1/atp/S1/A").json()
    assert (position["reserved"], position["atp"]) == (120, 0)


def test_a_reservation_expires_on_the_wall_clock_with_no_traffic(served):
    with httpx.Client(base_url=served, timeout=10) as client:
        client.post("/v1/events", json=[receipt(5)])
        body = {"reservation_id": "short", "location_id": "S1", "sku": "A", "qty": 2, "ttl_s": 2}
        made = client.post("/v1/reservations", json=body)
        assert made.status_code == 201
        start = time.monotonic()
        while True:
            status = client.get("/v1/reservations/short").json()["status"]
            if status == "expired" or time.monotonic() - start > 3.5:
                break
            time.sleep(0.05)
        assert status == "expired"
        assert client.get("/v1/atp/S1/A").json()["reserved"] == 0
