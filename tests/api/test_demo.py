"""``omnistock demo``: nothing to configure, a live stream, the API, and Ctrl-C stops it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.integration.test_run import free_port

pytestmark = pytest.mark.slow


def test_demo_serves_a_live_stream_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "omnistock.cli", "demo", "--port", str(port), "--rate", "200"],
            stdout=sink,
            stderr=sink,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # a loaded CI machine imports and compiles slowly
        while "Ctrl-C stops it." not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        while True:
            try:
                first = httpx.get(f"{url}/v1/health").json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        example = re.search(r"curl -s (http://\S+/v1/atp/\S+)", log.read_text())
        assert example is not None
        assert httpx.get(example.group(1)).json()["atp"] >= 0
        time.sleep(1.5)
        later = httpx.get(f"{url}/v1/health").json()
        assert first["mode"] == "embedded"
        assert later["positions"] > 0
        assert later["reservations"] > first["reservations"] or later["reservations"] > 0
        # the built-in network: promises answer, from the demo's own example
        assert later["promise"] is True
        sku = re.search(r'"sku": "(\w+)", "qty": 1', log.read_text())
        assert sku is not None
        body = {"items": [{"sku": sku.group(1), "qty": 1}], "destination": {"postal_code": "60601"}}
        answer = httpx.post(f"{url}/v1/promise", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["items"][0]["sku"] == sku.group(1)
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0


def test_ctrl_c_while_the_demo_starts_stops_it_cleanly(tmp_path):
    """Ctrl-C before the API is up (the dataflow starting, the stream seeding) is a stop like
    any other: exit 0, not a traceback."""
    log = tmp_path / "demo.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "omnistock.cli", "demo", "--port", str(free_port())],
            stdout=sink,
            stderr=sink,
        )
    deadline = time.monotonic() + 120
    while "starting the dataflow" not in log.read_text():
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0, log.read_text()
    assert "Traceback" not in log.read_text()
    assert "Ctrl-C stops it." not in log.read_text()  # it stopped before the API came up
