"""The promise table in process (docs/performance.md §17; engine/promise/table.py, docs/network.md
§9): the first build of every entry, and the bursts at the day's cut-offs. No Kafka.

1. **First build.** The built-in network (``workload.builtin.generate_network``: ``--stores``
   stores and 4 DCs, the first ``--regions`` of its 100 regions), ``--skus`` skus whose
   candidates are the locations with stock >= 1 in ``workload.builtin.stock_matrix`` (the
   long-tailed stock the benchmarks seed). Every sku is heard (``table.hear``), then one
   ``table.make`` of all of them at one instant (``--at``) is timed, ``--rounds`` times, each
   round with a fresh ``Maker`` (its JSON caches empty: what a starting process pays) and a
   fresh ``PromiseBook``; the same again with the maker of the last round (caches warm). The
   network's side (calendars, every location's options to every region, the timeline of their
   changes) is made before the clock starts and timed on its own. A first call before the
   rounds loads the numba kernels (from the on-disk cache when it has them); a subprocess with
   an empty ``NUMBA_CACHE_DIR`` times their compilation from scratch.
2. **Cut-off bursts.** From the book of the last round: the soonest wake-up
   (``book.next_wake()``, the earliest ``valid_until`` + 1 s), ``table.wake`` at it, and then
   at each next wake-up, ``--cutoffs`` in all: per instant how many entries were due, how many
   changed (what would be published), how long the wake took and the bytes, so the message
   rate of publishing the burst within 1 s.
   With ``--kafka`` (off by default: the rest needs no broker), the first burst is also produced
   to a fresh topic of a broker with the flow's producer settings and flushed, timed.
3. **The demo's network** (``omnistock demo``: 20 stores, its 100 regions, 200 skus): the
   same, for its entry size and message count per cut-off.

Each ``make`` is split by timing the calls it makes (wrapped for the run): the network's side
(``Maker.options`` at a new instant, ``Maker.timeline``), the numba kernel
(``table_kernels.entries``), the digests and each changed entry's JSON (the rest of
``Maker.compute``: ``table_kernels.rows_of``, the distinct rows' JSON, ``table_kernels.gather``),
and the book's bookkeeping (the rest of ``make``). Prints min/median/max over the rounds;
writes the figures as JSON (``--out``, default
``benchmarks/results/promise_table-<UTC timestamp>.json``).

    python -m benchmarks.promise_table [--skus 20000] [--regions 100] [--stores 50]
        [--rounds 3] [--at 2026-12-02T13:00:00Z] [--cutoffs 6] [--no-demo] [--no-compile]
        [--kafka]
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from benchmarks.harness.report import machine
from engine.promise import table
from engine.promise import table_kernels as tk
from engine.promise.network import load_network
from engine.timefmt import parse_instant
from workload.builtin import generate_network, sku_names, stock_matrix

RESULTS = Path(__file__).resolve().parent / "results"
AT = "2026-12-02T13:00:00Z"  # a Wednesday, 8 am in New York: the day's cut-offs all ahead


def network_of(stores: int, regions: int | None) -> Any:
    """The built-in network of ``stores`` stores (seed 7) with its first ``regions`` regions."""
    built = generate_network(stores=stores)
    if regions is not None:
        built["regions"] = built["regions"][:regions]
    return load_network(built)


def signals_of(maker: table.Maker, skus: int) -> tuple[list[str], list[table.Signal], float]:
    """The skus, their signals (every stocked location live; a sku stocked nowhere heard once
    with no candidate) and the mean share of locations a sku is stocked at."""
    ids = maker.location_ids
    stock = stock_matrix(len(ids), skus) >= 1
    names = sku_names(skus)
    signals: list[table.Signal] = [
        (names[s], ids[i], True) for s, i in zip(*np.nonzero(stock), strict=True)
    ]
    signals += [(names[s], ids[0], False) for s in np.flatnonzero(~stock.any(axis=1))]
    return names, signals, float(stock.mean())


class Parts:
    """Seconds spent in the calls a ``make`` makes, while ``watch`` is on: the maker's
    ``options`` and ``timeline`` (the network's side), the kernel ``table_kernels.entries``,
    and ``Maker.compute`` as a whole."""

    def __init__(self) -> None:
        self.network = 0.0
        self.kernel = 0.0
        self.compute = 0.0

    def reset(self) -> None:
        self.network = self.kernel = self.compute = 0.0

    def split(self, total: float) -> dict[str, float]:
        """``total`` (a make's seconds) in parts: network side, kernel, the entries (digests
        and JSON), bookkeeping."""
        return {
            "network_s": self.network,
            "kernel_s": self.kernel,
            "entries_json_s": self.compute - self.kernel - self.network,
            "book_s": total - self.compute,
        }

    @contextmanager
    def watch(self, maker: table.Maker) -> Iterator[None]:
        def timed(call: Callable[..., Any], part: str) -> Callable[..., Any]:
            def wrapper(*args: Any) -> Any:
                started = time.perf_counter()
                try:
                    return call(*args)
                finally:
                    setattr(self, part, getattr(self, part) + time.perf_counter() - started)

            return wrapper

        entries = tk.entries
        tk.entries = timed(entries, "kernel")  # type: ignore[assignment]
        maker.options = timed(maker.options, "network")  # type: ignore[method-assign]
        maker.timeline = timed(maker.timeline, "network")  # type: ignore[method-assign]
        maker.compute = timed(maker.compute, "compute")  # type: ignore[method-assign]
        try:
            yield
        finally:
            tk.entries = entries
            for name in ("options", "timeline", "compute"):
                delattr(maker, name)


def sizes(out: list[table.Publish]) -> dict[str, float]:
    found = [len(value) for _, _, value in out]
    return {
        "entries": len(found),
        "bytes": sum(found),
        "bytes_mean": statistics.fmean(found) if found else 0.0,
        "bytes_max": max(found, default=0),
    }


def network_side(maker: table.Maker, t: int) -> float:
    """Seconds to make the network's side at ``t``: calendars, options, timeline."""
    started = time.perf_counter()
    maker.tables(t)
    maker.options(t)
    maker.timeline(t)
    return time.perf_counter() - started


def timed_make(
    maker: table.Maker, names: list[str], signals: list[table.Signal], t: int, parts: Parts
) -> tuple[table.PromiseBook, list[table.Publish], float, dict[str, float]]:
    """A fresh book that hears ``signals``, then one timed ``make`` of every sku at ``t``."""
    book = table.PromiseBook()
    table.hear(book, signals, maker.index)
    gc.collect()
    parts.reset()
    with parts.watch(maker):
        started = time.perf_counter()
        out = table.make(book, maker, names, t)
        elapsed = time.perf_counter() - started
    return book, out, elapsed, parts.split(elapsed)


def book_memory(book: table.PromiseBook) -> dict[str, int]:
    """The book's pickled size (its snapshot) and the memory its objects hold once unpickled
    (``tracemalloc``: the blocks ``pickle.loads`` allocates; strings shared as in the original,
    through pickle's memo)."""
    blob = pickle.dumps(book, protocol=pickle.HIGHEST_PROTOCOL)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    copy = pickle.loads(blob)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del copy
    return {"pickled_bytes": len(blob), "tracemalloc_bytes": held}


def maker_memory(maker: table.Maker) -> dict[str, int]:
    """What the maker holds for the whole process: its arrays, its row registries (rows met,
    their keys, JSON and gather buffer) and its option JSON cache (values only)."""
    arrays = 0
    timeline = maker._timeline
    if timeline is not None:
        arrays += sum(a.nbytes for a in timeline[1:])
    options = maker._options
    if options is not None:
        arrays += options[1].nbytes + options[2].nbytes
    registries = maker._rows
    held = sum(
        r.keys.nbytes + r.slots.nbytes + r.pool.nbytes + r.pool_off.nbytes + r.buffer.nbytes
        for r in registries
    )
    return {
        "timeline_events": 0 if timeline is None else len(timeline[1]),
        "arrays_bytes": arrays,
        "rows_known": sum(r.count for r in registries),
        "rows_bytes": held,
        "option_json_entries": len(maker._option_json),
        "option_json_bytes": sum(len(v) for v in maker._option_json.values()),
    }


def first_build(
    stores: int, regions: int | None, skus: int, rounds: int, t: int
) -> tuple[dict[str, Any], table.PromiseBook, table.Maker]:
    """The first build's figures, and the book and maker of the last round."""
    network = network_of(stores, regions)
    warm_maker = table.Maker(network)
    started = time.perf_counter()
    warm_maker.compute(["warm-up"], [[0]], t)  # loads (or compiles) every kernel of the table
    warm_up = time.perf_counter() - started
    names, signals, share = signals_of(warm_maker, skus)
    parts = Parts()
    cold: list[float] = []
    cold_split: list[dict[str, float]] = []
    side: list[float] = []
    book = table.PromiseBook()
    maker = warm_maker
    out: list[table.Publish] = []
    for _ in range(rounds):
        maker = table.Maker(network)
        side.append(network_side(maker, t))
        book, out, elapsed, split = timed_make(maker, names, signals, t, parts)
        cold.append(elapsed)
        cold_split.append(split)
    warm: list[float] = []
    for _ in range(rounds):  # the same maker again: its JSON caches are full
        book, out, elapsed, _ = timed_make(maker, names, signals, t, parts)
        warm.append(elapsed)
    until = [orjson.loads(value)["valid_until"] for _, _, value in out]
    candidates = [len(table._indices(state[0])) for state in book.skus.values()]
    result: dict[str, Any] = {
        "locations": len(network.locations),
        "regions": len(network.regions),
        "levels": len(network.service_levels),
        "skus": skus,
        "at": table._instant(t),
        "stocked_share": share,
        "candidates_mean": statistics.fmean(candidates),
        "skus_without_candidates": sum(1 for c in candidates if c == 0),
        "warm_up_s": warm_up,
        "network_side_s": side,
        "make_s": cold,
        "make_warm_s": warm,
        "split": cold_split,
        "entries_per_s": [skus / s for s in cold],
        "entries_per_s_warm": [skus / s for s in warm],
        **sizes(out),
        "valid_until_null": sum(1 for u in until if u is None),
        "earliest_valid_until": min((u for u in until if u is not None), default=None),
        "book": book_memory(book),
        "maker": maker_memory(maker),
    }
    return result, book, maker


def cutoffs(
    book: table.PromiseBook, maker: table.Maker, count: int, kafka: bool = False
) -> list[dict[str, Any]]:
    """``count`` wake-ups in a row from the book's soonest: each one's burst; with ``kafka``,
    the first burst is also produced to a fresh topic (``publish``)."""
    parts = Parts()
    found: list[dict[str, Any]] = []
    for _ in range(count):
        wake = book.next_wake()
        if wake is None:
            break
        due = sum(1 for state in book.skus.values() if state[2] == wake)
        gc.collect()
        parts.reset()
        with parts.watch(maker):
            started = time.perf_counter()
            out = table.wake(book, maker, wake)
            elapsed = time.perf_counter() - started
        found.append(
            {
                "valid_until": table._instant(wake - 1),
                "wake": table._instant(wake),
                "due": due,
                **sizes(out),
                "wake_s": elapsed,
                **parts.split(elapsed),
            }
        )
        if kafka and len(found) == 1:
            from benchmarks.kafka_io import produce_burst  # noqa: PLC0415 - only with --kafka

            found[0]["publish"] = produce_burst([(sku, value) for _, sku, value in out])
    return found


COMPILE = """
import sys, time
started = time.perf_counter()
from engine.promise import table
from engine.promise.network import load_network
from workload.builtin import generate_network
network = load_network(generate_network(stores=4, regions=5))
imported = time.perf_counter()
table.Maker(network).compute(["warm-up"], [[0, 1]], int(sys.argv[1]))
print(imported - started, time.perf_counter() - imported)
"""


def compile_from_scratch(t: int) -> dict[str, float] | None:
    """A new process with an empty numba cache: its imports and its first ``compute``
    (compiling every kernel of the table and of the calendars), in seconds."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        done = subprocess.run(
            [sys.executable, "-c", COMPILE, str(t)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return None
    imported, first = (float(x) for x in done.stdout.split())
    return {"imports_s": imported, "first_compute_s": first}


def _mmm(values: list[float], scale: float = 1.0, fmt: str = ".2f") -> str:
    ordered = sorted(v * scale for v in values)
    return f"{statistics.median(ordered):{fmt}} (min {ordered[0]:{fmt}}, max {ordered[-1]:{fmt}})"


def report_build(name: str, r: dict[str, Any]) -> None:
    print(
        f"{name}: {r['skus']:,} skus x {r['regions']} regions x {r['locations']} locations "
        f"({r['levels']} levels), at {r['at']}"
    )
    print(
        f"  candidates: stock >= 1 at {r['stocked_share']:.1%} of the locations, "
        f"{r['candidates_mean']:.2f} a sku on average ({r['skus_without_candidates']:,} skus "
        "stocked nowhere)"
    )
    print(
        f"  warm-up (first compute, numba kernels from the cache): {r['warm_up_s']:.2f} s; "
        f"the network's side per new maker: {_mmm(r['network_side_s'])} s"
    )
    print(
        f"  make, fresh maker: {_mmm(r['make_s'])} s = "
        f"{_mmm(r['entries_per_s'], fmt=',.0f')} entries/s, "
        f"{statistics.median(r['make_s']) / r['skus'] * 1e6:.0f} us a sku"
    )
    split = {k: statistics.median(s[k] for s in r["split"]) for k in r["split"][0]}
    total = statistics.median(r["make_s"])
    print(
        "    median split: "
        + ", ".join(f"{k[:-2]} {v:.3f} s ({v / total:.0%})" for k, v in split.items())
    )
    print(
        f"  make, same maker again (JSON caches warm): {_mmm(r['make_warm_s'])} s = "
        f"{_mmm(r['entries_per_s_warm'], fmt=',.0f')} entries/s"
    )
    print(
        f"  entries: {r['entries']:,}, {r['bytes'] / 2**20:,.1f} MiB, "
        f"{r['bytes_mean']:,.0f} bytes mean, {r['bytes_max']:,} max; "
        f"{r['valid_until_null']:,} with valid_until null; earliest valid_until "
        f"{r['earliest_valid_until']}"
    )
    book, maker = r["book"], r["maker"]
    print(
        f"  PromiseBook: {book['tracemalloc_bytes'] / 2**20:.2f} MiB held (tracemalloc of its "
        f"unpickling), {book['tracemalloc_bytes'] / r['skus']:.0f} bytes a sku; pickled "
        f"{book['pickled_bytes'] / 2**20:.2f} MiB"
    )
    print(
        f"  Maker: timeline of {maker['timeline_events']:,} changes, arrays "
        f"{maker['arrays_bytes'] / 2**20:.1f} MiB, rows met {maker['rows_known']:,} "
        f"({maker['rows_bytes'] / 2**20:.1f} MiB with their JSON and the gather buffer), "
        f"option JSON {maker['option_json_entries']:,}"
    )


def report_cutoffs(bursts: list[dict[str, Any]]) -> None:
    print(
        "  cut-offs: valid_until | due | changed (entries/s if published within 1 s) | MiB | "
        "wake ms = network + kernel + digests and JSON + book"
    )
    for b in bursts:
        print(
            f"    {b['valid_until']} | {b['due']:>6,} | {b['entries']:>6,} | "
            f"{b['bytes'] / 2**20:7.1f} | {b['wake_s'] * 1e3:7.0f} = "
            f"{b['network_s'] * 1e3:.0f} + {b['kernel_s'] * 1e3:.0f} + "
            f"{b['entries_json_s'] * 1e3:.0f} + {b['book_s'] * 1e3:.0f}"
            f"  ({b['bytes_mean']:,.0f} bytes mean)"
        )
        if "publish" in b:
            p = b["publish"]
            print(
                f"      produced to Kafka (lz4, linger 5 ms) and flushed in {p['flushed_s']:.2f} s"
                f" ({p['entries_per_s']:,.0f} entries/s, {p['mib_per_s']:,.0f} MiB/s); "
                f"produce calls alone {p['produce_s']:.2f} s"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--regions", type=int, default=None, help="the first N (default all)")
    parser.add_argument("--stores", type=int, default=50, help="stores (4 DCs besides)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--at", default=AT, help=f"the build's instant (default {AT})")
    parser.add_argument("--cutoffs", type=int, default=6, help="wake-ups in a row (default 6)")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo's network")
    parser.add_argument("--no-compile", action="store_true", help="skip the cold compile")
    parser.add_argument(
        "--kafka",
        action="store_true",
        help="also produce the first cut-off's burst to a broker (OMNISTOCK_BOOTSTRAP, else "
        "docker/kafka-local.sh) and time it",
    )
    parser.add_argument("--out", type=Path, default=None, help="the JSON result's path")
    args = parser.parse_args(argv)
    t = table.seconds(parse_instant(args.at))

    results: dict[str, Any] = {"machine": machine(), "parameters": vars(args) | {"out": None}}
    results["load_before"] = os.getloadavg()
    if not args.no_compile:
        results["compile"] = compiled = compile_from_scratch(t)
        if compiled is not None:
            print(
                f"numba from scratch (empty NUMBA_CACHE_DIR, new process): imports "
                f"{compiled['imports_s']:.1f} s, first compute {compiled['first_compute_s']:.1f} s"
            )
    build, book, maker = first_build(args.stores, args.regions, args.skus, args.rounds, t)
    report_build("first build", build)
    results["first_build"] = build
    results["cutoffs"] = bursts = cutoffs(book, maker, args.cutoffs, args.kafka)
    report_cutoffs(bursts)
    del book, maker
    if not args.no_demo:
        demo, book, maker = first_build(20, None, 200, args.rounds, t)
        report_build("demo network (omnistock demo)", demo)
        results["demo"] = demo
        results["demo_cutoffs"] = demo_bursts = cutoffs(book, maker, args.cutoffs)
        report_cutoffs(demo_bursts)
    results["load_after"] = os.getloadavg()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS / f"promise_table-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(f"load average {results['load_before'][0]:.1f} -> {results['load_after'][0]:.1f}")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
