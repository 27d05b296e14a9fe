"""A Kafka client librdkafka left without any broker is made anew, and loses nothing.

librdkafka 2.16 may forget every broker when one shutting down answers a Metadata request with
none (confluentinc/librdkafka#5301); the client then never connects again. ``Stranded`` reads
that from the client's statistics, and each owner (the dataflow's source partitions and its
publisher, an API replica's feed and producer) makes the client anew. The bug itself cannot be
made to happen on demand, so these tests strand a client by hand (``without_broker``) and check
what the renewal must keep: every message read once, in order, and every message held sent.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer, Producer

from api.backends.kafka import KafkaBackend
from api.readmodel import ReadModel
from dataflows.kafka import (
    PRODUCER_DEFAULTS,
    STRANDED_AFTER,
    EventSource,
    Stranded,
    Topics,
    ensure_topics,
    renew_producer,
)
from tests.api.test_promise_table import entry
from tests.integration.faults import read_all

pytestmark = pytest.mark.kafka


def statistics_of(bootstrap: str) -> str:
    """One statistics report of a consumer connected to ``bootstrap``."""
    seen: list[str] = []
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "stats",
            "statistics.interval.ms": 100,
            "stats_cb": seen.append,
        }
    )
    try:
        consumer.list_topics(timeout=15)
        deadline = time.monotonic() + 15
        while not seen and time.monotonic() < deadline:
            consumer.poll(0.1)
        assert seen, "no statistics"
        return seen[-1]
    finally:
        consumer.close()


def test_a_client_is_stranded_only_after_several_statistics_in_a_row_without_a_broker(bootstrap):
    connected = statistics_of(bootstrap)
    report = orjson.loads(connected)
    assert report["brokers"], report  # what a working client reports
    alone = orjson.dumps({**report, "brokers": {}}).decode()  # what #5301 leaves
    watch = Stranded()
    for _ in range(STRANDED_AFTER - 1):
        watch.stats(alone)
    assert not watch.stranded
    watch.stats(connected)  # a broker again: the count starts over
    for _ in range(STRANDED_AFTER - 1):
        watch.stats(alone)
    assert not watch.stranded
    watch.stats(alone)
    assert watch.stranded


def test_a_renewed_producer_sends_what_the_stranded_one_held_in_order(bootstrap, prefix):
    topic = f"{prefix}held"
    ensure_topics(bootstrap, Topics(prefix), partitions=1)
    watch = Stranded()
    # nothing listens on port 1: the old producer holds everything it is given
    old = Producer(
        {"bootstrap.servers": "127.0.0.1:1", **PRODUCER_DEFAULTS, **watch.producer_config()}
    )
    sent = [f"m{i}".encode() for i in range(20)]
    for value in sent:
        old.produce(topic, value, b"k")
    old.poll(0.2)
    assert len(old) == len(sent)

    def make() -> Producer:
        return Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})

    new = renew_producer(old, watch, make)
    assert new.flush(30) == 0
    assert watch.purged == []  # each handed over once
    assert read_all(bootstrap, topic) == [sent]


def test_a_source_partition_made_anew_reads_on_from_its_next_offset(bootstrap, prefix):
    topics = Topics(prefix)
    ensure_topics(bootstrap, topics, partitions=1)
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
    for i in range(30):
        producer.produce(topics.events, f"e{i}".encode(), b"S1")
    assert producer.flush(30) == 0
    part = EventSource(bootstrap, topics.events, batch_size=7).build_part("events", "0", None)
    try:
        read: list[int] = []
        renewed = False
        deadline = time.monotonic() + 60
        while len(read) < 30 and time.monotonic() < deadline:
            if len(read) >= 10 and not renewed:  # stranded between two batches
                first = part.consumer
                part.watch.without_broker = STRANDED_AFTER
                renewed = True
            read.extend(message.offset() or 0 for message in part.next_batch())
        assert renewed and part.consumer is not first
        assert read == list(range(30))  # none lost, none read twice
        assert part.snapshot() == 30
    finally:
        part.close()


class Recording(ReadModel):
    """A read model that remembers every message its feed gave it."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: list[bytes] = []

    def take(self, topic: str, value: bytes) -> Any:
        self.taken.append(value)
        return super().take(topic, value)


def test_a_replica_s_feed_and_producer_made_anew_lose_and_repeat_nothing(bootstrap, prefix):
    topics = Topics(prefix)
    ensure_topics(bootstrap, topics, partitions=2)
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})

    def publish(skus: range) -> list[bytes]:
        values = [entry(f"SKU{i}", {"100": {}}) for i in skus]
        for i, value in zip(skus, values, strict=True):
            producer.produce(topics.promises, value, f"SKU{i}".encode())
        assert producer.flush(30) == 0
        return values

    def wait_taken(count: int) -> None:
        deadline = time.monotonic() + 60
        while len(readmodel.taken) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # and nothing more after it

    before = publish(range(40))
    readmodel = Recording()
    backend = KafkaBackend(readmodel, bootstrap, topics, partitions=2)
    backend.start()
    try:
        wait_taken(len(before))
        consumer, old = backend._consumer, backend._producer
        backend._consumer_watch.without_broker = STRANDED_AFTER
        backend._producer_watch.without_broker = STRANDED_AFTER
        after = publish(range(40, 100))
        wait_taken(len(before) + len(after))
        assert backend._consumer is not consumer and backend._producer is not old
        assert sorted(readmodel.taken) == sorted(before + after)  # each once
        assert len(readmodel.taken) == len(before) + len(after)

        # the new producer sends what a request gives it
        backend._produce(b"an event", "S1")
        renewed = backend._producer
        assert renewed is not None and renewed.flush(30) == 0
        assert sorted(read_all(bootstrap, topics.events)) == [[], [b"an event"]]
    finally:
        backend.stop()
