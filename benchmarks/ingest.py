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
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

from benchmarks.workload import WorkloadParams, generate
from dataflows.kafka import PRODUCER_DEFAULTS, Topics, ensure_topics
from engine.timefmt import parse_instant, to_ms

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 4
FLOW_LOG = Path(tempfile.gettempdir()) / "omnistock-bench-flow.log"  # the dataflow's stderr


def broker() -> str:
    """The broker named in ``OMNISTOCK_BOOTSTRAP``, or the local one, started if need be."""
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
                orjson.loads(message.value())  # type: ignore[arg-type] # consumed: has a value
            except orjson.JSONDecodeError:
                pass
            seen += 1
    elapsed = time.perf_counter() - started
    reader.close()
    return seen / elapsed


def wait_for_keys(
    reader: Consumer,
    keys: set[str],
    timeout: float,
    progress: list[tuple[float, int]] | None = None,
) -> dict[str, float]:
    """Read until every key showed; when each first did (``perf_counter``). Wait for every
    marker in one call: a batch read for one set may hold the next set's keys too.
    ``progress`` gets (``perf_counter``, messages read so far) per batch."""
    deadline = time.monotonic() + timeout
    seen_at: dict[str, float] = {}
    seen = 0
    while len(seen_at) < len(keys) and time.monotonic() < deadline:
        batch = reader.consume(5000, timeout=0.2)
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
    bootstrap: str, events: int = 200_000, rate: int = 20_000, seconds: float = 10.0
) -> dict[str, Any]:
    """Ceiling, throughput, freshness and the flash-sale audit, against one ``omnistock run``."""
    topics = Topics(f"bench{uuid.uuid4().hex[:8]}.")
    ensure_topics(bootstrap, topics, PARTITIONS)
    start_ms = int(time.time() * 1000) + 3_600_000
    lines = list(generate(WorkloadParams(events=events, seed=3, start_ms=start_ms)))
    warm = markers(bootstrap, topics.events, "warm")
    produce(bootstrap, topics.events, lines)
    end = markers(bootstrap, topics.events, "end")
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
        seen_at = wait_for_keys(atp, warm | end, 600, progress)
        started = max(seen_at[key] for key in warm)  # the flow is up and reading
        finished = max(seen_at[key] for key in end)
        progress = [(at - started, count) for at, count in progress if at >= started]
        top = ceiling(bootstrap, topics.events, events)
        through = events / (finished - started)
        lags, when = freshness(bootstrap, topics, atp, rate, seconds)
        audit = flash_sale(bootstrap, topics)
    finally:
        atp.close()
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
        "series": {"progress": progress, "freshness": list(zip(when, lags, strict=True))},
        "flash_sale": audit,
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
    flash = r["flash_sale"]
    print(
        f"flash sale: {flash['buyers']:,} buyers for {flash['units']:,} units at "
        f"{flash['stores']} stores: {flash['confirmed_units']:,} confirmed, "
        f"{flash['rejected']:,} rejected, {flash['oversold_units']} units oversold"
    )
    return 0


def freshness(
    bootstrap: str, topics: Topics, atp: Consumer, rate: int, seconds: float
) -> tuple[list[float], list[float]]:
    """Produce ``rate`` events/s for ``seconds``; per position on the atp topic, when it came
    (seconds into the run) and how long after its event's ``ts`` (ms)."""
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
    atp.consume(100_000, timeout=1.0)  # drain what came before
    lags: list[float] = []
    when: list[float] = []
    started = time.perf_counter()

    def take(timeout: float) -> None:
        for message in atp.consume(10_000, timeout=timeout):
            if message.error():
                continue
            value = orjson.loads(message.value() or b"{}")
            if value["location_id"].startswith("F"):
                lags.append(time.time() * 1000 - _ms(value["as_of"]))
                when.append(time.perf_counter() - started)

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
        take(0.001)
    producer.flush(30)
    deadline = time.perf_counter() + 5
    while time.perf_counter() < deadline:
        take(0.1)
    return lags, when


def flash_sale(
    bootstrap: str, topics: Topics, stores: int = 40, units: int = 300, buyers: int = 3000
) -> dict[str, int]:
    """Thousands of buyers race for a few hundred units of one sku across many stores.

    Audit from the topics: per store, the units of confirmed reservations never exceed what it
    received, and every final position keeps ``reserved <= on_hand``.
    """
    rng = random.Random(11)
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
    now = int(time.time() * 1000)
    stock = {f"FS{i:02d}": units // stores + (i < units % stores) for i in range(stores)}
    for location, qty in stock.items():
        body: dict[str, Any] = {"event_id": f"stock-{location}", "type": "receipt"}
        body["location_id"] = location
        body |= {"sku": "FLASH", "ts": now, "qty": qty}
        producer.produce(topics.events, orjson.dumps(body), location)
    locations = list(stock)
    for n in range(buyers):
        location = rng.choice(locations)
        body = {"event_id": f"buy-{n}", "type": "reserve", "location_id": location}
        body |= {"sku": "FLASH", "ts": now + 1 + n, "qty": 1, "reservation_id": f"flash-{n}"}
        while True:
            try:
                producer.produce(topics.events, orjson.dumps(body), location)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)

    first: dict[str, tuple[str, str, int]] = {}
    reader = consumer(bootstrap, topics.reservations, PARTITIONS)
    deadline = time.monotonic() + 120
    while len(first) < buyers and time.monotonic() < deadline:
        for message in reader.consume(5000, timeout=0.2):
            if message.error() is None:
                outcome = orjson.loads(message.value() or b"{}")
                if outcome["reservation_id"].startswith("flash-"):
                    first.setdefault(
                        outcome["reservation_id"],
                        (outcome["status"], outcome["location_id"], outcome["qty"]),
                    )
    reader.close()
    if len(first) < buyers:
        raise SystemExit(f"only {len(first)} of {buyers} flash-sale outcomes arrived")
    held: dict[str, int] = dict.fromkeys(stock, 0)
    for status, location, qty in first.values():
        if status in ("confirmed", "partial"):
            held[location] += qty
    oversold = sum(max(0, held[loc] - stock[loc]) for loc in stock)
    positions = final_positions(bootstrap, topics, set(stock))
    oversold += sum(max(0, p["reserved"] - p["on_hand"]) for p in positions.values())
    return {
        "stores": stores,
        "units": units,
        "buyers": buyers,
        "confirmed_units": sum(held.values()),
        "rejected": sum(1 for status, _, _ in first.values() if status == "rejected"),
        "oversold_units": oversold,
    }


def final_positions(bootstrap: str, topics: Topics, locations: set[str]) -> dict[str, Any]:
    """The last FLASH position of each location on the atp topic."""
    reader = consumer(bootstrap, topics.atp, PARTITIONS)
    last: dict[str, Any] = {}
    quiet = time.monotonic() + 3
    while time.monotonic() < quiet:
        batch = reader.consume(10_000, timeout=0.2)
        if batch:
            quiet = time.monotonic() + 1
        for message in batch:
            if message.error() is None:
                value = orjson.loads(message.value() or b"{}")
                if value["sku"] == "FLASH" and value["location_id"] in locations:
                    last[value["location_id"]] = value
    reader.close()
    return last


def _ms(text: str) -> float:
    return float(to_ms(parse_instant(text)))


if __name__ == "__main__":
    raise SystemExit(main())
