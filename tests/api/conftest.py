"""An embedded API per test: its own engine, read model, keys and metrics."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Keys
from api.backends.embedded import EmbeddedBackend
from api.readmodel import ReadModel
from engine.book import EngineConfig
from engine.policy import DEFAULT_POLICY, Policy

Make = Callable[..., TestClient]

READ_KEY = "k-read"
WRITE_KEY = "k-write"
BOTH_KEY = "k-both"
_ids = itertools.count()
KEYS_JSON = (
    '{"keys": [{"key": "k-read", "scopes": ["read"]}, {"key": "k-write", "scopes": ["write"]},'
    ' {"key": "k-both", "scopes": ["read", "write"]}], "open_reads": false}'
)


@contextmanager
def uvicorn_thread(app: Any, **config: Any) -> Iterator[int]:
    """``app`` served by uvicorn in a thread on a free port (yielded), stopped on exit."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def make_client() -> Iterator[Make]:
    """``make_client(keys=None, **create_app kwargs)``: a started TestClient."""
    opened: list[TestClient] = []

    def make(
        keys: Keys | None = None,
        locations: tuple[str, ...] = (),
        policy: Policy = DEFAULT_POLICY,
        **kwargs: Any,
    ) -> TestClient:
        backend = EmbeddedBackend(ReadModel(locations), EngineConfig().with_policy(policy))
        client = TestClient(create_app(backend, keys=keys, policy=policy, **kwargs))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Make) -> TestClient:
    return make_client()


def receipt(
    qty: int, location_id: str = "S1", sku: str = "A", event_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "event_id": event_id or f"r{next(_ids)}",
        "type": "receipt",
        "location_id": location_id,
        "sku": sku,
        "qty": qty,
        "ts": "2026-11-20T10:00:00Z",
        **extra,
    }


def stock(client: TestClient, qty: int, location_id: str = "S1", sku: str = "A") -> None:
    answer = client.post("/v1/events", json=[receipt(qty, location_id, sku)])
    assert answer.status_code == 202 and answer.json()["accepted"] == 1, answer.text


def reserve(client: TestClient, rid: str, qty: int = 1, **extra: Any) -> Any:
    body = {"reservation_id": rid, "location_id": "S1", "sku": "A", "qty": qty, **extra}
    return client.post("/v1/reservations", json=body)
