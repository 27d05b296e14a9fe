"""What the promise table costs the dataflow: the same log folded with and without it.

The log is the project's workload on the built-in network (50 stores, 4 DCs, 20,000 skus,
100 regions), read from memory by one Bytewax worker (``TestingSource``, batches of 1,000 as
the Kafka source's) into a sink that counts: no broker, so the figure is the dataflow's own
work. Rounds alternate the two flows, each in a fresh process; the ratio is the median of the
rounds' own ratios (the machine's speed swings from minute to minute). The table's side also
reports how many entries it published and their bytes.

    python -m benchmarks.promise_cost [--events 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any


def _one(events: int, table: bool) -> dict[str, Any]:
    from bytewax.outputs import DynamicSink, StatelessSinkPartition  # noqa: PLC0415
    from bytewax.testing import TestingSource, run_main  # noqa: PLC0415

    from dataflows.flow import Incoming, build_flow  # noqa: PLC0415
    from engine.book import EngineConfig  # noqa: PLC0415
    from engine.promise.network import load_network  # noqa: PLC0415
    from engine.promise.table import Maker  # noqa: PLC0415
    from workload import WorkloadParams, generate  # noqa: PLC0415
    from workload.builtin import generate_network  # noqa: PLC0415
    from workload.network import network_workload  # noqa: PLC0415

    params, catalogue = network_workload(
        WorkloadParams(events=events, seed=17, start_ms=int(time.time() * 1000))
    )
    lines = list(generate(params, catalogue))
    items = [Incoming(line, f"log:{i}") for i, line in enumerate(lines, 1)]
    maker = Maker(load_network(generate_network(stores=50))) if table else None
    if maker is not None:
        maker.compute(["warm-up"], [[0]], int(time.time()))  # compile (or load) the kernels first
    counts = {"messages": 0, "promises": 0, "promise_bytes": 0}

    class Count(StatelessSinkPartition[Any]):
        def write_batch(self, batch: list[Any]) -> None:
            for _, messages in batch:
                for topic, _, value in messages:
                    counts["messages"] += 1
                    if topic == "promises":
                        counts["promises"] += 1
                        counts["promise_bytes"] += len(value)

    class Sink(DynamicSink[Any]):
        def build(self, step_id: str, worker_index: int, worker_count: int) -> Count:
            return Count()

    config = EngineConfig(max_future_s=10**9)
    flow = build_flow(TestingSource(items, batch_size=1000), Sink(), config, maker=maker)
    started = time.perf_counter()
    cpu = time.process_time()
    run_main(flow)  # type: ignore[no-untyped-call]
    wall = time.perf_counter() - started
    return {
        "events": len(lines),
        "seconds": wall,
        "cpu_s": time.process_time() - cpu,
        "events_per_s": len(lines) / wall,
        **counts,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--one", choices=["plain", "table"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.events, args.one == "table")))
        return 0
    rounds: list[dict[str, Any]] = []
    for n in range(args.rounds):
        pair = {}
        for side in ("plain", "table") if n % 2 == 0 else ("table", "plain"):
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.promise_cost",
                    "--events",
                    str(args.events),
                    "--one",
                    side,
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            pair[side] = json.loads(out.strip().splitlines()[-1])
        pair["ratio"] = pair["plain"]["events_per_s"] / pair["table"]["events_per_s"]
        rounds.append(pair)
        print(
            f"round {n + 1}: without {pair['plain']['events_per_s']:,.0f} events/s, with the "
            f"table {pair['table']['events_per_s']:,.0f} events/s ({pair['ratio']:.2f} x the "
            f"time); {pair['table']['promises']:,} entries, "
            f"{pair['table']['promise_bytes'] / 1e6:,.1f} MB",
            flush=True,
        )
    ratios = sorted(r["ratio"] for r in rounds)
    summary = {
        "events": args.events,
        "without_events_per_s": statistics.median(r["plain"]["events_per_s"] for r in rounds),
        "with_events_per_s": statistics.median(r["table"]["events_per_s"] for r in rounds),
        "time_ratio": {"min": ratios[0], "median": statistics.median(ratios), "max": ratios[-1]},
        "rounds": rounds,
    }
    print(
        f"the table costs the fold {summary['time_ratio']['median']:.2f} x the time "
        f"(rounds {ratios[0]:.2f}-{ratios[-1]:.2f})"
    )
    print(json.dumps({k: v for k, v in summary.items() if k != "rounds"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
