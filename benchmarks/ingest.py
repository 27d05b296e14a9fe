"""Ingest: events/s from ``omnistock.events`` to ``omnistock.atp``, lag and freshness (issue 3).

In one run, on a real broker (``OMNISTOCK_BOOTSTRAP``, else ``docker/kafka-local.sh``), with
the workload on the built-in network (``benchmarks.workload.network_workload``: 50 stores in
real cities, traffic by city population, the daily curve):

1. The ceiling: a bare confluent-kafka consumer that only reads and parses (``orjson.loads``)
   the same messages, once they are all on the topic and before the flow starts (nothing else
   runs then), clocked from its first message.
2. Throughput: a first marker event on every partition, the log, and a last marker on every
   partition are produced before ``omnistock run`` (1 worker) starts, so the producer does not
   share the two cores with it. The clock runs from the first markers showing on
   ``omnistock.atp`` (the flow is up) to the last ones (the probes, 0.4 % more messages, are
   not counted).
3. Source lag over time (``benchmarks/ingest_lag.py``): messages on the events topic not yet
   reflected on the atp topic, from probes among the messages, sampled every 0.25 s while the
   flow drains the backlog (``series.lag``) and while events arrive at the freshness rate
   (``series.lag_steady``; its peak is ``max_lag_events``).
4. Freshness (``benchmarks/freshness.py``): events produced at a steady rate, each stamped with
   its wall-clock ``ts``; for every position on ``omnistock.atp``, the time from that ``ts`` to
   its arrival, p50 and p99.
5. The flash sale (``benchmarks/flash_sale.py``) and its oversell audit.

    python -m benchmarks.ingest [--events 200000] [--rate 20000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from benchmarks.freshness import freshness, probe_every
from benchmarks.ingest_lag import LagTracker
from benchmarks.workload import WorkloadParams, describe, generate, network_workload
from dataflows.kafka import CONSUMER_DEFAULTS, PRODUCER_DEFAULTS, Topics, ensure_topics
from omnistock.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 4
FLOW_LOG = Path(tempfile.gettempdir()) / "omnistock-bench-flow.log"  # the dataflow's stderr


def run_topics(kind: str = "bench") -> Topics:
    """Fresh topics for one run, so that it never reads another's events: named
    ``<prefix><kind><8 hex>.``, under the configured prefix (CONTRACT 4: ``omnistock bench
    --topic-prefix`` or ``OMNISTOCK_TOPIC_PREFIX``; ``omnistock.`` by default)."""
    return Topics(f"{Settings.from_env().topic_prefix}{kind}{uuid.uuid4().hex[:8]}.")


def broker() -> str:
    """The broker named in ``OMNISTOCK_BOOTSTRAP``, or the local one, started if need be."""
    named = os.environ.get("OMNISTOCK_BOOTSTRAP")
    if named:
        return named
    subprocess.run(["bash", str(ROOT / "docker" / "kafka-local.sh"), "start"], check=True)
    return "127.0.0.1:9092"


def produce(
    bootstrap: str, topic: str, lines: list[bytes], tracker: LagTracker | None = None
) -> None:
    """The lines, keyed by location; with ``tracker``, its probes every ``tracker.every``."""
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})

    def send(line: bytes) -> None:
        start = line.find(b'"location_id":"')
        key = line[start + 15 : line.find(b'"', start + 15)] if start >= 0 else None
        while True:
            try:
                producer.produce(topic, line, key)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)

    if tracker is None:
        for line in lines:
            send(line)
    else:
        tracker.produce(producer, lines, send)
    producer.flush(60)


def markers(bootstrap: str, topic: str, tag: str) -> set[str]:
    """One receipt per partition, produced to it explicitly: its position is the finish line."""
    producer = Producer({"bootstrap.servers": bootstrap})
    keys = set()
    for part in range(PARTITIONS):
        location = f"ZZ{tag}{part}"
        body = {
            "event_id": f"{tag}-{part}",
            "type": "receipt",
            "location_id": location,
            "sku": "END",
            "ts": int(time.time() * 1000),
            "qty": 1,
        }
        producer.produce(topic, orjson.dumps(body), location, partition=part)
        keys.add(f"{location}:END")
    producer.flush(30)
    return keys


def consumer(bootstrap: str, topic: str, partitions: int) -> Consumer:
    reader = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "fetch.min.bytes": 1,
            **CONSUMER_DEFAULTS,
        }
    )
    reader.assign([TopicPartition(topic, p, 0) for p in range(partitions)])  # from the start
    return reader


def ceiling(
    bootstrap: str, topic: str, count: int, parse: Callable[[bytes], object] = orjson.loads
) -> float:
    """Messages/s of a bare consumer that reads and parses ``count`` messages.

    The clock starts at the first message, as the dataflow's does (its first markers): the
    connection and the first fetch are start-up, not throughput. Each call asks for no more
    than what is left: ``consume`` waits out its whole timeout for a batch it cannot fill.
    ``parse`` is ``orjson.loads`` for the ceiling; ``benchmarks/ingest_stages.py`` also passes
    the engine's typed parse, which never raises.
    """
    reader = consumer(bootstrap, topic, PARTITIONS)
    batch = reader.consume(1000, timeout=30.0)
    started = time.perf_counter()
    seen = 0
    while seen < count:
        for message in batch:
            if message.error():
                continue
            try:  # noqa: SIM105 - suppress() would add a call per message to the ceiling
                parse(message.value())  # type: ignore[arg-type] # consumed: has a value
            except ValueError:  # orjson.JSONDecodeError: the log's few malformed lines
                pass
            seen += 1
        batch = reader.consume(min(1000, count - seen), timeout=1.0) if seen < count else []
    elapsed = time.perf_counter() - started
    reader.close()
    return seen / elapsed


def wait_for_keys(
    reader: Consumer,
    keys: set[str],
    timeout: float,
    progress: list[tuple[float, int]] | None = None,
    watch: Callable[[list[Message], float], None] | None = None,
) -> dict[str, float]:
    """Read until every key showed; when each first did (``perf_counter``). Wait for every
    marker in one call: a batch read for one set may hold the next set's keys too.
    ``progress`` gets (``perf_counter``, messages read so far) per batch; ``watch`` is called
    with each batch and its ``perf_counter``."""
    deadline = time.monotonic() + timeout
    seen_at: dict[str, float] = {}
    seen = 0
    while len(seen_at) < len(keys) and time.monotonic() < deadline:
        batch = reader.consume(5000, timeout=0.1)
        now = time.perf_counter()
        for message in batch:
            raw_key = message.key()
            if not message.error() and raw_key is not None:
                key = raw_key.decode()
                if key in keys:
                    seen_at.setdefault(key, now)
        seen += len(batch)
        if progress is not None:
            progress.append((now, seen))
        if watch is not None:
            watch(batch, now)
    if len(seen_at) < len(keys):
        raise SystemExit(
            f"timed out waiting for {sorted(keys - set(seen_at))} on the atp topic (the "
            f"dataflow's log: {FLOW_LOG})"
        )
    return seen_at


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(
    bootstrap: str,
    events: int = 200_000,
    rate: int = 20_000,
    seconds: float = 10.0,
    stores: int = 50,
    skus: int = 20_000,
) -> dict[str, Any]:
    """Ceiling, throughput, source lag, freshness and the flash-sale audit, against one
    ``omnistock run``; the log is the workload on the built-in network (``stores``, ``skus``)."""
    from benchmarks.flash_sale import flash_sale  # noqa: PLC0415 - it imports this module

    topics = run_topics()
    ensure_topics(bootstrap, topics, PARTITIONS)
    start_ms = int(time.time() * 1000) + 3_600_000
    params = WorkloadParams(events=events, seed=3, start_ms=start_ms)
    params, catalogue = network_workload(params, stores=stores, skus=skus)
    lines = list(generate(params, catalogue))
    tracker = LagTracker(bootstrap, topics.events, PARTITIONS)
    warm = markers(bootstrap, topics.events, "warm")
    produce(bootstrap, topics.events, lines, tracker)
    end = markers(bootstrap, topics.events, "end")
    producer = Producer({"bootstrap.servers": bootstrap})
    last = tracker.probe(producer)  # after the end markers: the lag then drains to 0
    producer.flush(30)
    # The ceiling reads the same log before the flow starts: nothing else runs then.
    top = ceiling(bootstrap, topics.events, events)
    flow = subprocess.Popen(
        [
            *(sys.executable, "-m", "omnistock.cli", "run", "--bootstrap", bootstrap),
            *("--topic-prefix", topics.prefix),
        ],
        stdout=subprocess.DEVNULL,
        stderr=FLOW_LOG.open("wb"),
        start_new_session=True,
    )
    atp = consumer(bootstrap, topics.atp, PARTITIONS)
    try:
        progress: list[tuple[float, int]] = []
        seen_at = wait_for_keys(atp, warm | end | last, 600, progress, tracker.observe)
        tracker.sample()
        started = max(seen_at[key] for key in warm)  # the flow is up and reading
        finished = max(seen_at[key] for key in end)
        progress = [(at - started, count) for at, count in progress if at >= started]
        backlog = tracker.series(started)
        through = events / (finished - started)
        lags, when, steady = freshness(bootstrap, topics, atp, rate, seconds, tracker)
        audit = flash_sale(bootstrap, topics)
    finally:
        atp.close()
        tracker.close()
        os.killpg(flow.pid, signal.SIGTERM)
        flow.wait(30)
    return {
        "events_per_s": through,
        "ceiling_per_s": top,
        "ratio": through / top,
        "events": events,
        "freshness_rate": rate,
        "freshness_p50_ms": percentile(lags, 0.5),
        "freshness_p99_ms": percentile(lags, 0.99),
        "freshness_p999_ms": percentile(lags, 0.999),
        "freshness_samples": len(lags),
        "max_lag_events": max((lag for _, lag, _ in steady), default=0),
        "lag_probe_every": tracker.every,
        "lag_steady_probe_every": probe_every(rate),
        "series": {
            "progress": progress,
            "freshness": list(zip(when, lags, strict=True)),
            "lag": backlog,
            "lag_steady": steady,
        },
        "flash_sale": audit,
        "workload": describe(params),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=20_000, help="freshness: events/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="freshness: duration")
    args = parser.parse_args(argv)

    r = measure(broker(), args.events, args.rate, args.seconds)
    print(f"bare consumer + parse ceiling  {r['ceiling_per_s']:>10,.0f} events/s")
    print(
        f"dataflow, 1 worker             {r['events_per_s']:>10,.0f} events/s "
        f"({r['ratio']:.2f} of the ceiling; targets 0.5 and 100,000)"
    )
    print(
        f"freshness at {args.rate:,} events/s: p50 {r['freshness_p50_ms']:.0f} ms, "
        f"p99 {r['freshness_p99_ms']:.0f} ms, p99.9 {r['freshness_p999_ms']:.0f} ms over "
        f"{r['freshness_samples']:,} positions (target p99 < 250 ms)"
    )
    print(
        f"source lag at {args.rate:,} events/s: at most {r['max_lag_events']:,} messages "
        f"(an upper bound, within {r['lag_steady_probe_every']:,})"
    )
    flash = r["flash_sale"]
    print(
        f"flash sale: {flash['buyers']:,} buyers for {flash['units']:,} units at "
        f"{flash['stores']} stores: {flash['confirmed_units']:,} confirmed, "
        f"{flash['rejected']:,} rejected, {flash['oversold_units']} units oversold"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
