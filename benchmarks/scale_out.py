"""Scale-out: CPU per event of ``omnistock run`` in one process against two (issue #19).

Before and after in one run, alternating: the books keyed by location id (``location``, how
the flow keyed them before: Bytewax hashes a key to any worker, so with two workers about half
of the fold's items are pickled and sent to the other process) and keyed by the worker that
reads their partition (``partition``, ``dataflows.keying``). For each round and keying, one
process (1 worker) and then two (1 worker each, ``-i``/``-a``) fold the same log: the
project's workload on the built-in network (``workload.network_workload``, 50 stores), on a
fresh 4-partition events topic each time, produced before the flow starts, between a first and
a last marker on every partition (``benchmarks.kafka_io``).

Measured per run, from the first of the first markers showing on the atp topic to the last of
the last ones: events/s, and the CPU seconds (user + system, ``/proc/PID/stat``, every thread:
the fold, the Kafka clients, the idle polling of a worker done first) of the flow's processes
over that window, per event. The ratio is the 2-process CPU per event over the 1-process one
(the goal: at most 1.1). The broker runs on the same machine and is not counted; with two
cores two processes compete with it, so events/s says less than the CPU per event. A fifth run
per round is the machine's own scaling, the control: two separate 1-process flows at once,
each folding its own copy of the log (nothing passes between them; ``apart``), its CPU per
event over the mean of the round's two 1-process runs. The order of the five runs turns round
every round, so a drift of the machine hits both keyings alike.

    python -m benchmarks.scale_out [--events 1000000] [--rounds 3] [--json FILE]
        [--keyings partition]   # the after only: a round in half the time
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from benchmarks.kafka_io import (
    FUTURE_ENV,
    PARTITIONS,
    broker,
    delete_topics,
    markers,
    produce,
    run_topics,
    wait_for_keys,
)
from dataflows.kafka import CONSUMER_DEFAULTS, ensure_topics
from dataflows.keying import KEYING_ENV
from workload import WorkloadParams, describe, generate, network_workload

KEYINGS = ("location", "partition")  # before, after
LOGS = Path(tempfile.gettempdir()) / "omnistock-scale-out"  # each flow process's stderr
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class CpuSampler:
    """The summed CPU of some processes, sampled every ``every`` seconds in a thread."""

    def __init__(self, pids: list[int], every: float = 0.02) -> None:
        self.pids = pids
        self.every = every
        self.samples: list[tuple[float, float]] = []  # (perf_counter, CPU seconds)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                total = sum(cpu_seconds(pid) for pid in self.pids)
            except (OSError, IndexError, ValueError):  # a process gone
                return
            self.samples.append((time.perf_counter(), total))
            self.stopping.wait(self.every)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)

    def at(self, when: float) -> float:
        """The CPU at ``when``, interpolated between the samples around it."""
        before = max((s for s in self.samples if s[0] <= when), default=self.samples[0])
        after = min((s for s in self.samples if s[0] >= when), default=self.samples[-1])
        if after[0] == before[0]:
            return before[1]
        share = (when - before[0]) / (after[0] - before[0])
        return before[1] + share * (after[1] - before[1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    bootstrap: str, prefix: str, keying: str, processes: int, tag: str
) -> list[subprocess.Popen[bytes]]:
    """``omnistock run`` as ``processes`` processes of 1 worker, keyed by ``keying``."""
    base = [sys.executable, "-m", "omnistock.cli", "run", "--bootstrap", bootstrap]
    base += ["--topic-prefix", prefix]
    env = {**os.environ, **FUTURE_ENV, KEYING_ENV: keying}
    addresses = ";".join(f"127.0.0.1:{free_port()}" for _ in range(processes))
    LOGS.mkdir(exist_ok=True)
    started = []
    for index in range(processes):
        extra = ["-i", str(index), "-a", addresses] if processes > 1 else []
        with (LOGS / f"{tag}-{index}.log").open("wb") as log:
            started.append(
                subprocess.Popen(
                    base + extra,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    start_new_session=True,
                    env=env,
                )
            )
    return started


def one_run(
    bootstrap: str, lines: list[bytes], keying: str, processes: int, tag: str, apart: bool = False
) -> dict[str, Any]:
    """Events/s and CPU per event of one flow of ``processes`` processes over the log; with
    ``apart``, of ``processes`` separate 1-process flows at once, each over its own copy of the
    log (the machine's own scaling: nothing passes between them)."""
    copies = processes if apart else 1
    runs = [run_topics("scale") for _ in range(copies)]
    try:
        warm: set[str] = set()
        end: set[str] = set()
        for number, topics in enumerate(runs):
            ensure_topics(bootstrap, topics, PARTITIONS)
            warm |= markers(bootstrap, topics.events, f"warm{number}x")
            produce(bootstrap, topics.events, lines)
            end |= markers(bootstrap, topics.events, f"end{number}x")
        atp = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"scale-{uuid.uuid4()}",
                "enable.auto.commit": False,
                **CONSUMER_DEFAULTS,
            }
        )
        atp.assign([TopicPartition(t.atp, p, 0) for t in runs for p in range(PARTITIONS)])
        if apart:
            flows = [f for t in runs for f in start(bootstrap, t.prefix, keying, 1, tag)]
        else:
            flows = start(bootstrap, runs[0].prefix, keying, processes, tag)
        samplers = [CpuSampler([flow.pid]) for flow in flows]
        try:
            seen_at = wait_for_keys(atp, warm | end, 900)
        finally:
            for sampler in samplers:
                sampler.stop()
            atp.close()
            for flow in flows:
                os.killpg(flow.pid, signal.SIGTERM)
            for flow in flows:
                flow.wait(30)
        began = min(seen_at[key] for key in warm)  # the first worker is up and reading
        finished = max(seen_at[key] for key in end)
        each = [sampler.at(finished) - sampler.at(began) for sampler in samplers]
        cpu = sum(each)
        events = len(lines) * copies
        return {
            "keying": "apart" if apart else keying,
            "processes": processes,
            "seconds": finished - began,
            "events_per_s": events / (finished - began),
            "cpu_s": cpu,
            "cpu_s_per_process": each,
            "cpu_us_per_event": cpu / events * 1e6,
        }
    finally:
        for topics in runs:
            delete_topics(bootstrap, topics.prefix)


def spread(values: list[float]) -> str:
    return f"min {min(values):.3f}  median {statistics.median(values):.3f}  max {max(values):.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="write every run here")
    parser.add_argument(
        "--keyings",
        nargs="+",
        choices=KEYINGS,
        default=list(KEYINGS),
        help="which keyings to run (the control, two flows apart, runs always)",
    )
    args = parser.parse_args(argv)
    keyings = tuple(args.keyings)

    bootstrap = broker()
    start_ms = int(time.time() * 1000) + 3_600_000  # no live expiry while the runs read it
    params = WorkloadParams(events=args.events, seed=3, start_ms=start_ms)
    params, catalogue = network_workload(params, stores=50, skus=20_000)  # as benchmarks.ingest
    lines = list(generate(params, catalogue))
    print(f"{len(lines):,} events, {PARTITIONS} partitions; each run 1 worker per process")
    order = [(keying, processes) for keying in keyings for processes in (1, 2)]
    order.append(("apart", 2))
    runs: list[dict[str, Any]] = []
    ratios: dict[str, list[float]] = {keying: [] for keying in (*keyings, "apart")}
    for number in range(args.rounds):
        done = {}
        for keying, processes in order if number % 2 == 0 else order[::-1]:
            tag = f"r{number}-{keying}-{processes}p"
            apart = keying == "apart"
            result = one_run(
                bootstrap, lines, "partition" if apart else keying, processes, tag, apart
            )
            runs.append(result | {"round": number + 1})
            done[keying, processes] = result
        alone = statistics.mean(done[keying, 1]["cpu_us_per_event"] for keying in keyings)
        for keying in keyings:
            one, two = done[keying, 1], done[keying, 2]
            ratio = two["cpu_us_per_event"] / one["cpu_us_per_event"]
            ratios[keying].append(ratio)
            print(
                f"round {number + 1}  {keying:>9} keys:  1 process {one['events_per_s']:>9,.0f} "
                f"ev/s {one['cpu_us_per_event']:6.2f} us/ev | 2 processes "
                f"{two['events_per_s']:>9,.0f} ev/s {two['cpu_us_per_event']:6.2f} us/ev | "
                f"ratio {ratio:.3f}",
                flush=True,
            )
        two = done["apart", 2]
        ratios["apart"].append(two["cpu_us_per_event"] / alone)
        print(
            f"round {number + 1}  2 flows apart (the machine): {two['events_per_s']:>9,.0f} ev/s "
            f"{two['cpu_us_per_event']:6.2f} us/ev | ratio to 1 process {ratios['apart'][-1]:.3f}",
            flush=True,
        )
    print()
    for keying in (*keyings, "apart"):
        for processes in (1, 2) if keying != "apart" else (2,):
            mine = [r for r in runs if r["keying"] == keying and r["processes"] == processes]
            print(
                f"{keying:>9} keys, {processes} process{'es' if processes > 1 else ''}: "
                f"ev/s {spread([r['events_per_s'] for r in mine])}; "
                f"us/ev {spread([r['cpu_us_per_event'] for r in mine])}"
            )
        print(f"{keying:>9} keys, ratio 2/1 CPU per event: {spread(ratios[keying])}")
    # Every 1-process run measures the same thing (one worker exchanges nothing, whatever its
    # keys): their median is the steadier denominator on a machine whose speed swings.
    alone = statistics.median(r["cpu_us_per_event"] for r in runs if r["processes"] == 1)
    pooled = {
        keying: statistics.median(
            r["cpu_us_per_event"] for r in runs if r["keying"] == keying and r["processes"] == 2
        )
        / alone
        for keying in (*keyings, "apart")
    }
    print(
        f"median 2-process CPU per event over the median of all "
        f"{len(keyings) * args.rounds} 1-process runs ({alone:.2f} us): "
        + ", ".join(f"{keying} {ratio:.3f}" for keying, ratio in pooled.items())
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {"runs": runs, "ratios": ratios, "pooled": pooled, "workload": describe(params)},
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
