"""HTTP API load: ``GET /v1/atp`` (embedded), reservations (Kafka or embedded), promises.

Open loop (``benchmarks.loadgen``) from this process against an ``omnistock serve`` child
process (``benchmarks.api_server``), after checking answers are right. Prints one JSON line per
scenario with p50/p90/p99, the statuses, and the CPU share of the generator and of the server.

    python -m benchmarks.api_load atp [--rate 2000] [--seconds 20] [--locations 500] [--skus 20000]
    python -m benchmarks.api_load reserve [--rate 200] [--seconds 20] [--embedded]
    python -m benchmarks.api_load promise [--rate 200] [--seconds 20]   # needs engine.promise

``atp`` seeds the server through ``POST /v1/events`` (receipts, 10,000 per request: the bulk
path; one per position) and then reads random positions. ``reserve`` starts ``omnistock run``
and ``omnistock serve --bootstrap`` on fresh topics (broker from ``OMNISTOCK_BOOTSTRAP``, else
127.0.0.1:9092; ``--embedded``: no Kafka), stocks positions generously, and reserves one unit
per request at random positions (every answer must be 201). ``promise`` serves the built-in
network (``workload.builtin``) with its stock and asks ``POST /v1/promise`` and
``/v1/promise/listing`` (20 skus) for random ZIP codes. ``--url`` (``atp``) uses a server
already running; add ``--no-seed`` when it is loaded.

``measure(quick, bootstrap)`` runs them all and returns the figures ``omnistock bench api``
reports (``atp_p99_ms``, ``reserve_p99_ms``, ``promise_p99_ms``, ``listing_p99_ms``, and
``samples``: latencies per route).
"""

from __future__ import annotations

import argparse
import os
import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.api_server import Served, ids, post_events, receipts, served, wait_position
from benchmarks.loadgen import LoadResult, process_peak_rss_mb, run_open_loop

ZIPS = ("10001", "60601", "94105", "30303", "75201", "98101", "02108", "33101", "80202", "85004")


def _ok(status: int) -> Callable[[int, bytes], bool]:
    return lambda got, body: got == status


Make = Callable[[int], tuple[str, str, bytes | None]]


def timed(
    where: Served,
    rate: float,
    seconds: float,
    make: Make,
    status: int,
    between: Callable[[], None] | None = None,
) -> tuple[LoadResult, dict[str, Any]]:
    """A warm-up, then the timed run; with the CPU shares of the server and the dataflow.
    ``between`` runs after the warm-up (fresh ids for the timed run)."""
    run_open_loop(where.url, rate, min(2.0, seconds), make)
    if between is not None:
        between()
    server0, flow0 = where.cpu()
    result = run_open_loop(where.url, rate, seconds, make, check=_ok(status))
    server1, flow1 = where.cpu()
    shares = {"server_cpu_share": round((server1 - server0) / result.duration_s, 3)}
    if where.dataflow is not None:
        shares["dataflow_cpu_share"] = round((flow1 - flow0) / result.duration_s, 3)
    return result, shares


# -- scenarios -------------------------------------------------------------------------------


def atp_scenario(
    where: Served, rate: float, seconds: float, locations: int, skus: int, seed: bool
) -> tuple[LoadResult, dict[str, Any]]:
    """``GET /v1/atp`` of random positions after one receipt per position."""
    location_ids, sku_ids = ids(locations, skus)
    extra: dict[str, Any] = {"positions": locations * skus}
    if seed:
        extra["seed_events_per_s"] = round(
            post_events(where.url, receipts(location_ids, sku_ids, lambda i: 1 + i % 50))
        )
        probe = httpx.get(f"{where.url}/v1/atp/{location_ids[-1]}/{sku_ids[-1]}").json()
        if probe.get("atp") != 1 + (locations * skus - 1) % 50:  # check before timing
            raise SystemExit(f"wrong answer: {probe}")
    rng = random.Random(7)
    paths = [
        ("GET", f"/v1/atp/{rng.choice(location_ids)}/{rng.choice(sku_ids)}", None)
        for _ in range(4096)
    ]
    result, shares = timed(where, rate, seconds, lambda i: paths[i & 4095], 200)
    if where.server is not None:
        extra["server_peak_rss_mb"] = round(process_peak_rss_mb(where.server.pid))
    return result, {**shares, **extra}


def reserve_scenario(
    where: Served, rate: float, seconds: float, locations: int, skus: int
) -> tuple[LoadResult, dict[str, Any]]:
    """``POST /v1/reservations`` of one unit at random, well-stocked positions."""
    location_ids, sku_ids = ids(locations, skus)
    post_events(where.url, receipts(location_ids, sku_ids, lambda i: 1_000_000))
    wait_position(where.url, location_ids[-1], sku_ids[-1])
    rng = random.Random(7)
    run = [uuid.uuid4().hex[:8]]

    def make(i: int) -> tuple[str, str, bytes | None]:
        body = {
            "reservation_id": f"b-{run[0]}-{i}",
            "location_id": rng.choice(location_ids),
            "sku": rng.choice(sku_ids),
            "qty": 1,
        }
        return ("POST", "/v1/reservations", orjson.dumps(body))

    def fresh() -> None:  # every timed request is a new reservation
        run[0] = uuid.uuid4().hex[:8]

    return timed(where, rate, seconds, make, 201, fresh)


def network_file(stores: int, skus: int, directory: Path) -> tuple[Path, Iterator[bytes]]:
    """The built-in network (seed 7) as a file, and its stock as receipt events (JSON)."""
    from workload.builtin import generate_network, stock_events  # noqa: PLC0415

    network = generate_network(stores, seed=7)
    path = directory / "api-load-network.json"
    path.write_bytes(orjson.dumps(network))
    location_ids = sorted(location["id"] for location in network["locations"])
    events = stock_events(location_ids, skus, "2026-11-20T10:00:00Z", seed=7)
    return path, (orjson.dumps(event) for event in events)


def promise_scenario(
    where: Served, seconds: float, skus: int, cart_rate: float = 1000, listing_rate: float = 200
) -> tuple[tuple[LoadResult, dict[str, Any]], tuple[LoadResult, dict[str, Any]]]:
    """``POST /v1/promise`` (one item, skus drawn by popularity) at ``cart_rate`` and
    ``/v1/promise/listing`` (48 skus, a listing page) at ``listing_rate``, random ZIPs."""
    rng = random.Random(7)
    names = [f"SKU{n:06d}" for n in range(1, skus + 1)]
    weights = [1 / rank for rank in range(1, skus + 1)]
    bodies = [
        orjson.dumps(
            {
                "items": [{"sku": sku, "qty": 1}],
                "destination": {"postal_code": rng.choice(ZIPS)},
            }
        )
        for sku in [names[0], *rng.choices(names, weights, k=1023)]
    ]
    listings = [
        orjson.dumps(
            {"skus": rng.sample(names, 48), "destination": {"postal_code": rng.choice(ZIPS)}}
        )
        for _ in range(1024)
    ]
    probe = httpx.post(
        f"{where.url}/v1/promise",
        content=bodies[0],
        headers={"content-type": "application/json"},
        timeout=30,
    )
    if probe.status_code != 200 or not probe.json()["items"][0]["options"]:
        raise SystemExit(f"wrong promise answer: {probe.status_code} {probe.text[:300]}")
    cart, cart_shares = timed(
        where, cart_rate, seconds, lambda i: ("POST", "/v1/promise", bodies[i & 1023]), 200
    )
    listing, listing_shares = timed(
        where,
        listing_rate,
        seconds,
        lambda i: ("POST", "/v1/promise/listing", listings[i & 1023]),
        200,
    )
    return (cart, cart_shares), (listing, listing_shares)


# -- for omnistock bench -----------------------------------------------------------------------


def measure(quick: bool, bootstrap: str | None, api_url: str | None = None) -> dict[str, Any]:
    """Every scenario at its target rate; the figures ``omnistock bench api`` reports.

    Args:
        quick: small sizes and short runs (about a minute in all).
        bootstrap: a Kafka broker for the reservation round trip (skipped when ``None``).
        api_url: a running embedded API to read from instead of starting one (not seeded).
    """
    seconds = 5.0 if quick else 20.0
    locations, skus = (100, 200) if quick else (500, 20_000)
    figures: dict[str, Any] = {"samples": {}}

    def keep(name: str, route: str, result: LoadResult, extra: dict[str, Any]) -> None:
        figures[f"{name}_p50_ms"] = round(result.percentile(50), 3)
        figures[f"{name}_p99_ms"] = round(result.percentile(99), 3)
        figures[f"{name}_errors"] = result.errors
        figures[f"{name}_generator_cpu_share"] = round(result.cpu_s / result.duration_s, 3)
        figures.update({f"{name}_{key}": value for key, value in extra.items()})
        figures["samples"][route] = result.latencies_ms

    if api_url is not None:
        result, extra = atp_scenario(Served(api_url, None), 2000, seconds, locations, skus, False)
    else:
        with served() as where:
            result, extra = atp_scenario(where, 2000, seconds, locations, skus, True)
    keep("atp", "GET /v1/atp", result, extra)
    with served() as where:  # embedded: the dataflow in the server's process
        result, extra = reserve_scenario(where, 200, seconds, 50, 100)
    keep("reserve_embedded", "POST /v1/reservations (embedded)", result, extra)
    if bootstrap is not None:
        with served(bootstrap) as where:
            result, extra = reserve_scenario(where, 200, seconds, 50, 100)
        keep("reserve", "POST /v1/reservations", result, extra)
    import tempfile  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as directory:
        path, stock = network_file(locations, skus, Path(directory))
        with served(network=path) as where:
            post_events(where.url, stock)
            (cart, cart_extra), (listing, listing_extra) = promise_scenario(where, seconds, skus)
    keep("promise", "POST /v1/promise", cart, cart_extra)
    keep("listing", "POST /v1/promise/listing", listing, listing_extra)
    return figures


# -- the command line -------------------------------------------------------------------------


def report(name: str, result: LoadResult, extra: dict[str, Any], target_ms: float) -> None:
    line = {"scenario": name, **result.summary(), **extra, "target_p99_ms": target_ms}
    print(orjson.dumps(line).decode(), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="scenario", required=True)
    atp = sub.add_parser("atp", help="GET /v1/atp against an embedded server")
    atp.add_argument("--rate", type=float, default=2000)
    atp.add_argument("--seconds", type=float, default=20)
    atp.add_argument("--locations", type=int, default=500)
    atp.add_argument("--skus", type=int, default=20_000)
    atp.add_argument("--url", default=None)
    atp.add_argument("--no-seed", action="store_true")
    reserve = sub.add_parser("reserve", help="POST /v1/reservations (Kafka unless --embedded)")
    reserve.add_argument("--rate", type=float, default=200)
    reserve.add_argument("--seconds", type=float, default=20)
    reserve.add_argument("--locations", type=int, default=50)
    reserve.add_argument("--skus", type=int, default=100)
    reserve.add_argument("--embedded", action="store_true", help="no Kafka: the engine in serve")
    promise = sub.add_parser("promise", help="POST /v1/promise and /listing (built-in network)")
    promise.add_argument("--rate", type=float, default=1000, help="one-item promises per s")
    promise.add_argument("--listing-rate", type=float, default=200, help="listing pages per s")
    promise.add_argument("--seconds", type=float, default=20)
    promise.add_argument("--stores", type=int, default=500)
    promise.add_argument("--skus", type=int, default=20_000)
    args = parser.parse_args(argv)
    if args.scenario == "atp":
        if args.url is not None:
            where = Served(args.url, None)
            result, extra = atp_scenario(
                where, args.rate, args.seconds, args.locations, args.skus, not args.no_seed
            )
        else:
            with served() as where:
                result, extra = atp_scenario(
                    where, args.rate, args.seconds, args.locations, args.skus, not args.no_seed
                )
        report("GET /v1/atp", result, extra, 5)
    elif args.scenario == "reserve":
        bootstrap = (
            None if args.embedded else os.environ.get("OMNISTOCK_BOOTSTRAP", "127.0.0.1:9092")
        )
        with served(bootstrap) as where:
            result, extra = reserve_scenario(
                where, args.rate, args.seconds, args.locations, args.skus
            )
        mode = "embedded" if args.embedded else "Kafka round trip"
        report(f"POST /v1/reservations ({mode})", result, extra, 50)
    else:
        import tempfile  # noqa: PLC0415

        with tempfile.TemporaryDirectory() as directory:
            path, stock = network_file(args.stores, args.skus, Path(directory))
            with served(network=path) as where:
                post_events(where.url, stock)
                (cart, cart_extra), (listing, listing_extra) = promise_scenario(
                    where, args.seconds, args.skus, args.rate, args.listing_rate
                )
        report("POST /v1/promise", cart, cart_extra, 10)
        report("POST /v1/promise/listing (48 skus)", listing, listing_extra, 20)


if __name__ == "__main__":
    main()
