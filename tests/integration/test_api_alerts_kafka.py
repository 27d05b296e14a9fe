"""Alerts in Kafka mode: what the dataflow writes to ``omnistock.alerts`` reaches every replica.

A replica reads the last 10,000 messages of each partition of the alerts topic when it starts
(``api.backends.kafka``), so one started after the alerts were written answers them too, and
one that keeps fewer reads no more than it keeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from api.alertlog import AlertLog
from api.app import create_app
from api.backends.kafka import KafkaBackend
from api.readmodel import ReadModel
from dataflows.kafka import Topics
from tests.api.test_alerts import out_and_back
from tests.integration.test_api_kafka import start_serve, wait_ready
from tests.integration.test_run import free_port, start_run, stop

pytestmark = pytest.mark.kafka


def wait_alerts(
    get: Callable[[str], Any], query: str, done: Callable[[list[Any]], bool], timeout: float = 60
) -> list[Any]:
    """``GET /v1/alerts?query`` through ``get``, once ``done`` says so."""
    deadline = time.monotonic() + timeout
    alerts: list[Any] = []
    while time.monotonic() < deadline:
        answer = get(f"/v1/alerts?{query}")
        if answer.status_code == 200:
            alerts = answer.json()["alerts"]
            if done(alerts):
                return alerts
        time.sleep(0.1)
    raise AssertionError(f"/v1/alerts?{query} never got there: {alerts}")


def kinds(alerts: list[Any]) -> list[str]:
    return [alert["kind"] for alert in alerts]


def test_alerts_reach_replicas_started_before_and_after_them(bootstrap, prefix, tmp_path: Path):
    early_port, late_port = free_port(), free_port()
    processes = [start_run(bootstrap, prefix, tmp_path / "run.log")]
    try:
        time.sleep(2)  # the dataflow creates the topics
        processes.append(start_serve(bootstrap, prefix, early_port, tmp_path / "early.log"))
        early = f"http://127.0.0.1:{early_port}"
        wait_ready(early)

        def get_early(path: str) -> httpx.Response:
            return httpx.get(f"{early}{path}", timeout=5)

        answer = httpx.post(f"{early}/v1/events", json=out_and_back("S1", "A"), timeout=10)
        assert answer.status_code == 202, answer.text
        first = wait_alerts(get_early, "location_id=S1", lambda alerts: len(alerts) == 3)
        assert kinds(first) == ["back_in_stock", "stockout", "back_in_stock"]

        # a replica that keeps 2 reads the last 2 of the partition, no more
        readmodel = ReadModel()
        readmodel.alerts = AlertLog(capacity=2)
        with TestClient(create_app(KafkaBackend(readmodel, bootstrap, Topics(prefix)))) as small:
            wait_alerts(small.get, "", lambda alerts: len(alerts) == 2)
            assert small.get("/v1/alerts").json()["alerts"] == first[:2]
            assert readmodel.alerts.last == 2  # read from the tail, not from the beginning

        # the early replica streams new alerts as the dataflow writes them
        streamed = []
        with (
            httpx.Client(base_url=early, timeout=30) as client,
            client.stream("GET", "/v1/alerts/stream?location_id=S2") as stream,
        ):
            answer = client.post("/v1/events", json=out_and_back("S2", "B"))
            assert answer.status_code == 202, answer.text
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    streamed.append(orjson.loads(line[len("data: ") :]))
                if len(streamed) == 3:
                    break
        assert kinds(streamed) == ["back_in_stock", "stockout", "back_in_stock"]
        second = wait_alerts(get_early, "location_id=S2", lambda alerts: len(alerts) == 3)
        assert second == streamed[::-1]

        # a replica started after all of it answers the same alerts
        processes.append(start_serve(bootstrap, prefix, late_port, tmp_path / "late.log"))
        late = f"http://127.0.0.1:{late_port}"
        wait_ready(late)
        for query, want in [("location_id=S1", first), ("location_id=S2", second)]:
            assert httpx.get(f"{late}/v1/alerts?{query}", timeout=5).json()["alerts"] == want
        everything = httpx.get(f"{late}/v1/alerts", timeout=5).json()["alerts"]
        assert sorted(map(orjson.dumps, everything)) == sorted(map(orjson.dumps, first + second))
    finally:
        for process in processes:
            stop(process)
