"""The dataflow against its peers: the same fold without Bytewax, on one log, in alternate rounds.

In one run, on a real broker (``OMNISTOCK_BOOTSTRAP``, else ``docker/kafka-local.sh``):

1. The log: ``--events`` of ``benchmarks/ingest.py``'s workload (the built-in network: 50 stores,
   20,000 skus, the daily curve, duplicates and malformed lines) produced once to a fresh
   ``<prefix>peers<8 hex>.events`` (4 partitions), between a first marker receipt on every
   partition and a last one (``benchmarks.kafka_io.markers``), before anything reads it.
2. Each round runs every side once, each in a process of its own, one after the other, the
   order reversed every other round (this machine's speed swings from minute to minute):

   - ``dataflow``: ``omnistock run``, 1 worker, no recovery, started as ``benchmarks/ingest.py``
     starts it (``benchmarks.kafka_io.start_flow``), writing ``<prefix>atp`` and the rest;
   - ``dataflow-2p`` (with ``--processes 2``): ``omnistock run -i 0|1 -a "h:p;h:p"``, two
     processes of 1 worker each (2 partitions each), same topics;
   - ``dict``: the plain confluent-kafka peer (``benchmarks/peers/dict_fold.py``: its
     docstring says how it differs), writing ``<prefix>dict.atp`` and the rest;
   - ``quix``: a Quix Streams app of the same fold (``benchmarks/peers/quix_fold.py``: its
     docstring says how it differs), writing ``<prefix>quix.atp`` and the rest, run by the
     Python of its own virtualenv (``.venv-quix``, or ``OMNISTOCK_QUIX_VENV``; quixstreams
     requires confluent-kafka<2.13, this project >=2.16) with ``PYTHONPATH`` the checkout,
     when that Python exists (skipped with a note otherwise: ``bash
     benchmarks/peers/quix_env.sh`` makes it).

   Every side reads the events topic from its start. A side is clocked, as ``ingest.py``
   clocks the dataflow, from the first markers showing on its atp topic (it is up and reading)
   to the last ones, read by a consumer of this process from where the topic ended before the
   side started. Its CPU (user + system, every thread, ``benchmarks.loadgen.process_cpu_s``;
   summed over a cluster's processes) is sampled at the same two instants: CPU us per event is
   their difference over ``--events``. Also recorded: the process's CPU from its start
   (start-up included), the messages it published per event (high watermarks of its output
   topics, 1 s after its last marker) and the CPU the rest of the machine used meanwhile
   (``/proc/stat`` less the side and this process: the broker, and whatever else runs).
3. Prints each round's events/s, CPU us per event, the ratios dataflow/peer (events/s, and CPU
   per event), with ``--processes 2`` the ratios 2 processes/1 process, and their min, median
   and max over the rounds; writes everything to ``benchmarks/results/fold_peers-<UTC>.json``
   (``--out``). The run's topics are deleted at the end (``--keep-topics`` keeps them).

The watching consumer reads every position the side publishes, on the same two cores as the side
and the broker: it costs both sides alike per message published (see ``messages_per_event``).

    python -m benchmarks.fold_peers [--events 1000000] [--rounds 3] [--processes 1]
        [--batch 2000] [--out FILE] [--keep-topics]
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, TopicPartition

from benchmarks.harness.report import machine
from benchmarks.kafka_io import (
    FLOW_LOG,
    FUTURE_ENV,
    MAX_FUTURE_S,
    PARTITIONS,
    ROOT,
    broker,
    delete_topics,
    markers,
    produce,
    run_topics,
    start_flow,
    totals,
    watermarks,
)
from benchmarks.loadgen import process_cpu_s
from dataflows.kafka import CONSUMER_DEFAULTS, Topics, ensure_topics
from workload import WorkloadParams, describe, generate, network_workload

RESULTS = Path(__file__).resolve().parent / "results"
LOGS = Path(tempfile.gettempdir())  # each side's stderr: omnistock-peers-<side>[-<i>].log
TIMEOUT_S = 900.0  # for a side to publish its last markers
SETTLE_S = 1.0  # after the last markers, before the output topics' watermarks are read
# The Quix peer's own virtualenv (benchmarks/peers/quix_env.sh makes it): quixstreams 3.x requires
# confluent-kafka<2.13, this project >=2.16, so it cannot share the project's environment.
QUIX_VENV = Path(os.environ.get("OMNISTOCK_QUIX_VENV") or ROOT / ".venv-quix")
QUIX_PYTHON = QUIX_VENV / "bin" / "python"
QUIX_ENV = {"PYTHONPATH": str(ROOT)}  # the engine's compiled modules, imported from the checkout
QUIX_MISSING = (
    f"the Quix peer is skipped: no {QUIX_PYTHON} (quixstreams 3.x requires confluent-kafka<2.13, "
    "this project >=2.16: it runs from a virtualenv of its own); "
    "`bash benchmarks/peers/quix_env.sh` creates it"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--processes",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: also the dataflow as two processes (-i/-a), 1 worker each",
    )
    parser.add_argument("--batch", type=int, default=2000, help="the peers' messages a consume")
    parser.add_argument("--out", type=Path, default=None, help="the JSON result's path")
    parser.add_argument("--keep-topics", action="store_true")
    args = parser.parse_args(argv)

    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # the sides' numpy, imported, never computing
    bootstrap = broker()
    sides = ["dataflow", *(["dataflow-2p"] if args.processes == 2 else []), "dict"]
    if QUIX_PYTHON.exists():
        sides.append("quix")
    else:
        print(QUIX_MISSING, file=sys.stderr)
    code = code_state()
    if code["stale_compiled"]:
        print(
            "note: engine sources newer than their compiled modules (the compiled ones run): "
            + ", ".join(code["stale_compiled"]),
            file=sys.stderr,
        )
    topics = run_topics("peers")
    for side in sides:  # every output topic up before the clock runs
        ensure_topics(bootstrap, outputs_of(side, topics), PARTITIONS)
    params = WorkloadParams(
        events=args.events, seed=3, start_ms=int(time.time() * 1000) + 3_600_000
    )
    params, catalogue = network_workload(params, stores=50, skus=20_000)
    lines = list(generate(params, catalogue))
    warm = markers(bootstrap, topics.events, "warm")
    produce(bootstrap, topics.events, lines)
    end = markers(bootstrap, topics.events, "end")
    del lines
    print(f"{args.events:,} events on {topics.events}; sides: {', '.join(sides)}", file=sys.stderr)

    rounds: list[dict[str, dict[str, Any]]] = []
    try:
        for round_ in range(1, args.rounds + 1):
            order = sides if round_ % 2 else sides[::-1]
            measured = {}
            for side in order:
                measured[side] = run_side(side, bootstrap, topics, args, warm, end)
            rounds.append({side: measured[side] for side in sides})
            print_round(round_, rounds[-1], order)
            check_peers_agree(rounds[-1])
    finally:
        if not args.keep_topics:
            delete_topics(bootstrap, topics.prefix)
    summary = summarise(rounds, sides)
    print_summary(summary, len(rounds))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS / f"fold_peers-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "machine": machine(),
        "parameters": vars(args) | {"out": None, "sides": sides},
        "workload": describe(params),
        "code": code | {"after": code_state()},
        "summary": summary,
        "rounds": rounds,
    }
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2, default=str))
    print(f"written {out}")
    return 0


# -- one side ---------------------------------------------------------------------------------


def outputs_of(side: str, topics: Topics) -> Topics:
    """The topics a side publishes to: the dataflow its own, a peer ``<prefix><side>.*``."""
    return topics if side.startswith("dataflow") else Topics(f"{topics.prefix}{side}.")


def run_side(
    side: str,
    bootstrap: str,
    topics: Topics,
    args: argparse.Namespace,
    warm: set[str],
    end: set[str],
) -> dict[str, Any]:
    """Start one side, clock it from its first markers to its last, stop it: its figures."""
    out = outputs_of(side, topics)
    names = {"atp": out.atp, "reservations": out.reservations, "alerts": out.alerts}
    names |= {"deadletter": out.deadletter, "events": topics.events}
    before = totals(bootstrap, names)
    watcher = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "fetch.min.bytes": 1,
            **CONSUMER_DEFAULTS,
        }
    )
    starts = watermarks(watcher, out.atp)
    watcher.assign([TopicPartition(out.atp, p, offset) for p, offset in starts.items()])
    load_before = os.getloadavg()
    procs, logs, stdout = start_side(side, bootstrap, topics, out, args.batch)
    try:
        clock = watch(watcher, procs, logs, warm, end)
        time.sleep(SETTLE_S)  # what the side produced after its last marker reaches the broker
        after = totals(bootstrap, names)
        cpu_total = sum(process_cpu_s(p.pid) for p in procs)
    finally:
        watcher.close()
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        codes = [proc.wait(60) for proc in procs]
    counters: dict[str, Any] | None = None
    if stdout is not None:
        printed = [x for x in stdout.read_text().splitlines() if x.startswith("{")]
        counters = orjson.loads(printed[-1]) if printed else None
    wall = clock["end_at"] - clock["warm_at"]
    cpu = clock["cpu_end"] - clock["cpu_warm"]
    produced = {name: after[name] - before[name] for name in names if name != "events"}
    figures = {
        "events_per_s": args.events / wall,
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_us_per_event": cpu / args.events * 1e6,
        "cpu_share": cpu / wall,  # cores busy on average (2 processes: up to 2)
        "cpu_total_s": cpu_total,
        "others_cpu_s": clock["machine_busy_s"] - cpu - clock["harness_cpu_s"],
        "harness_cpu_s": clock["harness_cpu_s"],
        "produced": produced,
        "messages_per_event": sum(produced.values()) / args.events,
        "atp_per_event": produced["atp"] / args.events,
        "events_topic_grew": after["events"] - before["events"],
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "exit_codes": codes,
        "processes": len(procs),
    }
    if counters is not None:
        figures["peer"] = counters
    print(
        f"  {side:12s} {figures['events_per_s']:>10,.0f} events/s, "
        f"{figures['cpu_us_per_event']:6.2f} us CPU/event ({figures['cpu_share']:.2f} cores), "
        f"{figures['messages_per_event']:.2f} messages/event, "
        f"others {figures['others_cpu_s']:.1f} s CPU",
        file=sys.stderr,
    )
    return figures


def start_side(
    side: str, bootstrap: str, topics: Topics, out: Topics, batch: int
) -> tuple[list[subprocess.Popen[bytes]], list[Path], Path | None]:
    """The side's processes, their stderr logs, and the file a peer prints its counters to."""
    if side == "dataflow":
        return [start_flow(bootstrap, topics.prefix)], [FLOW_LOG], None
    if side == "dataflow-2p":
        addresses = ";".join(f"127.0.0.1:{port}" for port in free_ports(2))
        procs, logs = [], []
        for index in range(2):
            log = LOGS / f"omnistock-peers-{side}-{index}.log"
            command = [
                *(sys.executable, "-m", "omnistock.cli", "run", "--bootstrap", bootstrap),
                *("--topic-prefix", topics.prefix, "-i", str(index), "-a", addresses),
            ]
            procs.append(spawn(command, log))
            logs.append(log)
        return procs, logs, None
    # the Quix peer: the same command, by its own virtualenv's Python, the checkout on its path
    python, env = (sys.executable, {}) if side == "dict" else (str(QUIX_PYTHON), QUIX_ENV)
    module = "benchmarks.peers.dict_fold" if side == "dict" else "benchmarks.peers.quix_fold"
    log = LOGS / f"omnistock-peers-{side}.log"
    stdout = LOGS / f"omnistock-peers-{side}.out"
    command = [
        *(python, "-m", module, "--bootstrap", bootstrap, "--prefix", topics.prefix),
        *("--out-prefix", out.prefix, "--batch", str(batch), "--max-future-s", str(MAX_FUTURE_S)),
    ]
    return [spawn(command, log, stdout, env)], [log], stdout


def spawn(
    command: list[str], log: Path, stdout: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A side's process as ``start_flow`` starts the dataflow: its own session, the widened
    clock rule of the benchmark logs (and ``env``); its stderr in ``log``, its stdout in
    ``stdout``."""
    with log.open("wb") as errors, (stdout or Path(os.devnull)).open("wb") as printed:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=printed,
            stderr=errors,
            start_new_session=True,
            env={**os.environ, **FUTURE_ENV, **(env or {})},
        )


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def watch(
    watcher: Consumer,
    procs: list[subprocess.Popen[bytes]],
    logs: list[Path],
    warm: set[str],
    end: set[str],
) -> dict[str, float]:
    """Read the side's atp topic until every marker showed: when the first markers had all
    shown and when the last had, with the side's CPU, the machine's busy CPU and this
    process's CPU between the two."""
    pending_warm = {key.encode() for key in warm}
    pending_end = {key.encode() for key in end}
    clock: dict[str, float] = {}
    deadline = time.monotonic() + TIMEOUT_S
    while pending_end or pending_warm:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            tails = "\n".join(f"{log}:\n{log.read_text()[-2000:]}" for log in logs)
            raise SystemExit(f"a side stopped or timed out before its last markers:\n{tails}")
        batch = watcher.consume(5000, 0.1)
        for message in batch:
            key = message.key()
            if key is None or message.error() is not None:
                continue
            pending_warm.discard(key)
            pending_end.discard(key)
        if not pending_warm and "warm_at" not in clock:
            clock["warm_at"] = time.perf_counter()
            clock["cpu_warm"] = sum(process_cpu_s(p.pid) for p in procs)
            clock["busy_warm"] = machine_busy_s()
            clock["self_warm"] = own_cpu_s()
    clock["end_at"] = time.perf_counter()
    clock["cpu_end"] = sum(process_cpu_s(p.pid) for p in procs)
    clock["machine_busy_s"] = machine_busy_s() - clock["busy_warm"]
    clock["harness_cpu_s"] = own_cpu_s() - clock["self_warm"]
    return clock


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (``/proc/stat``: all but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user..steal, less idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- what the run was, and its figures --------------------------------------------------------


def code_state() -> dict[str, Any]:
    """The checkout measured: its commit, its uncommitted files, and the engine sources newer
    than the compiled modules Python imports instead of them (``tests/conftest.py``)."""

    def git(*command: str) -> str:
        done = subprocess.run(
            ["git", *command], cwd=ROOT, capture_output=True, text=True, check=False
        )
        return done.stdout.rstrip()

    engine = ROOT / "engine"
    compiled = {so.name.split(".", 1)[0]: so.stat().st_mtime for so in engine.glob("*.so")}
    stale = sorted(
        f"engine/{name}.py"
        for name, built in compiled.items()
        if (engine / f"{name}.py").exists() and (engine / f"{name}.py").stat().st_mtime > built
    )
    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted": git("status", "--porcelain").splitlines(),
        "stale_compiled": stale,
        "compiled_at": max(compiled.values(), default=0.0),
    }


def ratio(rounds: list[dict[str, dict[str, Any]]], key: str, top: str, bottom: str) -> list[float]:
    return [r[top][key] / r[bottom][key] for r in rounds]


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def summarise(rounds: list[dict[str, dict[str, Any]]], sides: list[str]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        side: {
            "events_per_s": spread([r[side]["events_per_s"] for r in rounds]),
            "cpu_us_per_event": spread([r[side]["cpu_us_per_event"] for r in rounds]),
            "messages_per_event": spread([r[side]["messages_per_event"] for r in rounds]),
        }
        for side in sides
    }
    ratios: dict[str, Any] = {}
    for peer in (s for s in sides if not s.startswith("dataflow")):
        # events/s of the dataflow over the peer's (below 1: the dataflow is slower), and CPU
        # per event of the dataflow over the peer's (above 1: it costs more per event)
        ratios[f"dataflow/{peer}"] = {
            "events_per_s": spread(ratio(rounds, "events_per_s", "dataflow", peer)),
            "cpu_us_per_event": spread(ratio(rounds, "cpu_us_per_event", "dataflow", peer)),
        }
    if "dataflow-2p" in sides:
        ratios["2 processes/1 process"] = {
            "events_per_s": spread(ratio(rounds, "events_per_s", "dataflow-2p", "dataflow")),
            "cpu_us_per_event": spread(
                ratio(rounds, "cpu_us_per_event", "dataflow-2p", "dataflow")
            ),
        }
    summary["ratios"] = ratios
    return summary


FOLD_COUNTERS = ("applied", "duplicates", "dead_letters", "locations", "positions")


def check_peers_agree(measured: dict[str, dict[str, Any]]) -> None:
    """The peers fold one log the same way: their counters (printed when they stop) agree with
    ``dict``'s; a disagreement stops the run, as a peer doing other work measures nothing."""
    counted = {
        side: {key: m["peer"].get(key) for key in FOLD_COUNTERS}
        for side, m in measured.items()
        if "peer" in m
    }
    reference = counted.get("dict")
    for side, counters in counted.items():
        if reference is not None and counters != reference:
            raise SystemExit(f"the {side} peer folded otherwise: {counters} (dict: {reference})")


def print_round(round_: int, measured: dict[str, dict[str, Any]], order: list[str]) -> None:
    sides = ", ".join(
        f"{side} {m['events_per_s']:,.0f}/s {m['cpu_us_per_event']:.2f} us"
        for side, m in ((side, measured[side]) for side in order)
    )
    ratios = []
    for peer in (s for s in measured if not s.startswith("dataflow")):
        rate = measured["dataflow"]["events_per_s"] / measured[peer]["events_per_s"]
        cpu = measured["dataflow"]["cpu_us_per_event"] / measured[peer]["cpu_us_per_event"]
        ratios.append(f"dataflow/{peer} {rate:.2f} (events/s), {cpu:.2f} (CPU/event)")
    if "dataflow-2p" in measured:
        rate = measured["dataflow-2p"]["events_per_s"] / measured["dataflow"]["events_per_s"]
        cpu = measured["dataflow-2p"]["cpu_us_per_event"] / measured["dataflow"]["cpu_us_per_event"]
        ratios.append(f"2p/1p {rate:.2f} (events/s), {cpu:.2f} (CPU/event)")
    print(f"round {round_}: {sides}; " + "; ".join(ratios))


def print_summary(summary: dict[str, Any], rounds: int) -> None:
    print(f"over {rounds} round(s), min / median / max:")
    for side, figures in summary.items():
        if side == "ratios":
            continue
        rate, cpu = figures["events_per_s"], figures["cpu_us_per_event"]
        print(
            f"  {side:22s} {rate['min']:>9,.0f} / {rate['median']:>9,.0f} / {rate['max']:>9,.0f}"
            f" events/s   {cpu['min']:5.2f} / {cpu['median']:5.2f} / {cpu['max']:5.2f} us CPU/event"
        )
    for name, figures in summary["ratios"].items():
        rate, cpu = figures["events_per_s"], figures["cpu_us_per_event"]
        print(
            f"  {name:22s} {rate['min']:9.2f} / {rate['median']:9.2f} / {rate['max']:9.2f}"
            f" events/s   {cpu['min']:5.2f} / {cpu['median']:5.2f} / {cpu['max']:5.2f} CPU/event"
        )


if __name__ == "__main__":
    raise SystemExit(main())
