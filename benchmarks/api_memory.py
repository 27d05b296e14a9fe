"""Memory per position of the API (issue #19: at most 200 B per position in the embedded API,
its event id included).

Two figures, each measured in a fresh child process (so one's garbage and tracemalloc's own
tables never count in the other's RSS):

(a) **The read model alone** (``api.readmodel.ReadModel``), filled the way both backends fill
    it: ``ReadModel.take("atp", json)`` with realistic published positions. Per location, an
    engine (``engine.replay.Replay`` under the default policy: channels ``web``, ``app``,
    ``call_centre``, ``pos``) folds a receipt for every sku, then sales (a fifth of the skus),
    reservations (a tenth), expected supply (3 %) and safety stock (5 %), with event times
    milliseconds apart; each position's final record (``Replay.records``: ``Position.wire``,
    what ``omnistock.atp`` carries) is encoded by msgspec and taken. The engine is dropped
    before the next location, so what stays is the read model's. ``tracemalloc``: what
    Python and numpy allocated and still hold, after ``gc.collect()``.
(b) **A whole embedded API's engine and read model**: ``api.backends.embedded.EmbeddedBackend``
    (what ``omnistock serve`` without ``--bootstrap`` builds: the dataflow of ``omnistock
    run`` in a thread of this process, under the default settings and policy), fed N receipt
    events, each its own position and its own ``event_id`` (32 hex digits, as long as the
    API's own), through ``EmbeddedBackend.load`` in batches of 10,000 (``POST /v1/events``'s
    path: every event acknowledged once applied and published into the read model). Measured
    twice: ``tracemalloc`` (as (a)), and in another child without it, the RSS growth
    (``/proc/self/statm``, after ``gc.collect()``; allocator slack and the dataflow's native
    buffers included), both from a warmed-up, started backend to the end of the feed.

Prints bytes per position for both, against the goal (<= 200 B for (b)), and writes the JSON to
``benchmarks/results/api_memory-<UTC timestamp>.json`` (``--out``).

    python -m benchmarks.api_memory [--positions 1000000] [--locations 100] [--part all]
        [--meter both] [--label before] [--out FILE]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import msgspec
import orjson

RESULTS: Final = Path(__file__).resolve().parent / "results"
GOAL_EMBEDDED_B: Final = 200  # issue #19: per position, its event id included
GOAL_MODEL_B: Final = 60  # the read model's share of it
BATCH: Final = 10_000
CHILDREN: Final = {
    "model": ("model", True),
    "model_rss": ("model", False),
    "embedded": ("embedded", True),
    "embedded_rss": ("embedded", False),
}


def rss_bytes() -> int:
    """The process's resident set now (not its peak)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Meter:
    """Retained memory from ``start`` to ``stop``: tracemalloc's, or the RSS's."""

    def __init__(self, trace: bool) -> None:
        self.trace = trace
        self.base = 0

    def now(self) -> int:
        gc.collect()
        return tracemalloc.get_traced_memory()[0] if self.trace else rss_bytes()

    def start(self) -> None:
        gc.collect()
        if self.trace:
            tracemalloc.start()
        self.base = self.now()

    def stop(self) -> int:
        grown = self.now() - self.base
        if self.trace:
            tracemalloc.stop()
        return grown


# -- (a) the read model alone ---------------------------------------------------------------


def location_lines(location_id: str, skus: int, rng: random.Random, t0_ms: int) -> list[bytes]:
    """One location's events: a receipt per sku, then sales, reservations, supply, safety
    stock on some of them (ids and times distinct)."""
    lines: list[bytes] = []
    n = 0

    def add(kind: str, sku: str, **fields: Any) -> None:
        nonlocal n
        n += 1
        lines.append(
            orjson.dumps(
                {
                    "event_id": f"{location_id}-{n}",
                    "type": kind,
                    "location_id": location_id,
                    "sku": sku,
                    "ts": t0_ms + n * 37,
                    **fields,
                }
            )
        )

    names = [f"SKU{k:06d}" for k in range(skus)]
    for sku in names:
        add("receipt", sku, qty=rng.randint(1, 400))
    for sku in names:
        draw = rng.random()
        if draw < 0.2:
            add("sale", sku, qty=rng.randint(1, 3))
        if draw < 0.1:
            add("reserve", sku, qty=1, reservation_id=f"r-{location_id}-{sku}", ttl_s=86_400)
        if draw < 0.03:
            eta = t0_ms + 5 * 86_400_000 + rng.randint(0, 86_400_000)
            add("inbound", sku, qty=rng.randint(6, 48), eta=eta, supply_id=f"PO-{sku}")
        if draw > 0.95:
            add("set_safety_stock", sku, qty=rng.randint(1, 4))
    return lines


def measure_model(positions: int, locations: int, trace: bool, seed: int) -> dict[str, Any]:
    from api.readmodel import ReadModel  # noqa: PLC0415
    from engine.book import EngineConfig  # noqa: PLC0415
    from engine.policy import DEFAULT_POLICY  # noqa: PLC0415
    from engine.replay import Replay  # noqa: PLC0415

    encode = msgspec.json.Encoder().encode
    config = EngineConfig().with_policy(DEFAULT_POLICY)
    rng = random.Random(seed)
    per_location = positions // locations
    t0_ms = int((datetime.now(UTC) - timedelta(days=1)).timestamp() * 1000)
    model = ReadModel()
    meter = Meter(trace)
    meter.start()
    started = time.perf_counter()
    taken = 0
    sample: bytes = b""
    for loc in range(locations):
        replay = Replay(config)
        replay.feed(location_lines(f"S{loc:04d}", per_location, rng, t0_ms))
        for record in replay.records():
            value = encode(record)
            model.take("atp", value)
            taken += 1
            if record.inbound and not sample:
                sample = value
        del replay
    seconds = time.perf_counter() - started
    grown = meter.stop()
    count = model.position_count
    if count != taken or count != per_location * locations:
        raise SystemExit(f"the read model holds {count} positions of {taken} taken")
    return {
        "positions": count,
        "locations": locations,
        "skus": per_location,
        "meter": "tracemalloc" if trace else "rss",
        "bytes": grown,
        "bytes_per_position": grown / count,
        "seconds": round(seconds, 2),
        "sample_record": sample.decode(),
    }


# -- (b) a whole embedded API ------------------------------------------------------------------


def receipts(positions: int, locations: int, seed: int, t0_ms: int) -> Iterator[list[bytes]]:
    """``positions`` receipts in batches of ``BATCH``, one per position, location-major, each
    with its own event id: made as they are sent, so that no big list is freed while the
    RSS is measured (its pages would be reused and hide as much growth)."""
    rng = random.Random(seed)
    per_location = positions // locations
    batch: list[bytes] = []
    n = 0
    for loc in range(locations):
        location_id = f"S{loc:04d}".encode()
        for k in range(per_location):
            n += 1
            batch.append(
                b'{"event_id":"%032x","type":"receipt","location_id":"%s","sku":"SKU%06d",'
                b'"ts":%d,"qty":%d}'
                % (rng.getrandbits(128), location_id, k, t0_ms + n, rng.randint(1, 400))
            )
            if len(batch) == BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def measure_embedded(positions: int, locations: int, trace: bool, seed: int) -> dict[str, Any]:
    from api.backends.embedded import EmbeddedBackend  # noqa: PLC0415
    from api.readmodel import ReadModel  # noqa: PLC0415
    from engine.policy import DEFAULT_POLICY  # noqa: PLC0415
    from omnistock.settings import Settings  # noqa: PLC0415

    settings = Settings()  # what serve runs with when nothing is set
    readmodel = ReadModel(window=timedelta(seconds=settings.dedup_window_s), promise_channel="web")
    backend = EmbeddedBackend(readmodel, settings.engine(DEFAULT_POLICY))
    backend.start()
    # the events are dated in the past hour, a millisecond apart (the flow refuses events
    # dated ahead of the wall clock)
    t0_ms = int(time.time() * 1000) - positions - 60_000
    warm = b'{"event_id":"warm-up","type":"receipt","location_id":"W","sku":"W","ts":%d,"qty":1}'
    try:
        if backend.load([warm % (t0_ms - 1)]):
            raise SystemExit("the warm-up receipt was refused")
        meter = Meter(trace)
        meter.start()
        started = time.perf_counter()
        refused = 0
        for batch in receipts(positions, locations, seed, t0_ms):
            refused += len(backend.load(batch))
        seconds = time.perf_counter() - started
        grown = meter.stop()
        count = readmodel.position_count - 1  # the warm-up's aside
        if refused or count != positions // locations * locations:
            raise SystemExit(f"{refused} events refused, {count} positions in the read model")
        probe = readmodel.position(f"S{locations - 1:04d}", f"SKU{positions // locations - 1:06d}")
        return {
            "positions": count,
            "locations": locations,
            "meter": "tracemalloc" if trace else "rss",
            "bytes": grown,
            "bytes_per_position": grown / count,
            "seconds": round(seconds, 2),
            "events_per_s": round(count / seconds),
            "probe": None if probe is None else msgspec.json.encode(probe).decode(),
        }
    finally:
        backend.stop()


# -- the parent ---------------------------------------------------------------------------------


def child(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """One measurement in a fresh interpreter; its JSON is its last line."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.api_memory",
        "--child",
        name,
        "--positions",
        str(args.positions),
        "--locations",
        str(args.locations),
        "--seed",
        str(args.seed),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not lines[-1].startswith("{"):
        raise SystemExit(f"{name} failed:\n{done.stdout}\n{done.stderr}")
    found: dict[str, Any] = orjson.loads(lines[-1])
    return found


def report(results: dict[str, Any]) -> None:
    p = results["parameters"]
    print(f"positions {p['positions']:,} over {p['locations']} locations ({results['label']})")
    rows = [
        ("model", f"(a) read model, tracemalloc (goal <= {GOAL_MODEL_B})"),
        ("model_rss", "(a) read model, RSS growth"),
        ("embedded", f"(b) embedded engine + read model, tracemalloc (goal <= {GOAL_EMBEDDED_B})"),
        ("embedded_rss", "(b) embedded engine + read model, RSS growth"),
    ]
    for key, title in rows:
        figures = results.get(key)
        if figures is not None:
            print(f"  {title:<72} {figures['bytes_per_position']:>8,.1f} B/position")
    embedded = results.get("embedded")
    if embedded is not None:
        verdict = "met" if embedded["bytes_per_position"] <= GOAL_EMBEDDED_B else "NOT met"
        print(f"  goal (b) <= {GOAL_EMBEDDED_B} B per position: {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--locations", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--part", choices=("all", "model", "embedded"), default="all", help="what to measure"
    )
    parser.add_argument(
        "--meter", choices=("both", "tracemalloc", "rss"), default="both", help="which figures"
    )
    parser.add_argument("--label", default="", help="a word for the JSON (before, after...)")
    parser.add_argument("--out", type=Path, default=None, help="the JSON result's path")
    parser.add_argument("--child", choices=tuple(CHILDREN), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        part, trace = CHILDREN[args.child]
        measure = measure_model if part == "model" else measure_embedded
        print(orjson.dumps(measure(args.positions, args.locations, trace, args.seed)).decode())
        sys.stdout.flush()
        os._exit(0)  # measured: no teardown of a million objects (nor of the flow's thread)
    started = datetime.now(UTC)
    results: dict[str, Any] = {
        "benchmark": "api_memory",
        "started_at": started.isoformat(timespec="seconds"),
        "label": args.label,
        "parameters": {"positions": args.positions, "locations": args.locations, "seed": args.seed},
        "goal_embedded_bytes_per_position": GOAL_EMBEDDED_B,
        "goal_model_bytes_per_position": GOAL_MODEL_B,
        "python": sys.version.split()[0],
    }
    out = args.out or RESULTS / f"api_memory-{started:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    for name, (part, trace) in CHILDREN.items():
        if args.part in ("all", part) and args.meter in ("both", "tracemalloc" if trace else "rss"):
            results[name] = child(name, args)
            out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")  # so far
    report(results)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
