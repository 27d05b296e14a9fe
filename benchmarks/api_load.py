"""HTTP API load: ``GET /v1/atp`` (embedded) and the reservation round trip (Kafka mode).

Open loop (``benchmarks.loadgen``) from this process against an ``omnistock serve`` child
process, after checking answers are right. Prints one JSON line per scenario with p50/p90/p99,
the statuses, and the CPU share of the generator and of the server.

    python -m benchmarks.api_load atp [--rate 2000] [--seconds 20] [--locations 500] [--skus 20000]
    python -m benchmarks.api_load reserve [--rate 200] [--seconds 20] [--embedded]  # Kafka unless
                                                                                  # --embedded

``atp`` seeds the server through ``POST /v1/events`` (receipts, 10,000 per request: the bulk
path; one per position) and then reads random positions. ``reserve`` starts ``omnistock run``
and ``omnistock serve --bootstrap`` on fresh topics (broker from ``OMNISTOCK_BOOTSTRAP``, else
127.0.0.1:9092), stocks positions generously, and reserves one unit per request at random
positions (every answer must be 201). ``--url`` uses a server already running (``atp`` only;
add ``--no-seed`` when it is loaded).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.loadgen import LoadResult, process_cpu_s, process_peak_rss_mb, run_open_loop

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 10_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_serve(port: int, *extra: str, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "omnistock.cli", "serve", "--port", str(port), *extra]
    with log.open("ab") as sink:
        return subprocess.Popen(command, stdout=sink, stderr=sink, start_new_session=True)


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


def ids(locations: int, skus: int) -> tuple[list[str], list[str]]:
    return [f"L{i:04d}" for i in range(locations)], [f"SKU-{i:06d}" for i in range(skus)]


def seed(url: str, locations: list[str], skus: list[str], qty: Any) -> float:
    """One receipt per position through ``POST /v1/events``; returns events per second."""
    start = time.perf_counter()
    run = uuid.uuid4().hex[:8]
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

        for location_id in locations:
            for sku in skus:
                batch.append(
                    b'{"event_id":"seed-%s-%d","type":"receipt","location_id":"%s","sku":"%s",'
                    b'"qty":%d,"ts":"2026-11-20T10:00:00Z"}'
                    % (run.encode(), sent, location_id.encode(), sku.encode(), qty(sent))
                )
                sent += 1
                if len(batch) == CHUNK:
                    flush()
        if batch:
            flush()
    return sent / (time.perf_counter() - start)


def report(name: str, result: LoadResult, server_cpu_s: float, extra: dict[str, Any]) -> None:
    line = {
        "scenario": name,
        **result.summary(),
        "server_cpu_share": round(server_cpu_s / result.duration_s, 3),
        **extra,
    }
    print(orjson.dumps(line).decode(), flush=True)


def scenario_atp(args: argparse.Namespace) -> None:
    locations, skus = ids(args.locations, args.skus)
    process = None
    url = args.url
    try:
        if url is None:
            port = free_port()
            process = start_serve(port, log=Path(args.log))
            url = f"http://127.0.0.1:{port}"
            wait_ready(url)
        seeded = None
        if not args.no_seed:
            seeded = seed(url, locations, skus, lambda i: 1 + i % 50)
        # check the answer before timing it
        probe = httpx.get(f"{url}/v1/atp/{locations[-1]}/{skus[-1]}").json()
        expected = 1 + (len(locations) * len(skus) - 1) % 50
        if args.no_seed is False and probe["atp"] != expected:
            raise SystemExit(f"wrong answer: {probe} (expected atp {expected})")
        rng = random.Random(7)
        picks = [f"/v1/atp/{rng.choice(locations)}/{rng.choice(skus)}" for _ in range(4096)]
        paths = [("GET", path, None) for path in picks]

        def make(i: int) -> tuple[str, str, bytes | None]:
            return paths[i & 4095]

        run_open_loop(url, args.rate, 2.0, make)  # warm-up
        cpu0 = process_cpu_s(process.pid) if process else 0.0
        result = run_open_loop(url, args.rate, args.seconds, make, check=_ok(200))
        cpu1 = process_cpu_s(process.pid) if process else 0.0
        report(
            "GET /v1/atp",
            result,
            cpu1 - cpu0,
            {
                "positions": len(locations) * len(skus),
                "seed_events_per_s": round(seeded or 0),
                "server_peak_rss_mb": round(process_peak_rss_mb(process.pid)) if process else None,
                "target_p99_ms": 5,
            },
        )
    finally:
        if process is not None:
            stop(process)


def scenario_reserve(args: argparse.Namespace) -> None:
    log = Path(args.log)
    dataflow = None
    extra: list[str] = []
    if not args.embedded:
        bootstrap = os.environ.get("OMNISTOCK_BOOTSTRAP", "127.0.0.1:9092")
        prefix = f"bench{uuid.uuid4().hex[:8]}."
        extra = ["--bootstrap", bootstrap, "--topic-prefix", prefix]
        command = [sys.executable, "-m", "omnistock.cli", "run", *extra]
        with log.open("ab") as sink:
            dataflow = subprocess.Popen(command, stdout=sink, stderr=sink, start_new_session=True)
        time.sleep(2)  # the dataflow creates the topics
    process = None
    try:
        port = free_port()
        process = start_serve(port, *extra, log=log)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        locations, skus = ids(args.locations, args.skus)
        seed(url, locations, skus, lambda i: 1_000_000)
        deadline = time.monotonic() + 120
        last = f"/v1/atp/{locations[-1]}/{skus[-1]}"
        while httpx.get(url + last).status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit("the seed never reached the read model")
            time.sleep(0.2)
        rng = random.Random(7)
        run = [uuid.uuid4().hex[:8]]

        def make(i: int) -> tuple[str, str, bytes | None]:
            body = {
                "reservation_id": f"b-{run[0]}-{i}",
                "location_id": rng.choice(locations),
                "sku": rng.choice(skus),
                "qty": 1,
            }
            return ("POST", "/v1/reservations", orjson.dumps(body))

        run_open_loop(url, args.rate, 2.0, make)  # warm-up
        run[0] = uuid.uuid4().hex[:8]  # fresh ids: every timed request is a new reservation
        cpu0 = process_cpu_s(process.pid)
        flow0 = process_cpu_s(dataflow.pid) if dataflow else 0.0
        result = run_open_loop(url, args.rate, args.seconds, make, check=_ok(201))
        cpu1 = process_cpu_s(process.pid)
        flow1 = process_cpu_s(dataflow.pid) if dataflow else 0.0
        mode = "embedded" if args.embedded else "Kafka round trip"
        report(
            f"POST /v1/reservations ({mode})",
            result,
            cpu1 - cpu0,
            {
                "dataflow_cpu_share": round((flow1 - flow0) / result.duration_s, 3),
                "target_p99_ms": 50,
            },
        )
    finally:
        if process is not None:
            stop(process)
        if dataflow is not None:
            stop(dataflow)


def _ok(status: int) -> Any:
    return lambda got, body: got == status


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="scenario", required=True)
    atp = sub.add_parser("atp", help="GET /v1/atp against an embedded server")
    atp.add_argument("--rate", type=float, default=2000)
    atp.add_argument("--seconds", type=float, default=20)
    atp.add_argument("--locations", type=int, default=500)
    atp.add_argument("--skus", type=int, default=20_000)
    atp.add_argument("--url", default=None)
    atp.add_argument("--no-seed", action="store_true")
    atp.add_argument("--log", default="/tmp/omnistock-api-load.log")
    atp.set_defaults(run=scenario_atp)
    reserve = sub.add_parser("reserve", help="POST /v1/reservations in Kafka mode")
    reserve.add_argument("--rate", type=float, default=200)
    reserve.add_argument("--seconds", type=float, default=20)
    reserve.add_argument("--locations", type=int, default=50)
    reserve.add_argument("--skus", type=int, default=100)
    reserve.add_argument("--embedded", action="store_true", help="no Kafka: the engine in serve")
    reserve.add_argument("--log", default="/tmp/omnistock-api-load.log")
    reserve.set_defaults(run=scenario_reserve)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
