"""An ``omnistock serve`` child process for the API benchmarks, and seeding it over HTTP.

``served`` starts ``omnistock serve`` on a free port (embedded, or on fresh Kafka topics with
``omnistock run`` beside it), waits until it is caught up and stops it (its process group) on
exit; ``post_events`` seeds it through ``POST /v1/events``, ``receipts`` makes one receipt per
position. ``benchmarks/api_load.py`` and ``benchmarks/http_wrk.py`` use them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.kafka_io import run_topics
from benchmarks.loadgen import process_cpu_s

CHUNK = 10_000
LOG = Path("/tmp/omnistock-api-load.log")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "omnistock.cli", *command],
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def wait_ready(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).json().get("caught_up"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not become ready in {timeout:.0f} s")


@dataclass
class Served:
    """A running ``omnistock serve`` (and its dataflow in Kafka mode)."""

    url: str
    server: subprocess.Popen[bytes] | None
    dataflow: subprocess.Popen[bytes] | None = None

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far of the server and of the dataflow."""
        return (
            process_cpu_s(self.server.pid) if self.server else 0.0,
            process_cpu_s(self.dataflow.pid) if self.dataflow else 0.0,
        )


@contextmanager
def served(
    bootstrap: str | None = None, network: Path | None = None, log: Path = LOG
) -> Iterator[Served]:
    """``omnistock serve`` on a free port: embedded, or on fresh Kafka topics with the dataflow."""
    extra: list[str] = []
    dataflow = None
    server = None
    try:
        if bootstrap is not None:
            prefix = run_topics().prefix
            extra = ["--bootstrap", bootstrap, "--topic-prefix", prefix]
            dataflow = _start(["run", *extra], log)
            time.sleep(2)  # the dataflow creates the topics
        if network is not None:
            extra += ["--network", str(network)]
        port = free_port()
        server = _start(["serve", "--port", str(port), *extra], log)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        yield Served(url, server, dataflow)
    finally:
        if server is not None:
            stop(server)
        if dataflow is not None:
            stop(dataflow)


def ids(locations: int, skus: int) -> tuple[list[str], list[str]]:
    return [f"L{i:04d}" for i in range(locations)], [f"SKU-{i:06d}" for i in range(skus)]


def post_events(url: str, events: Iterator[bytes]) -> float:
    """Events through ``POST /v1/events``, 10,000 per request; returns events per second."""
    start = time.perf_counter()
    batch: list[bytes] = []
    sent = 0
    with httpx.Client(base_url=url, timeout=300) as client:

        def flush() -> None:
            answer = client.post(
                "/v1/events",
                content=b"[" + b",".join(batch) + b"]",
                headers={"content-type": "application/json"},
            )
            if answer.status_code != 202 or answer.json()["invalid"]:
                raise SystemExit(f"seeding failed: {answer.status_code} {answer.text[:300]}")
            batch.clear()

        for event in events:
            batch.append(event)
            sent += 1
            if len(batch) == CHUNK:
                flush()
        if batch:
            flush()
    return sent / (time.perf_counter() - start)


def receipts(locations: list[str], skus: list[str], qty: Callable[[int], int]) -> Iterator[bytes]:
    """One receipt per position."""
    run = uuid.uuid4().hex[:8].encode()
    n = 0
    for location_id in locations:
        for sku in skus:
            yield (
                b'{"event_id":"seed-%s-%d","type":"receipt","location_id":"%s","sku":"%s",'
                b'"qty":%d,"ts":"2026-11-20T10:00:00Z"}'
                % (run, n, location_id.encode(), sku.encode(), qty(n))
            )
            n += 1


def wait_position(url: str, location_id: str, sku: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = httpx.get(f"{url}/v1/atp/{location_id}/{sku}", timeout=5)
        if answer.status_code == 200:
            found: dict[str, Any] = answer.json()
            return found
        time.sleep(0.2)
    raise SystemExit("the seed never reached the read model")
