"""The HTTP server's own errors: the envelope, and a header timeout (api/server.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from api import server
from api.app import create_app
from api.backends.embedded import EmbeddedBackend
from api.readmodel import ReadModel
from engine.book import EngineConfig
from tests.api.conftest import uvicorn_thread


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(server, "HEADER_TIMEOUT_S", 0.5)
    app = create_app(EmbeddedBackend(ReadModel(), EngineConfig()))
    with uvicorn_thread(app, log_level="critical", http=server.Protocol) as bound:
        yield bound


def exchange(port: int, data: bytes) -> tuple[int, Any]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(data)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), head
    return int(head.split()[1]), orjson.loads(body)


def test_a_malformed_request_line_answers_the_error_envelope(port):
    status, body = exchange(port, b"GARBAGE / HTTP/1.1 extra\r\n\r\n")
    assert status == 400
    assert body["error"]["code"] == "bad_request"


def test_a_url_over_the_limit_answers_414_in_the_envelope(port):
    path = "/v1/atp/" + "x" * (server.MAX_URL + 10)
    status, body = exchange(port, f"GET {path} HTTP/1.1\r\nhost: x\r\n\r\n".encode())
    assert status == 414
    assert body["error"]["code"] == "url_too_long"


def test_headers_sent_too_slowly_are_cut_off(port):
    start = time.monotonic()
    status, body = exchange(port, b"GET /v1/health HTTP/1.1\r\nhost: x\r\n")  # never ends
    assert status == 408
    assert body["error"]["code"] == "header_timeout"
    assert time.monotonic() - start < 5


def test_a_connection_that_sends_nothing_is_closed_too(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        start = time.monotonic()
        answer = client.recv(65536)
        assert b" 408 " in answer.split(b"\r\n")[0]
        assert time.monotonic() - start < 5


def test_an_ordinary_request_still_works(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"GET /v1/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")
