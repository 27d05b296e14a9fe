"""HTTP API latency with wrk (closed loop) next to the open-loop harness, on an embedded server.

Starts ``omnistock serve`` (embedded engine, no ``--bootstrap``) as a child process on a free
port, seeds it through ``POST /v1/events`` (``benchmarks.api_server``'s helpers, 10,000 events per
request), checks a sample of answers, and then measures the same request list twice:

- ``wrk --latency`` with ``benchmarks/wrk/random_requests.lua`` (each request drawn at random
  from a list file): closed loop, a few connections (``-t1 -c4`` by default) so the server is
  not saturated; its achieved requests/s, p50/p75/p90/p99 (from wrk's latency distribution),
  p99.9 and max (from the script's ``done()``), and the non-2xx/3xx and socket error counts;
- the project's open-loop generator (``benchmarks.loadgen.run_open_loop``, no coordinated
  omission) at the target rate: 2,000 GETs/s for ``atp``, 1,000 promises/s for ``promise``.

Scenarios:

- ``atp``: ``GET /v1/atp/{location}/{sku}`` of random seeded positions after one receipt per
  position (500 locations x 20,000 skus; ``--quick``: 100 x 200); p99 target 5 ms.
- ``promise``: ``POST /v1/promise`` of one item (skus drawn by popularity, as
  ``benchmarks.api_load`` draws them) for random real ZIP codes, over the built-in network
  (500 stores, 20,000 skus, seed 7; ``--quick``: 100 stores x 200 skus) and its stock;
  p99 target 10 ms.

Run from the repository root with its venv::

    python -m benchmarks.http_wrk atp|promise|all [--seconds 15] [--connections 4]
        [--threads 1] [--rate R] [--quick] [--no-open-loop]

``--rate`` replaces the open-loop rate of every scenario run. Each scenario prints one JSON
line (``wrk_*`` and ``open_loop_*`` figures, the server's CPU share during each, the time it
started and the load average). The server's log goes to ``/tmp/omnistock-http-wrk.log``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.api_load import ZIPS, network_file
from benchmarks.api_server import Served, ids, post_events, receipts, served
from benchmarks.loadgen import run_open_loop

LUA = Path(__file__).resolve().parent / "wrk" / "random_requests.lua"
LOG = Path("/tmp/omnistock-http-wrk.log")
SEED = 7
REQUESTS = 4096  # distinct requests in a list (wrk and the open loop draw from the same)

Request = tuple[str, str, bytes | None]


@dataclass(frozen=True)
class Scenario:
    """What a scenario measures and the targets it is compared against."""

    name: str
    route: str
    rate: float
    target_p99_ms: float
    status: int = 200


ATP = Scenario("atp", "GET /v1/atp", 2000, 5)
PROMISE = Scenario("promise", "POST /v1/promise (one item)", 1000, 10)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def log(message: str) -> None:
    print(f"[{now()}] {message}", file=sys.stderr, flush=True)


# -- wrk ---------------------------------------------------------------------------------------

_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_TIME = r"([0-9.]+)(us|ms|s|m|h)"


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse_wrk(text: str) -> dict[str, Any]:
    """wrk's ``--latency`` report (and the lua ``done()`` line) as figures in milliseconds."""
    figures: dict[str, Any] = {}
    for percent, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+" + _TIME, text, re.M):
        figures[f"wrk_p{percent}_ms"] = round(_ms(value, unit), 3)
    if "wrk_p99_ms" not in figures:
        raise SystemExit(f"no latency distribution in wrk's output:\n{text}")
    rate = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
    figures["wrk_requests_per_s"] = round(float(rate.group(1)), 1) if rate else None
    count = re.search(r"^\s+(\d+) requests in " + _TIME, text, re.M)
    figures["wrk_requests"] = int(count.group(1)) if count else None
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    figures["wrk_non_2xx_3xx"] = int(non_2xx.group(1)) if non_2xx else 0
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    figures["wrk_socket_errors"] = sum(int(n) for n in sockets.groups()) if sockets else 0
    exact = re.search(r"^wrk-json (\{.*\})$", text, re.M)
    if exact:
        done: dict[str, Any] = orjson.loads(exact.group(1))
        figures["wrk_p99.9_ms"] = round(done["p999_us"] / 1e3, 3)
        figures["wrk_max_ms"] = round(done["max_us"] / 1e3, 3)
        figures["wrk_mean_ms"] = round(done["mean_us"] / 1e3, 3)
    return figures


def write_requests(requests: list[Request], path: Path) -> Path:
    """The list file ``random_requests.lua`` reads: ``METHOD<tab>PATH[<tab>BODY]`` lines."""
    with path.open("wb") as sink:
        for method, target, body in requests:
            if b"\t" in (body or b"") or b"\n" in (body or b""):
                raise ValueError("a request body must fit on one line without tabs")
            line = f"{method}\t{target}".encode() + (b"\t" + body if body else b"")
            sink.write(line + b"\n")
    return path


def run_wrk(
    wrk: str, url: str, requests_file: Path, seconds: float, threads: int, connections: int
) -> dict[str, Any]:
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(LUA),
        url,
        "--",
        str(requests_file),
    ]
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=seconds + 60
    )
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr}{done.stdout}")
    return parse_wrk(done.stdout)


# -- the open loop -----------------------------------------------------------------------------


def open_loop(
    where: Served, rate: float, seconds: float, requests: list[Request], status: int
) -> dict[str, Any]:
    """A short warm-up, then ``rate`` requests/s on schedule for ``seconds``."""
    n = len(requests)

    def make(i: int) -> Request:
        return requests[i % n]

    run_open_loop(where.url, rate, min(2.0, seconds), make)
    cpu0 = where.cpu()[0]
    result = run_open_loop(where.url, rate, seconds, make, check=lambda got, _body: got == status)
    share = (where.cpu()[0] - cpu0) / result.duration_s
    return {
        "open_loop_rate": rate,
        "open_loop_achieved_per_s": round(result.sent / result.duration_s, 1),
        "open_loop_p50_ms": round(result.percentile(50), 3),
        "open_loop_p90_ms": round(result.percentile(90), 3),
        "open_loop_p99_ms": round(result.percentile(99), 3),
        "open_loop_max_ms": round(max(result.latencies_ms, default=float("nan")), 3),
        "open_loop_errors": result.errors,
        "open_loop_statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "open_loop_server_cpu_share": round(share, 3),
    }


# -- measuring one scenario --------------------------------------------------------------------


def measure(
    scenario: Scenario,
    where: Served,
    requests: list[Request],
    args: argparse.Namespace,
    extra: dict[str, Any],
    started: str,
) -> None:
    """wrk (after a short unrecorded warm-up), then the open loop; prints the JSON line."""
    wrk = args.wrk or shutil.which("wrk") or "/usr/bin/wrk"
    with tempfile.TemporaryDirectory(prefix="http-wrk-") as directory:
        listing = write_requests(requests, Path(directory) / f"{scenario.name}.tsv")
        run_wrk(wrk, where.url, listing, min(3.0, args.seconds), args.threads, args.connections)
        cpu0 = where.cpu()[0]
        clock0 = time.perf_counter()
        figures = run_wrk(wrk, where.url, listing, args.seconds, args.threads, args.connections)
        figures["wrk_server_cpu_share"] = round(
            (where.cpu()[0] - cpu0) / (time.perf_counter() - clock0), 3
        )
    if not args.no_open_loop:
        rate = args.rate if args.rate is not None else scenario.rate
        figures |= open_loop(where, rate, args.seconds, requests, scenario.status)
    line = {
        "scenario": scenario.name,
        "route": scenario.route,
        "started_at": started,
        "finished_at": now(),
        "load_average_1m_at_start": extra.pop("load_average_1m_at_start"),
        "wrk_threads": args.threads,
        "wrk_connections": args.connections,
        "seconds": args.seconds,
        **figures,
        "target_p99_ms": scenario.target_p99_ms,
        **extra,
    }
    print(orjson.dumps(line).decode(), flush=True)


def atp(args: argparse.Namespace) -> None:
    started, load = now(), os.getloadavg()[0]
    locations, skus = (
        (args.locations or 100, args.skus or 200)
        if args.quick
        else (args.locations or 500, args.skus or 20_000)
    )
    location_ids, sku_ids = ids(locations, skus)

    def expected(location: int, sku: int) -> int:  # receipts(..., 1 + n % 50), n in order
        return 1 + (location * skus + sku) % 50

    with served(log=LOG) as where:
        log(f"atp: seeding {locations * skus:,} positions on {where.url}")
        seed_per_s = post_events(where.url, receipts(location_ids, sku_ids, lambda n: 1 + n % 50))
        rng = random.Random(SEED)
        picks = [(rng.randrange(locations), rng.randrange(skus)) for _ in range(REQUESTS)]
        requests: list[Request] = [
            ("GET", f"/v1/atp/{location_ids[loc]}/{sku_ids[sku]}", None) for loc, sku in picks
        ]
        with httpx.Client(base_url=where.url, timeout=10) as client:  # right answers first
            for (loc, sku), (_, target, _) in list(zip(picks, requests, strict=True))[:256]:
                answer = client.get(target)
                body = answer.json() if answer.status_code == 200 else {}
                if answer.status_code != 200 or body.get("atp") != expected(loc, sku):
                    raise SystemExit(f"wrong answer to {target}: {answer.status_code} {body}")
        log("atp: 256 answers checked; measuring")
        extra = {
            "load_average_1m_at_start": round(load, 2),
            "positions": locations * skus,
            "seed_events_per_s": round(seed_per_s),
            "checked_answers": 256,
        }
        measure(ATP, where, requests, args, extra, started)


# -- the built-in network ----------------------------------------------------------------------


def promise(args: argparse.Namespace) -> None:
    started, load = now(), os.getloadavg()[0]
    stores, skus = (
        (args.stores or 100, args.skus or 200)
        if args.quick
        else (args.stores or 500, args.skus or 20_000)
    )
    # As benchmarks.api_load draws them: the best seller first, then skus by popularity (1/rank).
    rng = random.Random(SEED)
    names = [f"SKU{n:06d}" for n in range(1, skus + 1)]
    weights = [1 / rank for rank in range(1, skus + 1)]
    requests: list[Request] = [
        (
            "POST",
            "/v1/promise",
            orjson.dumps(
                {
                    "items": [{"sku": sku, "qty": 1}],
                    "destination": {"postal_code": rng.choice(ZIPS)},
                }
            ),
        )
        for sku in [names[0], *rng.choices(names, weights, k=REQUESTS - 1)]
    ]
    with tempfile.TemporaryDirectory(prefix="http-wrk-") as directory:
        path, stock = network_file(stores, skus, Path(directory))
        with served(network=path, log=LOG) as where:
            log(f"promise: stocking the built-in network ({stores} stores, {skus:,} skus)")
            seed_per_s = post_events(where.url, stock)
            checked, with_options = 0, 0
            with httpx.Client(base_url=where.url, timeout=30) as client:  # right answers first
                for method, target, body in requests[:256]:
                    answer = client.request(
                        method, target, content=body, headers={"content-type": "application/json"}
                    )
                    found = answer.json() if answer.status_code == 200 else {}
                    if answer.status_code != 200 or "items" not in found:
                        raise SystemExit(f"wrong promise answer: {answer.status_code} {found}")
                    checked += 1
                    with_options += bool(found["items"][0].get("options"))
                    if checked == 1 and not with_options:
                        raise SystemExit(f"the best seller has no delivery option: {found}")
            log(f"promise: {checked} answers checked ({with_options} with options); measuring")
            extra = {
                "load_average_1m_at_start": round(load, 2),
                "stores": stores,
                "skus": skus,
                "seed_events_per_s": round(seed_per_s),
                "checked_answers": checked,
                "checked_with_options": with_options,
            }
            measure(PROMISE, where, requests, args, extra, started)


# -- the command line --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("scenario", choices=("atp", "promise", "all"))
    parser.add_argument("--seconds", type=float, default=15, help="each timed run (default 15)")
    parser.add_argument("--connections", type=int, default=4, help="wrk -c (default 4)")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (default 1)")
    parser.add_argument(
        "--rate", type=float, default=None, help="open-loop rate (default: 2000 atp, 1000 promise)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (100 x 200)")
    parser.add_argument("--locations", type=int, default=None, help="atp locations")
    parser.add_argument("--stores", type=int, default=None, help="promise: the network's stores")
    parser.add_argument("--skus", type=int, default=None)
    parser.add_argument("--no-open-loop", action="store_true", help="wrk only")
    parser.add_argument("--wrk", default=None, help="the wrk binary (default: wrk on PATH)")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.connections < args.threads:
        parser.error("--connections must be at least --threads, and --threads at least 1")
    if args.scenario in ("atp", "all"):
        atp(args)
    if args.scenario in ("promise", "all"):
        promise(args)


if __name__ == "__main__":
    main()
