"""Before and after: the whole dataflow of two checkouts over one log, in alternate rounds.

A change's cost on the ingest path, measured where the machine's swings hit both sides alike:
one log is produced once (``benchmarks.ingest_stages``' workload), then the ``flow-publish``
stage (``omnistock run``'s dataflow, 1 worker, every message produced) runs from each checkout
in turn, each in a process of its own with that checkout's installed code (its ``.venv``).
Prints each round, the medians and the ratio after/before.

    python -m benchmarks.ingest_ab --before ../before [--events 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from benchmarks.ingest_stages import stage_process
from benchmarks.kafka_io import PARTITIONS, broker, produce, run_topics
from dataflows.kafka import ensure_topics
from workload import WorkloadParams, generate, network_workload

HERE = Path(__file__).resolve().parents[1]


def stage(checkout: Path, bootstrap: str, prefix: str, events: int) -> float:
    """Events/s of the whole dataflow, run from ``checkout`` with its own interpreter."""
    python = str(checkout / ".venv" / "bin" / "python")
    figures = stage_process("flow-publish", bootstrap, prefix, events, python, checkout)
    return float(figures["events_per_s"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    bootstrap = broker()
    topics = run_topics("ab")
    ensure_topics(bootstrap, topics, PARTITIONS)
    params = WorkloadParams(
        events=args.events, seed=3, start_ms=int(time.time() * 1000) + 3_600_000
    )
    params, catalogue = network_workload(params, stores=50, skus=20_000)
    produce(bootstrap, topics.events, list(generate(params, catalogue)))
    sides = {"before": args.before.resolve(), "after": HERE}
    rates: dict[str, list[float]] = {side: [] for side in sides}
    for round_ in range(1, args.rounds + 1):
        for side, checkout in sides.items():
            rates[side].append(stage(checkout, bootstrap, topics.prefix, args.events))
        print(
            f"round {round_}: before {rates['before'][-1]:,.0f}, after {rates['after'][-1]:,.0f}"
            " events/s",
            file=sys.stderr,
        )
    before, after = (statistics.median(rates[side]) for side in sides)
    ratios = [a / b for a, b in zip(rates["after"], rates["before"], strict=True)]
    print(f"before {before:,.0f} events/s, after {after:,.0f} events/s")
    print(f"after/before: median of rounds {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
