"""Where the dataflow's time goes: the ingest path stage by stage, against its ceiling.

``benchmarks/ingest.py`` gives the dataflow's throughput and its ratio to a bare consumer. This
benchmark says why the ratio is what it is: on one topic, in one run, it times each prefix of
the path, so that every step's cost is a figure of its own.

=================  ============================================================================
stage              what runs
=================  ============================================================================
``ceiling``        the ceiling of ``benchmarks/ingest.py``: a bare consumer and ``orjson.loads``
``typed``          the same consumer, with the engine's parse (``engine.events.parse``: typed,
                   validated) instead of ``orjson.loads``
``flow-read``      Bytewax, 1 worker, the dataflow's source (``dataflows.kafka``); items dropped
``flow-parse``     and ``parse_and_route``: each event parsed and keyed by its book
``flow-fold``      and the fold (``LocationLogic``: the rules, encoding what to publish); the
                   outputs dropped
``flow-publish``   the whole dataflow, as ``omnistock run`` builds it (``build_flow`` and the
                   Kafka sink, no recovery)
=================  ============================================================================

Every stage runs in its own process (fresh state), clocked from its first message until
``--events`` have been read (a dataflow's later steps trail its source by a batch, under 1 %
here). A round runs every stage once; a stage's figure is the median of its rounds, and its
ratio the median of its rate over the same round's ceiling (this machine's speed swings up
to 2x from minute to minute). The log is ``benchmarks/ingest.py``'s: the workload on the
built-in network (50 stores, 20,000 skus).

    python -m benchmarks.ingest_stages [--events 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import bytewax.operators as op
import orjson
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.run import cli_main

from benchmarks.kafka_io import (
    MAX_FUTURE_S,
    PARTITIONS,
    broker,
    ceiling,
    produce,
    run_topics,
)
from dataflows import kafka
from dataflows.flow import LocationLogic, build_flow, parse_and_route
from dataflows.kafka import Topics, ensure_topics
from engine.book import EngineConfig
from engine.events import parse
from omnistock.cli import GC_THRESHOLDS  # a stage's process collects as every command does
from workload import WorkloadParams, generate, network_workload

STAGES = ("ceiling", "typed", "flow-read", "flow-parse", "flow-fold", "flow-publish")


def run_stage(stage: str, bootstrap: str, prefix: str, count: int) -> None:
    """Print the figures of one stage over the first ``count`` messages of ``prefix``'s events
    topic (``_figures``). A dataflow stage ends its process once its source read ``count``."""
    topics = Topics(prefix)
    if stage in ("ceiling", "typed"):
        rate = ceiling(bootstrap, topics.events, count, parse if stage == "typed" else orjson.loads)
        print(_figures(stage, rate, None))
        return
    flow = _flow(stage, bootstrap, topics, count)
    cli_main(flow, workers_per_process=1)  # type: ignore[no-untyped-call] # as `run` calls it
    raise SystemExit(f"{stage}: the dataflow ended before reading {count} events")


def _figures(stage: str, rate: float, cpu_share: float | None) -> str:
    """A stage's figures as the JSON line its process prints: events/s, and for a dataflow the
    worker thread's CPU time over the wall time (below 1: it waited, or lost its core)."""
    return orjson.dumps({"stage": stage, "events_per_s": rate, "cpu_share": cpu_share}).decode()


def _flow(stage: str, bootstrap: str, topics: Topics, count: int) -> Dataflow:
    events = Counting(kafka.source(bootstrap, topics), count, stage)
    config = EngineConfig(max_future_s=MAX_FUTURE_S)
    if stage == "flow-publish":
        outputs = Topics(f"{topics.prefix}out{uuid.uuid4().hex[:6]}.")
        ensure_topics(bootstrap, outputs, PARTITIONS)
        sink = kafka.PublishSink(bootstrap, outputs, flush_every_batch=False)
        return build_flow(events, sink, config)
    flow = Dataflow("stages")
    stream = op.input("events", flow, events)
    if stage == "flow-read":
        stream = op.flat_map_batch("drop", stream, lambda items: [])
    else:
        stream = op.flat_map_batch(
            "parse_and_route", stream, lambda i: parse_and_route(i, MAX_FUTURE_S)
        )
    if stage == "flow-fold":
        stream = op.stateful_batch("fold", stream, lambda state: LocationLogic(state, config))
    op.output("discard", stream, Drop())
    return flow


class Counting(FixedPartitionedSource[Any, Any]):
    """A dataflow's source that prints its rate and ends the process once it read ``count``."""

    def __init__(self, inner: FixedPartitionedSource[Any, Any], count: int, stage: str) -> None:
        self.inner, self.count, self.stage = inner, count, stage
        self.seen = 0
        self.started = self.cpu = 0.0

    def list_parts(self) -> list[str]:
        return list(self.inner.list_parts())

    def build_part(self, step_id: str, for_part: str, resume_state: Any) -> _CountingPart:
        return _CountingPart(self, self.inner.build_part(step_id, for_part, resume_state))

    def counted(self, batch: list[Any]) -> None:
        if batch and not self.seen:
            self.started, self.cpu = time.perf_counter(), time.thread_time()
        self.seen += len(batch)
        if self.seen >= self.count:
            wall = time.perf_counter() - self.started
            share = (time.thread_time() - self.cpu) / wall  # the worker is this thread
            print(_figures(self.stage, self.seen / wall, share), flush=True)
            os._exit(0)  # Bytewax has no stop from inside a flow; nothing is left to flush


class _CountingPart(StatefulSourcePartition[Any, Any]):
    def __init__(self, source: Counting, inner: StatefulSourcePartition[Any, Any]) -> None:
        self.source, self.inner = source, inner

    def next_batch(self) -> list[Any]:
        batch = list(self.inner.next_batch())
        self.source.counted(batch)
        return batch

    def snapshot(self) -> Any:
        return self.inner.snapshot()

    def close(self) -> None:
        self.inner.close()


class Drop(DynamicSink[Any]):
    """A sink that keeps nothing."""

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Dropped:
        return _Dropped()


class _Dropped(StatelessSinkPartition[Any]):
    def write_batch(self, items: list[Any]) -> None:
        pass


def stage_process(
    stage: str,
    bootstrap: str,
    prefix: str,
    count: int,
    python: str = sys.executable,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """One stage in a process of its own (the command's ``--stage``): its figures. ``python``
    and ``cwd`` run another checkout's code (``benchmarks.ingest_ab``)."""
    done = subprocess.run(
        [
            *(python, "-m", "benchmarks.ingest_stages", "--stage", stage),
            *("--bootstrap", bootstrap, "--prefix", prefix, "--events", str(count)),
        ],
        cwd=cwd,
        capture_output=True,
        check=False,
        timeout=600,
        # the workload's numpy is imported, never used: keep OpenBLAS's threads off the cores
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )
    lines = [line for line in done.stdout.decode().splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"stage {stage} failed:\n{done.stderr.decode()[-2000:]}")
    figures: dict[str, Any] = orjson.loads(lines[-1])
    return figures


def measure(bootstrap: str, events: int = 200_000, rounds: int = 3) -> dict[str, Any]:
    """Every stage, ``rounds`` times, over one log of ``events`` on ``PARTITIONS`` partitions."""
    topics = run_topics("stages")
    ensure_topics(bootstrap, topics, PARTITIONS)
    params = WorkloadParams(events=events, seed=3, start_ms=int(time.time() * 1000) + 3_600_000)
    params, catalogue = network_workload(params, stores=50, skus=20_000)
    produce(bootstrap, topics.events, list(generate(params, catalogue)))
    rounds_: list[dict[str, dict[str, Any]]] = []
    for round_ in range(1, rounds + 1):
        rounds_.append(
            {stage: stage_process(stage, bootstrap, topics.prefix, events) for stage in STAGES}
        )
        print(
            f"round {round_}: "
            + ", ".join(
                f"{stage} {row['events_per_s']:,.0f}" for stage, row in rounds_[-1].items()
            ),
            file=sys.stderr,
        )
    stages = {}
    for stage in STAGES:
        rates = [measured[stage]["events_per_s"] for measured in rounds_]
        ratios = [
            measured[stage]["events_per_s"] / measured["ceiling"]["events_per_s"]
            for measured in rounds_
        ]
        shares = [measured[stage]["cpu_share"] for measured in rounds_]
        stages[stage] = {
            "events_per_s": statistics.median(rates),
            "ratio": statistics.median(ratios),
            "us_per_event": 1e6 / statistics.median(rates),
            "range_per_s": [min(rates), max(rates)],
            "cpu_share": None if None in shares else statistics.median(shares),
        }
    return {"events": events, "rounds": rounds, "stages": stages}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage is not None:  # one stage, in the process stage_process started
        gc.set_threshold(*GC_THRESHOLDS)
        run_stage(args.stage, args.bootstrap, args.prefix, args.events)
        return 0

    figures = measure(broker(), args.events, args.rounds)
    print(
        f"{'stage':14s} {'events/s':>10s} {'range':>21s} {'of ceiling':>10s} us/event   step"
        "  worker CPU"
    )
    previous = 0.0
    for stage, row in figures["stages"].items():
        low, high = row["range_per_s"]
        step = row["us_per_event"] - previous if stage.startswith("flow-") and previous else 0.0
        print(
            f"{stage:14s} {row['events_per_s']:>10,.0f} {low:>10,.0f}-{high:<10,.0f} "
            f"{row['ratio']:>10.2f} {row['us_per_event']:>9.2f} "
            + (f"{step:>+7.2f}" if step else " " * 7)
            + ("" if row["cpu_share"] is None else f"  {row['cpu_share']:>10.2f}")
        )
        if stage.startswith("flow-"):
            previous = row["us_per_event"]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
