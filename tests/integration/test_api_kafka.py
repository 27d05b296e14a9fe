"""The API in Kafka mode: two ``omnistock serve --bootstrap`` replicas and the dataflow.

The engine decides every reservation: 300 concurrent requests of one unit spread over both
replicas against 120 units give exactly 120 confirmed and 180 rejected.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_run import free_port, start_run, stop

pytestmark = pytest.mark.kafka


def start_serve(
    bootstrap: str, prefix: str, port: int, log: Path, **env: str
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "omnistock.cli",
        "serve",
        "--bootstrap",
        bootstrap,
        "--topic-prefix",
        prefix,
        "--port",
        str(port),
    ]
    with log.open("ab") as sink:
        return subprocess.Popen(
            command,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
            env={**os.environ, **env},
        )


def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).json()["caught_up"]:
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never caught up")


def wait_position(
    url: str,
    location_id: str,
    sku: str,
    done: Callable[[dict[str, Any]], bool],
    timeout: float = 60,
) -> dict[str, Any]:
    """The position as ``url`` serves it, once ``done`` says so."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        answer = httpx.get(f"{url}/v1/atp/{location_id}/{sku}", timeout=5)
        if answer.status_code == 200:
            body = answer.json()
            if done(body):
                return body
        time.sleep(0.1)
    raise AssertionError(f"{location_id}/{sku} at {url} never got there: {body}")


def decided(url: str, reservation_id: str, timeout: float = 60) -> str:
    """The status of a reservation once the engine has decided it (not pending)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = httpx.get(f"{url}/v1/reservations/{reservation_id}", timeout=5)
        if answer.status_code == 200 and answer.json()["status"] != "pending":
            return str(answer.json()["status"])
        time.sleep(0.1)
    raise AssertionError(f"{reservation_id} at {url} was never decided")


def wait_atp(url: str, location_id: str, sku: str, want: int) -> dict[str, Any]:
    return wait_position(url, location_id, sku, lambda body: body["atp"] == want)


@pytest.fixture
def replicas(bootstrap, prefix, tmp_path) -> Iterator[list[str]]:
    ports = [free_port(), free_port()]
    processes = [start_run(bootstrap, prefix, tmp_path / "run.log", "--workers", "2")]
    try:
        time.sleep(2)  # the dataflow creates the topics
        processes += [
            start_serve(bootstrap, prefix, port, tmp_path / f"serve-{port}.log") for port in ports
        ]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            wait_ready(url)
        yield urls
    finally:
        for process in processes:
            stop(process)
        for process in processes:
            process.wait(30)


def test_a_storm_over_two_replicas_confirms_exactly_what_there_is(replicas):
    first, second = replicas
    receipt = {
        "event_id": "stock",
        "type": "receipt",
        "location_id": "S1",
        "sku": "A",
        "qty": 120,
        "ts": "2026-11-20T10:00:00Z",
    }
    assert httpx.post(f"{first}/v1/events", json=[receipt], timeout=10).status_code == 202
    for url in replicas:
        wait_atp(url, "S1", "A", 120)

    def one(i: int) -> int:
        url = replicas[i % 2]
        body = {"reservation_id": f"storm-{i}", "location_id": "S1", "sku": "A", "qty": 1}
        return httpx.post(f"{url}/v1/reservations", json=body, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=60) as pool:
        answers = list(pool.map(one, range(300)))
    assert set(answers) <= {201, 409, 202}, Counter(answers)
    # 202: the engine's outcome took longer than the API waits (a loaded machine); it is
    # decided all the same, and GET shows it
    outcomes = Counter(
        {201: "confirmed", 409: "rejected"}.get(code) or decided(replicas[i % 2], f"storm-{i}")
        for i, code in enumerate(answers)
    )
    assert outcomes == {"confirmed": 120, "rejected": 180}
    for url in replicas:
        position = wait_atp(url, "S1", "A", 0)
        assert position["reserved"] == 120
    # a repeat through the other replica answers the first outcome
    again = httpx.post(
        f"{second}/v1/reservations",
        json={"reservation_id": "storm-0", "location_id": "S1", "sku": "A", "qty": 1},
        timeout=30,
    )
    assert again.status_code == 200
    assert again.json()["repeat"] is True
    # release through one replica, seen by the other
    confirmed = next(
        f"storm-{i}"
        for i in range(300)
        if httpx.get(f"{first}/v1/reservations/storm-{i}").json()["status"] == "confirmed"
    )
    assert httpx.delete(f"{second}/v1/reservations/{confirmed}", timeout=30).status_code == 200
    wait_atp(first, "S1", "A", 1)


def test_without_the_dataflow_a_reservation_is_pending_until_the_engine_decides_it(
    bootstrap, prefix, tmp_path
):
    """202 ``pending`` (docs/api.md §7): sent, not decided; once the dataflow runs, the engine
    decides it, ``GET`` shows it, and a retry of the id answers the first outcome."""
    from dataflows.kafka import Topics, ensure_topics

    ensure_topics(bootstrap, Topics(prefix))
    port = free_port()
    process = start_serve(
        bootstrap, prefix, port, tmp_path / "serve.log", OMNISTOCK_API_TIMEOUT_S="1"
    )
    flow = None
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        body = {"reservation_id": "r1", "location_id": "S1", "sku": "A", "qty": 1}
        answer = httpx.post(f"{url}/v1/reservations", json=body, timeout=10)
        assert answer.status_code == 202
        pending = answer.json()
        assert (pending["status"], pending["reservation_id"]) == ("pending", "r1")
        assert httpx.get(f"{url}/v1/reservations/r1").json()["status"] == "pending"
        flow = start_run(bootstrap, prefix, tmp_path / "run.log")
        deadline = time.monotonic() + 60
        while (found := httpx.get(f"{url}/v1/reservations/r1").json())["status"] == "pending":
            assert time.monotonic() < deadline, found
            time.sleep(0.2)
        assert found["status"] == "rejected"  # no stock at S1: decided by the engine
        again = httpx.post(f"{url}/v1/reservations", json=body, timeout=10)
        assert again.status_code == 200
        assert (again.json()["status"], again.json()["repeat"]) == ("rejected", True)
    finally:
        if flow is not None:
            stop(flow)
        stop(process)
        process.wait(30)
