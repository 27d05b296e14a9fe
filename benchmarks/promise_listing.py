"""A 200-sku region listing answered from the promise table (docs/api.md §6.10; api.promise_table):
in process (goal p99 <= 1 ms) and over HTTP, against the listing computed per request.

1. **In process.** The built-in network (``workload.builtin.generate_network``: ``--stores``
   stores, 4 DCs, its 100 regions), ``--skus`` skus stocked as ``benchmarks.promise_table``
   stocks them (``signals_of``); every entry made by the engine (``engine.promise.table``) at
   one instant (``AT``), then fed to a real API app's read model as the dataflow's messages go
   (``ReadModel.take("promises", ...)``). Timed per call: the hot path the route takes
   (``api.fastpath.AtpFastPath._promise(scope, body, listing=True)``: body validation, the
   table lookup, the JSON encoding; the route minus the socket), for 4,096 distinct bodies of
   200 distinct skus (drawn by popularity, 1/rank, as ``benchmarks.api_load``) to a region
   drawn uniformly, ``{"region": R}``, and the same bodies to a ZIP code whose first 3 digits
   are the region. ``--calls`` calls a round, ``--rounds`` rounds (the two kinds' rounds
   interleave); each call's wall time and its thread CPU time (preemption excluded: on a
   shared machine the wall time's tail is the scheduler's), and the round's involuntary
   context switches. The answers are checked first (each sku's ``deliver_by`` is its entry's
   cell of the region; ``region`` is said).
2. **Over HTTP.** ``omnistock serve --network FILE`` (embedded: its dataflow builds the
   table), stocked through ``POST /v1/events`` (``benchmarks.api_load.network_file``), polled
   until the table answers every stocked sku, a sample checked against the listing computed
   at the region's point at the entry's ``as_of``. Then per kind, table (``{"region": R}``)
   and computed (the region's point ``{"lat", "lon"}``: not a region, so computed per
   request): wrk (``benchmarks/wrk/random_requests.lua``, closed loop, ``-t1 -c4`` after a
   warm-up; wrk corrects its percentiles for coordinated omission, so a few stalls weigh
   more at a high request rate) and the open-loop generator (``benchmarks.loadgen``) at
   ``--rate`` listings/s, with the server's CPU share.

Prints a summary and one JSON line; writes the JSON to
``benchmarks/results/promise_listing-<UTC timestamp>.json`` (``--out``).

    python -m benchmarks.promise_listing [--skus 20000] [--stores 50] [--rounds 3]
        [--calls 5000] [--seconds 15] [--connections 4] [--rate 200] [--no-http] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import numpy as np
import orjson

from api import postal
from api.app import create_app
from api.backends.embedded import EmbeddedBackend
from api.fastpath import LISTING, AtpFastPath
from api.promiser import promiser_of
from api.readmodel import ReadModel
from benchmarks.api_load import network_file
from benchmarks.api_server import Served, post_events, served
from benchmarks.harness.report import machine
from benchmarks.http_wrk import Request, open_loop, run_wrk, write_requests
from benchmarks.promise_table import AT, signals_of
from engine.book import EngineConfig
from engine.promise import table
from engine.promise.table import Maker
from engine.timefmt import parse_instant
from workload.builtin import generate_network, sku_names, stock_matrix

RESULTS = Path(__file__).resolve().parent / "results"
LOG = Path("/tmp/omnistock-promise-listing.log")
SEED = 7
BODIES = 4096  # distinct listing bodies (in process, wrk and the open loop draw from them)
SKUS_A_LISTING = 200  # api.schemas.MAX_LISTING
GOAL_P99_US = 1000.0
CHECKED = 512  # bodies whose answer is checked entry by entry before timing
Entries = dict[str, dict[str, Any]]  # sku -> its entry, decoded
JSON_HEADERS = {"content-type": "application/json"}
SCOPE: dict[str, Any] = {"type": "http", "headers": [(b"content-type", b"application/json")]}
RATIOS = ("wrk_p50_ms", "wrk_p99_ms", "wrk_requests_per_s", "open_loop_p50_ms", "open_loop_p99_ms")


def draws(names: list[str], regions: list[str]) -> tuple[list[list[str]], list[str]]:
    """``BODIES`` lists of 200 distinct skus, each drawn by popularity (weight 1/rank), and a
    region for each, drawn uniformly."""
    rng = np.random.default_rng(SEED)
    weights = 1 / np.arange(1, len(names) + 1)
    weights /= weights.sum()
    size = min(SKUS_A_LISTING, len(names))
    drawn = [
        [names[i] for i in rng.choice(len(names), size, replace=False, p=weights)]
        for _ in range(BODIES)
    ]
    return drawn, [regions[int(i)] for i in rng.integers(len(regions), size=BODIES)]


def region_zip(region: str) -> str:
    """A known ZIP code whose first 3 digits are ``region``."""
    for n in range(1, 100):
        if postal.zip_centroid(f"{region}{n:02d}") is not None:
            return f"{region}{n:02d}"
    raise SystemExit(f"no known ZIP code starts with {region}")


def check_answer(answer: dict[str, Any], skus: list[str], region: str, entries: Entries) -> None:
    """A listing answered from the table: it says ``region``; each sku's days are its entry's."""
    if answer.get("region") != region or [item["sku"] for item in answer["skus"]] != skus:
        raise SystemExit(f"not the table's answer for region {region}: {str(answer)[:300]}")
    for item in answer["skus"]:
        entry = entries.get(item["sku"])
        levels = {} if entry is None else entry["regions"].get(region, {})
        want = {level: cell["deliver_by"] for level, cell in levels.items()}
        if item["deliver_by"] != want or (entry and item["as_of"] != entry["as_of"]):
            raise SystemExit(f"wrong item in region {region}: {item}, entry says {want}")


def percentiles_us(samples: list[float]) -> dict[str, float]:
    found = [*np.percentile(samples, [50, 99, 99.9]).tolist(), max(samples)]
    return {key: round(value, 1) for key, value in zip(_KEYS, found, strict=True)}


_KEYS = ("p50_us", "p99_us", "p99.9_us", "max_us")


# -- 1. in process -------------------------------------------------------------------------------


def tabled(stores: int, skus: int, t: int) -> tuple[AtpFastPath, Maker, Entries, dict[str, Any]]:
    """A real app's hot path over a read model holding every entry made at ``t``; the maker,
    the entries (decoded) and the facts."""
    built = generate_network(stores=stores)
    promiser = promiser_of(orjson.dumps(built))
    network: Any = getattr(promiser, "network")  # noqa: B009 - a CalculatorPromiser's
    maker = table.Maker(network)
    names, signals, share = signals_of(maker, skus)
    book = table.PromiseBook()
    table.hear(book, signals, maker.index)
    started = time.perf_counter()
    out = table.make(book, maker, names, t)
    made_s = time.perf_counter() - started
    backend = EmbeddedBackend(ReadModel(maker.location_ids), EngineConfig())
    app = create_app(backend, promiser=promiser)
    readmodel = backend.readmodel
    started = time.perf_counter()
    for topic, _, value in out:
        readmodel.take(topic, value)  # as the dataflow hands them over
    fed_s = time.perf_counter() - started
    promises = readmodel.promises
    if promises.unreadable or len(promises.entries) != skus:
        raise SystemExit(f"the table took {len(promises.entries)} of {skus} entries")
    facts = {
        "locations": len(maker.location_ids),
        "regions": len(maker.regions),
        "skus": skus,
        "entries": len(out),
        "entry_bytes_mean": round(statistics.fmean(len(v) for _, _, v in out)),
        "stocked_share": round(share, 4),
        "at": table._instant(t),
        "make_s": round(made_s, 3),
        "feed_s": round(fed_s, 3),
    }
    entries = {sku: orjson.loads(value) for _, sku, value in out}
    return AtpFastPath(app, app.state.omnistock), maker, entries, facts


def timed_calls(fast: AtpFastPath, bodies: list[bytes], calls: int) -> dict[str, float]:
    """``calls`` calls of the listing's hot path, cycling ``bodies``: percentiles of each
    call's wall time and of its thread CPU time (what it costs, preemption excluded), in us,
    the calls over 1 ms, and the round's involuntary context switches (the OS took the CPU)."""
    answer = fast._promise
    wall, cpu = time.perf_counter_ns, time.thread_time_ns
    n = len(bodies)
    walls: list[float] = []
    cpus: list[float] = []
    gc.collect()
    switched = resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw
    for i in range(calls):
        body = bodies[i % n]
        started, used = wall(), cpu()
        answer(SCOPE, body, True)
        cpus.append((cpu() - used) / 1e3)
        walls.append((wall() - started) / 1e3)
    switched = resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw - switched
    return {
        **percentiles_us(walls),
        **{f"cpu_{key}": value for key, value in percentiles_us(cpus).items()},
        "over_1ms": sum(1 for w in walls if w > GOAL_P99_US),
        "preempted": switched,
    }


def in_process(args: argparse.Namespace) -> dict[str, Any]:
    """The hot path's figures; the rounds of the two kinds interleave (the same load)."""
    fast, maker, entries, facts = tabled(args.stores, args.skus, table.seconds(parse_instant(AT)))
    drawn, where = draws(sku_names(args.skus), maker.regions)
    zips = {region: region_zip(region) for region in maker.regions}
    kinds = {
        "region": [{"region": region} for region in where],
        "zip": [{"postal_code": zips[region]} for region in where],
    }
    bodies: dict[str, list[bytes]] = {}
    for kind, destinations in kinds.items():
        bodies[kind] = [
            orjson.dumps({"skus": skus, "destination": destination})
            for skus, destination in zip(drawn, destinations, strict=True)
        ]
        for body, skus, region in list(zip(bodies[kind], drawn, where, strict=True))[:CHECKED]:
            answered = fast._promise(SCOPE, body, True)
            if answered is None:
                raise SystemExit(f"the hot path refused a {kind} listing: {body[:200]!r}")
            check_answer(msgspec.json.decode(answered), skus, region, entries)
        timed_calls(fast, bodies[kind], min(args.calls, 1000))  # warm-up
    rounds: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    for _ in range(args.rounds):
        for kind, found in rounds.items():
            found.append(timed_calls(fast, bodies[kind], args.calls))
    result: dict[str, Any] = {**facts, "calls_a_round": args.calls, "rounds": args.rounds}
    for kind, found in rounds.items():
        sizes = [len(fast._promise(SCOPE, body, True) or b"") for body in bodies[kind][:64]]
        result[kind] = {
            "checked": CHECKED,
            "answer_bytes_mean": round(statistics.fmean(sizes)),
            "rounds": found,
            **{key: _mmm([r[key] for r in found]) for key in found[0]},
        }
    return result


def _mmm(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


# -- 2. over HTTP --------------------------------------------------------------------------------


def post_json(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(LISTING, content=orjson.dumps(body), headers=JSON_HEADERS)
    if answer.status_code != 200:
        raise SystemExit(f"listing failed: {answer.status_code} {answer.text[:300]}")
    found: dict[str, Any] = answer.json()
    return found


def wait_table(client: httpx.Client, stocked: list[str], timeout: float = 600) -> float:
    """Seconds until the listing answers every stocked sku from the table (``as_of`` set)."""
    started = time.monotonic()
    left = stocked
    while left:
        if time.monotonic() - started > timeout:
            raise SystemExit(f"{len(left)} stocked skus still have no entry after {timeout} s")
        missing: list[str] = []
        for at in range(0, len(left), SKUS_A_LISTING):
            chunk = left[at : at + SKUS_A_LISTING]
            answer = post_json(client, {"skus": chunk, "destination": {"region": "100"}})
            if answer.get("region") != "100":
                raise SystemExit(f"the region listing was not from the table: {str(answer)[:300]}")
            missing += [item["sku"] for item in answer["skus"] if item["as_of"] is None]
        left = missing
        if left:
            time.sleep(0.5)
    return time.monotonic() - started


def check_http(client: httpx.Client, drawn: list[list[str]], where: list[str], points: Any) -> int:
    """A sample of table answers against the listing computed at the region's point, at the
    entry's ``as_of``; returns how many (sku, region) pairs agree (all must)."""
    checked = 0
    for skus, region in list(zip(drawn, where, strict=True))[:16]:
        answer = post_json(client, {"skus": skus, "destination": {"region": region}})
        if answer.get("region") != region:
            raise SystemExit(f"not from the table: {str(answer)[:300]}")
        for item in answer["skus"][:: len(skus) // 8 or 1]:
            if item["as_of"] is None:
                continue
            lat, lon = points[region]
            point = {"lat": lat, "lon": lon}
            body = {"skus": [item["sku"]], "destination": point, "at": item["as_of"]}
            computed = post_json(client, body)
            if computed["skus"][0]["deliver_by"] != item["deliver_by"]:
                raise SystemExit(f"table {item} != computed {computed['skus'][0]} in {region}")
            checked += 1
    return checked


def over_http(args: argparse.Namespace) -> dict[str, Any]:
    wrk = shutil.which("wrk") or "/usr/bin/wrk"
    built = generate_network(args.stores, seed=7)
    points = {r["id"]: (r["lat"], r["lon"]) for r in built["regions"]}
    regions = list(points)
    names = sku_names(args.skus)
    ids = sorted(location["id"] for location in built["locations"])  # as network_file's stock
    stocked = [
        n for n, row in zip(names, stock_matrix(len(ids), args.skus), strict=True) if row.any()
    ]
    drawn, where = draws(names, regions)
    kinds = {
        "table": [{"region": region} for region in where],
        "computed": [{"lat": points[r][0], "lon": points[r][1]} for r in where],
    }
    result: dict[str, Any] = {"stocked_skus": len(stocked), "rate": args.rate}
    with tempfile.TemporaryDirectory(prefix="promise-listing-") as directory:
        path, stock = network_file(args.stores, args.skus, Path(directory))
        with (
            served(network=path, log=LOG) as server,
            httpx.Client(base_url=server.url, timeout=60) as client,
        ):
            result["seed_events_per_s"] = round(post_events(server.url, stock))
            result["table_complete_s"] = round(wait_table(client, stocked), 2)
            result["checked_against_computed"] = check_http(client, drawn, where, points)
            for kind, destinations in kinds.items():
                requests: list[Request] = [
                    ("POST", LISTING, orjson.dumps({"skus": skus, "destination": d}))
                    for skus, d in zip(drawn, destinations, strict=True)
                ]
                result[kind] = measure(wrk, server, requests, args, Path(directory) / kind)
    table_, computed = result["table"], result["computed"]
    result["computed_over_table"] = {k: round(computed[k] / table_[k], 2) for k in RATIOS}
    return result


def measure(
    wrk: str, server: Served, requests: list[Request], args: argparse.Namespace, path: Path
) -> dict[str, Any]:
    """wrk after an unrecorded warm-up, with the server's CPU share; then the open loop."""
    listed = write_requests(requests, path.with_suffix(".tsv"))
    run_wrk(wrk, server.url, listed, min(3.0, args.seconds), 1, args.connections)
    cpu0, clock0 = server.cpu()[0], time.perf_counter()
    figures = run_wrk(wrk, server.url, listed, args.seconds, 1, args.connections)
    figures["wrk_server_cpu_share"] = round(
        (server.cpu()[0] - cpu0) / (time.perf_counter() - clock0), 3
    )
    return figures | open_loop(server, args.rate, args.seconds, requests, 200)


# -- the command line ----------------------------------------------------------------------------


def report(results: dict[str, Any]) -> None:
    inproc = results.get("in_process")
    if inproc:
        print(
            f"in process: {inproc['skus']:,} skus x {inproc['regions']} regions x "
            f"{inproc['locations']} locations, {inproc['entries']:,} entries made at "
            f"{inproc['at']} in {inproc['make_s']:.2f} s ({inproc['entry_bytes_mean']:,} bytes "
            f"mean), fed to the read model in {inproc['feed_s']:.2f} s"
        )
        for kind in ("region", "zip"):
            r = inproc[kind]
            goal = "meets" if r["p99_us"]["median"] <= GOAL_P99_US else "MISSES"
            print(
                f"  200-sku listing to a {kind}, us, median (min-max) of {inproc['rounds']} "
                f"rounds x {inproc['calls_a_round']:,} calls (answer {r['answer_bytes_mean']:,}"
                f" bytes):\n    wall {_cells(r, '')}; {goal} p99 <= 1 ms\n"
                f"    CPU  {_cells(r, 'cpu_')}"
                f"\n    calls over 1 ms {r['over_1ms']['median']:.0f}, involuntary context "
                f"switches {r['preempted']['median']:.0f} a round (median)"
            )
    http = results.get("http")
    if http:
        print(
            f"over HTTP: {http['stocked_skus']:,} stocked skus, the table complete "
            f"{http['table_complete_s']} s after the seed; {http['checked_against_computed']} "
            "(sku, region) pairs equal to the listing computed at the entry's as_of"
        )
        for kind in ("table", "computed"):
            f = http[kind]
            print(
                f"  {kind:<8} wrk -t1 -c{results['parameters']['connections']}: "
                f"{f['wrk_requests_per_s']:,.0f}/s, ms p50 {f['wrk_p50_ms']} p90 {f['wrk_p90_ms']}"
                f" p99 {f['wrk_p99_ms']} p99.9 {f.get('wrk_p99.9_ms')} max {f.get('wrk_max_ms')},"
                f" non-2xx {f['wrk_non_2xx_3xx']}, server CPU {f['wrk_server_cpu_share']:.0%}\n"
                f"           open loop {f['open_loop_achieved_per_s']}/s: ms p50 "
                f"{f['open_loop_p50_ms']} p99 {f['open_loop_p99_ms']} max {f['open_loop_max_ms']}"
                f", {f['open_loop_statuses']}, server CPU {f['open_loop_server_cpu_share']:.0%}"
            )
        ratios = ", ".join(f"{k} {v}x" for k, v in http["computed_over_table"].items())
        print(f"  computed / table: {ratios}")


def _cells(r: dict[str, Any], prefix: str) -> str:
    return ", ".join(
        f"{key[:-3]} {r[prefix + key]['median']:,.0f} "
        f"({r[prefix + key]['min']:,.0f}-{r[prefix + key]['max']:,.0f})"
        for key in _KEYS
    )


def line(results: dict[str, Any]) -> dict[str, Any]:
    """The headline figures, flat (the file holds every round)."""
    found: dict[str, Any] = {"benchmark": "promise_listing", "started_at": results["started_at"]}
    inproc = results["in_process"]
    found["entries"] = inproc["entries"]
    for kind in ("region", "zip"):
        for key in (*_KEYS, "cpu_p99_us"):
            found[f"in_process_{kind}_{key}"] = inproc[kind][key]["median"]
    for kind, figures in results.get("http", {}).items():
        if isinstance(figures, dict):
            for key, value in figures.items():
                if key in RATIOS:
                    found[f"http_{kind}_{key}"] = value
    found["load_average"] = [results["load_before"][0], results["load_after"][0]]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--skus", type=int, default=None, help="default 20,000 (--quick 2,000)")
    parser.add_argument("--stores", type=int, default=50, help="stores (4 DCs besides)")
    parser.add_argument("--rounds", type=int, default=None, help="default 3 (--quick 1)")
    parser.add_argument("--calls", type=int, default=None, help="a round (default 5,000)")
    parser.add_argument("--seconds", type=float, default=None, help="each HTTP run (default 15)")
    parser.add_argument("--connections", type=int, default=4, help="wrk -c (default 4)")
    parser.add_argument("--rate", type=float, default=200, help="open loop, listings/s")
    parser.add_argument("--no-http", action="store_true", help="in process only")
    parser.add_argument("--quick", action="store_true", help="2,000 skus, 1 round, 3 s runs")
    parser.add_argument("--out", type=Path, default=None, help="the JSON result's path")
    args = parser.parse_args(argv)
    args.skus = args.skus or (2_000 if args.quick else 20_000)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.calls = args.calls or (2_000 if args.quick else 5_000)
    args.seconds = args.seconds or (3.0 if args.quick else 15.0)
    results: dict[str, Any] = {
        "benchmark": "promise_listing",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "parameters": vars(args) | {"out": None},
        "load_before": os.getloadavg(),
    }
    results["in_process"] = in_process(args)
    if not args.no_http:
        results["http"] = over_http(args)
    results["load_after"] = os.getloadavg()
    report(results)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS / f"promise_listing-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(line(results)).decode())
    print(f"load average {results['load_before'][0]:.1f} -> {results['load_after'][0]:.1f}")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
