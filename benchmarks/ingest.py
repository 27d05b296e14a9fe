"""Ingest: events/s from ``omnistock.events`` to ``omnistock.atp``, and freshness (issue 3).

In one run, on a real broker (``OMNISTOCK_BOOTSTRAP``, else ``docker/kafka-local.sh``):

1. The ceiling: a bare confluent-kafka consumer that only reads and parses (``orjson.loads``)
   the same messages.
2. Throughput: a first marker event on every partition, the log, and a last marker on every
   partition are produced before ``omnistock run`` (1 worker) starts, so the producer does not
   share the two cores with it. The clock runs from the first markers showing on
   ``omnistock.atp`` (the flow is up) to the last ones.
3. Freshness: events produced at a steady rate, each stamped with its wall-clock ``ts``; for
   every position on ``omnistock.atp``, the time from that ``ts`` to its arrival, p50 and p99.

    python -m benchmarks.ingest [--events 200000] [--rate 20000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

from benchmarks.workload import WorkloadParams, generate
from dataflows.kafka import PRODUCER_DEFAULTS, Topics, ensure_topics

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 4


def broker() -> str:
    named = os.environ.get("OMNISTOCK_BOOTSTRAP")
    if named:
        return named
    subprocess.run(["bash", str(ROOT / "docker" / "kafka-local.sh"), "start"], check=True)
    return "127.0.0.1:9092"


def produce(bootstrap: str, topic: str, lines: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
    for line in lines:
        start = line.find(b'"location_id":"')
        key = line[start + 15 : line.find(b'"', start + 15)] if start >= 0 else None
        while True:
            try:
                producer.produce(topic, line, key)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
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
        }
    )
    reader.assign([TopicPartition(topic, p, 0) for p in range(partitions)])  # from the start
    return reader


def ceiling(bootstrap: str, topic: str, count: int) -> float:
    """Messages/s of a bare consumer that reads and parses ``count`` messages."""
    reader = consumer(bootstrap, topic, PARTITIONS)
    seen = 0
    started = time.perf_counter()
    while seen < count:
        for message in reader.consume(1000, timeout=1.0):
            if message.error():
                continue
            try:  # noqa: SIM105 - suppress() would add a call per message to the ceiling
                orjson.loads(message.value())
            except orjson.JSONDecodeError:
                pass
            seen += 1
    elapsed = time.perf_counter() - started
    reader.close()
    return seen / elapsed


def wait_for_keys(reader: Consumer, keys: set[str], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    missing = set(keys)
    while missing and time.monotonic() < deadline:
        for message in reader.consume(5000, timeout=0.2):
            if not message.error() and message.key() is not None:
                missing.discard(message.key().decode())
    if missing:
        raise SystemExit(f"timed out waiting for {sorted(missing)} on the atp topic")
    return time.perf_counter()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=20_000, help="freshness: events/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="freshness: duration")
    args = parser.parse_args(argv)

    bootstrap = broker()
    topics = Topics(f"bench{uuid.uuid4().hex[:8]}.")
    ensure_topics(bootstrap, topics, PARTITIONS)
    start_ms = int(time.time() * 1000) + 3_600_000
    lines = list(generate(WorkloadParams(events=args.events, seed=3, start_ms=start_ms)))
    warm = markers(bootstrap, topics.events, "warm")
    produce(bootstrap, topics.events, lines)
    end = markers(bootstrap, topics.events, "end")
    log = open(os.devnull, "wb")  # noqa: SIM115 - the child keeps it for its whole life
    flow = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "omnistock.cli",
            "run",
            "--bootstrap",
            bootstrap,
            "--topic-prefix",
            topics.prefix,
        ],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    atp = consumer(bootstrap, topics.atp, PARTITIONS)
    try:
        started = wait_for_keys(atp, warm, 120)  # the flow is up and reading
        finished = wait_for_keys(atp, end, 600)
        rate = args.events / (finished - started)
        top = ceiling(bootstrap, topics.events, args.events)
        print(f"bare consumer + parse ceiling  {top:>10,.0f} events/s")
        print(
            f"dataflow, 1 worker             {rate:>10,.0f} events/s "
            f"({rate / top:.2f} of the ceiling; targets 0.5 and 100,000)"
        )

        lags = freshness(bootstrap, topics, atp, args.rate, args.seconds)
        print(
            f"freshness at {args.rate:,} events/s: p50 {percentile(lags, 0.5):.0f} ms, "
            f"p99 {percentile(lags, 0.99):.0f} ms over {len(lags):,} positions "
            "(target p99 < 250 ms)"
        )
    finally:
        atp.close()
        os.killpg(flow.pid, signal.SIGTERM)
        flow.wait(30)
    return 0


def freshness(
    bootstrap: str, topics: Topics, atp: Consumer, rate: int, seconds: float
) -> list[float]:
    """Produce ``rate`` events/s for ``seconds``; time from each ``ts`` to its position."""
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
    atp.consume(100_000, timeout=1.0)  # drain what came before
    lags: list[float] = []
    started = time.perf_counter()
    sent = 0
    while time.perf_counter() - started < seconds:
        due = int((time.perf_counter() - started) * rate)
        now = int(time.time() * 1000)
        while sent < due:
            location = f"F{sent % 40:02d}"
            body = {
                "event_id": f"f{sent}",
                "type": "receipt",
                "location_id": location,
                "sku": f"SKU{sent % 500}",
                "ts": now,
                "qty": 1,
            }
            producer.produce(topics.events, orjson.dumps(body), location)
            sent += 1
        producer.poll(0)
        for message in atp.consume(10_000, timeout=0.001):
            if message.error():
                continue
            value = orjson.loads(message.value())
            if value["location_id"].startswith("F"):
                lags.append(time.time() * 1000 - _ms(value["as_of"]))
    producer.flush(30)
    deadline = time.perf_counter() + 5
    while time.perf_counter() < deadline:
        for message in atp.consume(10_000, timeout=0.1):
            if not message.error():
                value = orjson.loads(message.value())
                if value["location_id"].startswith("F"):
                    lags.append(time.time() * 1000 - _ms(value["as_of"]))
    return lags


def _ms(text: str) -> float:
    from engine.timefmt import parse_instant, to_ms  # noqa: PLC0415

    return float(to_ms(parse_instant(text)))


if __name__ == "__main__":
    raise SystemExit(main())
