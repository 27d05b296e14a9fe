"""Kafka plumbing the benchmarks share: fresh topics, the broker, producing a log, markers,
a consumer from the start of a topic, the bare-consumer ceiling and waiting for keys.

``benchmarks/ingest.py``, ``benchmarks/flash_sale.py``, ``benchmarks/ingest_stages.py``,
``benchmarks/recovery.py`` and ``benchmarks/api_server.py`` import it; it imports no other
benchmark module but ``benchmarks.ingest_lag`` (the lag tracker ``produce`` feeds).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from benchmarks.ingest_lag import LagTracker
from dataflows.kafka import CONSUMER_DEFAULTS, PRODUCER_DEFAULTS, Topics
from omnistock.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 4
FLOW_LOG = Path(tempfile.gettempdir()) / "omnistock-bench-flow.log"  # the dataflow's stderr

# The benchmark logs are dated ahead of the wall clock (an hour, and then as far as they run in
# event time), so that no live expiry fires while they are read; the live modes' clock rule
# (docs/events.md §2, ``ts_in_future``) is widened for them to match.
MAX_FUTURE_S = 30 * 86_400
FUTURE_ENV = {"OMNISTOCK_MAX_FUTURE_S": str(MAX_FUTURE_S)}


def run_topics(kind: str = "bench") -> Topics:
    """Fresh topics for one run, so that it never reads another's events: named
    ``<prefix><kind><8 hex>.``, under the configured prefix (docs/events.md §11: ``omnistock bench
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


def start_flow(bootstrap: str, prefix: str, *extra: str) -> subprocess.Popen[bytes]:
    """``omnistock run`` on the topics of ``prefix`` (``extra``: more flags), its stderr in
    ``FLOW_LOG``, events dated up to ``MAX_FUTURE_S`` ahead accepted."""
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "omnistock.cli", "run", "--bootstrap", bootstrap),
            *("--topic-prefix", prefix, *extra),
        ],
        stdout=subprocess.DEVNULL,
        stderr=FLOW_LOG.open("wb"),
        start_new_session=True,
        env={**os.environ, **FUTURE_ENV},
    )


def produce_burst(messages: list[tuple[str, bytes]], kind: str = "burst") -> dict[str, float]:
    """Seconds to produce ``(key, value)`` messages to a fresh compacted promises topic of the
    broker (``broker()``) with the flow's producer settings, until the broker has them all
    (``flush``); the run's topics are deleted after."""

    from dataflows.kafka import ensure_topics  # noqa: PLC0415

    bootstrap = broker()
    topics = run_topics(kind)
    ensure_topics(bootstrap, topics, PARTITIONS)
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
    producer.produce(topics.promises, b"{}", b"warm")  # connected, metadata known
    producer.flush(30)
    started = time.perf_counter()
    for key, value in messages:
        while True:
            try:
                producer.produce(topics.promises, value, key)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    queued = time.perf_counter() - started
    left = producer.flush(60)
    elapsed = time.perf_counter() - started
    delete_topics(bootstrap, topics.prefix)
    size = sum(len(value) for _, value in messages)
    return {
        "entries": len(messages),
        "produce_s": queued,
        "flushed_s": elapsed,
        "unsent": left,
        "mib_per_s": size / elapsed / 2**20,
        "entries_per_s": len(messages) / elapsed,
    }


def watermarks(reader: Consumer, topic: str) -> dict[int, int]:
    """Each partition's high watermark: where the next message will be."""
    return {p: high(reader, topic, p) for p in range(PARTITIONS)}


def totals(bootstrap: str, names: dict[str, str]) -> dict[str, int]:
    """Messages on each topic so far (the sum of its partitions' high watermarks)."""
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4()}"})
    try:
        found = reader.list_topics(timeout=10).topics
        return {
            name: sum(high(reader, topic, p) for p in sorted(found[topic].partitions))
            for name, topic in names.items()
        }
    finally:
        reader.close()


def high(reader: Consumer, topic: str, partition: int) -> int:
    """A partition's high watermark; a topic just made may not have its leader yet: retried."""
    for attempt in range(20):
        try:
            return reader.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
        except KafkaException:
            if attempt == 19:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def delete_topics(bootstrap: str, prefix: str) -> None:
    """Delete a run's topics (those named ``prefix...``), as far as the broker lets it."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        for future in admin.delete_topics(names, operation_timeout=30).values():
            future.result(timeout=60)
    except (KafkaException, ValueError):
        pass
