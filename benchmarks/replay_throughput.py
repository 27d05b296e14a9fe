"""Replay throughput against its parse ceiling, in one run.

Generates (once, cached under ``benchmarks/results/cache/``) a realistic event log, then measures
in rounds:

- the ceiling: ``orjson.loads`` over every line of the file, read as ``replay`` reads it;
- ``omnistock replay LOG`` end to end, as a separate process (start-up, reading, folding,
  expiry, writing every position), timed from outside.

Prints the best events/s of each (one after the other), the ratio (the median of rounds where
both run side by side, one per core, so that the machine's swings hit both alike), and the
in-process fold rate ``replay`` reports. Before timing, it checks the answer: replay must
account for every line of the log.

    python -m benchmarks.replay_throughput [--events 1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from workload import (
    MODEL_VERSION,
    NETWORK_SEED,
    Catalogue,
    WorkloadParams,
    describe,
    network_workload,
    write_log,
)

CACHE = Path(__file__).resolve().parent / "results" / "cache"


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
    events: int, seed: int = 7, rounds: int = 3, network_stores: int | None = None
) -> dict[str, Any]:
    """Checks the answer, then ``rounds`` of each: the ceiling and replay one after the other
    (the best of each: the absolute figures), and side by side (the median ratio).
    ``network_stores``: the workload on that many stores of the built-in network (else the
    numbered catalogue); its parameters are under ``workload``."""
    path = event_log(events, seed, network_stores)
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
        "ratio_of_bests": best_replay / best_ceiling,
        "fold_events_per_s": fold,
        "lines": lines,
        "megabytes": path.stat().st_size / 1e6,
        "positions": figures["positions"],
        "duplicates": figures["duplicates"],
        "dead_letters": figures["dead letters"],
        "rounds": rounds,
        "workload": describe(
            workload(events, seed, network_stores)[0],
            None if network_stores is None else NETWORK_SEED,
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--network-stores", type=int, default=None, help="the built-in network's N stores"
    )
    args = parser.parse_args(argv)

    r = measure(args.events, args.seed, args.rounds, args.network_stores)
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
    print(f"replay fold (in process)  {r['fold_events_per_s']:>12,.0f} events/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
