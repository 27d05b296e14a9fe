"""Replay throughput against its parse ceiling, in one run.

Generates (once, cached under ``benchmarks/results/cache/``) a realistic event log, then measures
in rounds:

- the ceiling: ``orjson.loads`` over every line of the file, read as ``replay`` reads it;
- ``omnistock replay LOG`` end to end, as a separate process (start-up, reading, folding,
  expiry, writing every position), timed from outside.

Prints the best events/s of each (one after the other), the ratio (the min, median and max of
rounds where both run side by side, one per core, so that the machine's swings hit both alike),
and the in-process fold rate ``replay`` reports. Before timing, it checks the answer: replay must
account for every line of the log.

The log is the project's workload (``workload``: numbered ids, or ``--network-stores N`` of the
built-in network), or with ``--short`` one of short lines with integer epoch-ms ``ts``
(``short_lines``: 100 locations x 5,000 skus), where the fixed cost of each line weighs most.

    python -m benchmarks.replay_throughput [--events 1000000] [--rounds 3]
        [--network-stores 50 | --short]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from workload import (
    CASE_PACKS,
    MODEL_VERSION,
    NETWORK_SEED,
    STORE_ZIPF,
    ZIPF_EXPONENT,
    Catalogue,
    WorkloadParams,
    describe,
    network_workload,
    write_log,
)
from workload.draws import draws, event_clock, zipf

CACHE = Path(__file__).resolve().parent / "results" / "cache"

# The short-line workload (``short_lines``); bump SHORT_VERSION when what it writes changes.
SHORT_VERSION = 1
SHORT_LOCATIONS, SHORT_SKUS = 100, 5_000
SHORT_MIX = (
    ("sale", 0.55),
    ("receipt", 0.15),
    ("reserve", 0.12),
    ("release", 0.10),
    ("adjust", 0.08),
)
SHORT_DUP_RATE = 0.005


def workload(
    events: int, seed: int, network_stores: int | None = None
) -> tuple[WorkloadParams, Catalogue | None]:
    """The log's parameters: numbered ids, or the built-in network's ``network_stores``."""
    params = WorkloadParams(events=events, seed=seed)
    if network_stores is None:
        return params, None
    return network_workload(params, stores=network_stores)


def event_log(events: int, seed: int, network_stores: int | None = None) -> Path:
    """The generated log for these parameters, made once."""
    CACHE.mkdir(parents=True, exist_ok=True)
    network = "" if network_stores is None else f"net{network_stores}-"
    path = CACHE / f"events-v{MODEL_VERSION}-{network}{events}-{seed}.jsonl"
    if not path.exists():
        started = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        write_log(tmp, *workload(events, seed, network_stores))
        tmp.rename(path)
        print(f"generated {path.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


def short_lines(events: int, seed: int) -> Iterator[bytes]:
    """A log of short lines with integer epoch-ms ``ts`` (docs/events.md §1.3), such as
    ``{"event_id":"e123","type":"sale","location_id":"S12","sku":"K345","qty":1,"ts":1795000000123}``.

    ``SHORT_LOCATIONS`` x ``SHORT_SKUS``, skus by Zipf (1.1) popularity and locations by Zipf
    (0.8), the event clock of the project's workload (200 events/s, 2 % up to 3 s late);
    ``SHORT_MIX`` of sales (1 unit, now and then 2-3), receipts (case packs), reserves (1-2
    units, the default ttl), releases of a reservation held (one of the last 200 held and not
    yet released) and adjustments (+-1-3). The log shadows each position's free stock: sales and
    reserves are drawn again (twice at most) where it shows none, and a reserve it believes
    refused is never released. ``SHORT_DUP_RATE`` of the lines repeat one of the last thousand
    byte for byte. Deterministic for a seed.
    """
    gen = np.random.default_rng(seed)
    sku = draws(gen, zipf(SHORT_SKUS, ZIPF_EXPONENT), np.arange(SHORT_SKUS))
    where = draws(gen, zipf(SHORT_LOCATIONS, STORE_ZIPF), gen.permutation(SHORT_LOCATIONS))
    kinds = [kind for kind, _ in SHORT_MIX]
    kind = draws(gen, np.array([weight for _, weight in SHORT_MIX]))
    unit = draws(gen, np.ones(100))  # a percentile, for the small choices below
    clock = event_clock(gen, WorkloadParams().start_ms, WorkloadParams().events_per_s)
    free: dict[tuple[int, int], int] = {}  # what the log believes on hand and not held
    held: list[tuple[int, int, int, int]] = []  # (location, sku, number, qty) not released
    recent: list[bytes] = []
    reservations = 0
    for n in range(1, events + 1):
        if recent and unit() < SHORT_DUP_RATE * 100:
            line = recent[unit() * len(recent) // 100]
            yield line
            continue
        ts, what, p = clock(), kinds[kind()], unit()
        if what == "release" and held:  # one of the last 200 reserves still held
            loc, k, rid, qty = held.pop(len(held) - 1 - p * min(len(held), 200) // 100)
            free[loc, k] += qty
            line = (
                f'{{"event_id":"e{n}","type":"release","location_id":"S{loc}","sku":"K{k}",'
                f'"reservation_id":"r{rid}","ts":{ts}}}'
            ).encode()
        else:
            if what == "release":  # nothing held to name: a reserve instead
                what = "reserve"
            qty = (1 if p < 90 else 2 + p % 2) if what == "sale" else 1 + (p >= 80)
            loc, k = where(), sku()
            for _ in range(2):  # shoppers mostly pick what shows in stock
                if what not in ("sale", "reserve") or free.get((loc, k), 0) >= qty:
                    break
                loc, k = where(), sku()
            have = free.get((loc, k), 0)
            head = f'{{"event_id":"e{n}","type":"{what}","location_id":"S{loc}","sku":"K{k}",'
            if what == "sale":
                free[loc, k] = have - qty
                tail = f'"qty":{qty},"ts":{ts}}}'
            elif what == "receipt":
                qty = CASE_PACKS[p % len(CASE_PACKS)]
                free[loc, k] = have + qty
                tail = f'"qty":{qty},"ts":{ts}}}'
            elif what == "adjust":
                delta = (1 + p % 3) * (1 if p < 30 else -1)
                free[loc, k] = have + delta
                tail = f'"delta":{delta},"ts":{ts}}}'
            else:  # a reserve: held if the stock is there (else refused, and never released)
                reservations += 1
                if have >= qty:
                    free[loc, k] = have - qty
                    held.append((loc, k, reservations, qty))
                    if len(held) > 2000:  # the oldest have long expired: abandoned
                        del held[:1000]
                tail = f'"reservation_id":"r{reservations}","qty":{qty},"ts":{ts}}}'
            line = (head + tail).encode()
        recent.append(line)
        if len(recent) > 1000:
            del recent[:500]
        yield line


def short_log(events: int, seed: int) -> Path:
    """The short-line log for these parameters, made once."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"short-v{SHORT_VERSION}-{events}-{seed}.jsonl"
    if not path.exists():
        started = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        lines = short_lines(events, seed)
        with tmp.open("wb") as out:
            while chunk := list(islice(lines, 8192)):
                out.write(b"\n".join(chunk) + b"\n")
        tmp.rename(path)
        print(f"generated {path.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


def parse_ceiling(path: Path) -> tuple[int, float]:
    """Lines and seconds for ``orjson.loads`` of every line, streamed from the file."""
    loads = orjson.loads
    error = orjson.JSONDecodeError
    started = time.perf_counter()
    count = 0
    with path.open("rb", buffering=1 << 20) as lines:
        for line in lines:
            try:  # noqa: SIM105 - suppress() would add a call per line to the ceiling
                loads(line)
            except error:  # the log's few malformed lines: parsed (and refused) all the same
                pass
            count += 1
    return count, time.perf_counter() - started


def replay_command(path: Path) -> list[str]:
    return [sys.executable, "-m", "omnistock.cli", "replay", str(path)]


def summary_figures(summary: str) -> dict[str, float]:
    """The figures of ``replay``'s summary on stderr."""
    return {
        name: float(value.replace(",", ""))
        for value, name in re.findall(
            r"([\d.,]+) (events applied|duplicates|dead letters|"
            r"positions|s|events/s)\b",
            summary,
        )
    }


def replay_once(path: Path) -> tuple[float, dict[str, float]]:
    """Wall seconds of ``omnistock replay`` end to end, and the figures of its summary."""
    started = time.perf_counter()
    done = subprocess.run(
        replay_command(path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True
    )
    return time.perf_counter() - started, summary_figures(done.stderr.decode())


def side_by_side(path: Path, lines: int) -> tuple[float, float]:
    """Replay and the ceiling at the same time, each on its own core: events/s of the replay,
    and lines/s of ``orjson.loads`` looping over the file for as long as the replay runs.

    The machine's speed swings by up to 2x from minute to minute; side by side, both run
    under the same conditions, which makes their ratio steady where rates taken one after the
    other are not.
    """
    loads, error = orjson.loads, orjson.JSONDecodeError
    started = time.perf_counter()
    replay = subprocess.Popen(
        replay_command(path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    parsed = 0
    clock = time.perf_counter()
    while replay.poll() is None:
        with path.open("rb", buffering=1 << 20) as file:
            for line in file:
                try:  # noqa: SIM105 - as in parse_ceiling
                    loads(line)
                except error:
                    pass
                parsed += 1
                if not parsed % 20_000 and replay.poll() is not None:
                    break
    ceiling = parsed / (time.perf_counter() - clock)
    if replay.wait() != 0:
        raise SystemExit("replay failed")
    return lines / (time.perf_counter() - started), ceiling


def measure(
    events: int,
    seed: int = 7,
    rounds: int = 3,
    network_stores: int | None = None,
    short: bool = False,
) -> dict[str, Any]:
    """Checks the answer, then ``rounds`` of each: the ceiling and replay one after the other
    (the best of each: the absolute figures), and side by side (the ratio: the median of the
    rounds, their min and max beside it). ``network_stores``: the workload on that many
    stores of the built-in network (else the numbered catalogue); ``short``: the short-line log
    of ``short_lines`` instead. Its parameters are under ``workload``."""
    path = short_log(events, seed) if short else event_log(events, seed, network_stores)
    lines, _ = parse_ceiling(path)
    _, figures = replay_once(path)
    accounted = figures["events applied"] + figures["duplicates"] + figures["dead letters"]
    if accounted != lines:
        raise SystemExit(f"replay accounted for {accounted:.0f} of {lines} lines")

    best_ceiling = best_replay = fold = 0.0
    ratios: list[float] = []
    for round_ in range(1, rounds + 1):
        ceiling = lines / parse_ceiling(path)[1]
        wall, figures = replay_once(path)
        rate = lines / wall
        best_ceiling, best_replay = max(best_ceiling, ceiling), max(best_replay, rate)
        fold = max(fold, figures["events/s"])
        paired, paired_ceiling = side_by_side(path, lines)
        ratios.append(paired / paired_ceiling)
        print(
            f"round {round_}: parse ceiling {ceiling:,.0f} lines/s, replay end to end "
            f"{rate:,.0f} events/s; side by side {paired:,.0f} and {paired_ceiling:,.0f}: "
            f"{ratios[-1]:.2f}",
            file=sys.stderr,
        )
    return {
        "events_per_s": best_replay,
        "parse_ceiling_per_s": best_ceiling,
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "ratios": ratios,
        "ratio_of_bests": best_replay / best_ceiling,
        "fold_events_per_s": fold,
        "lines": lines,
        "megabytes": path.stat().st_size / 1e6,
        "positions": figures["positions"],
        "duplicates": figures["duplicates"],
        "dead_letters": figures["dead letters"],
        "rounds": rounds,
        "workload": short_workload(events, seed)
        if short
        else describe(
            workload(events, seed, network_stores)[0],
            None if network_stores is None else NETWORK_SEED,
        ),
    }


def short_workload(events: int, seed: int) -> dict[str, Any]:
    """The short-line log's parameters, for a results file."""
    return {
        "catalogue": "short",
        "version": SHORT_VERSION,
        "events": events,
        "seed": seed,
        "locations": SHORT_LOCATIONS,
        "skus": SHORT_SKUS,
        "mix": dict(SHORT_MIX),
        "dup_rate": SHORT_DUP_RATE,
        "ts_format": "epoch_ms",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    logs = parser.add_mutually_exclusive_group()
    logs.add_argument(
        "--network-stores", type=int, default=None, help="the built-in network's N stores"
    )
    logs.add_argument(
        "--short",
        action="store_true",
        help="short lines with integer epoch-ms ts, 100 locations x 5,000 skus",
    )
    args = parser.parse_args(argv)

    r = measure(args.events, args.seed, args.rounds, args.network_stores, args.short)
    print(
        f"log: {r['lines']:,} lines, {r['megabytes']:.0f} MB, {r['positions']:,.0f} positions, "
        f"{r['duplicates']:,.0f} duplicates, {r['dead_letters']:,.0f} dead letters; "
        f"best of {args.rounds} rounds; the ratio: the median of {args.rounds} side by side"
    )
    print(f"orjson.loads ceiling      {r['parse_ceiling_per_s']:>12,.0f} lines/s")
    print(
        f"replay end to end         {r['events_per_s']:>12,.0f} events/s "
        f"({r['ratio']:.2f} of the ceiling; targets 0.25 and 250,000)"
    )
    print(
        f"side by side, {args.rounds} rounds  min {r['ratio_min']:.2f}, median "
        f"{r['ratio']:.2f}, max {r['ratio_max']:.2f} "
        f"({', '.join(f'{x:.3f}' for x in r['ratios'])})"
    )
    print(f"replay fold (in process)  {r['fold_events_per_s']:>12,.0f} events/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
