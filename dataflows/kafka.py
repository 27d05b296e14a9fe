"""Kafka for the dataflow: topic names and creation, the source, and a keyed producer sink.

Thin and typed; connects on first use. Topics (prefix configurable, ``omnistock.`` by
default): ``events`` (keyed by location, partitions configurable), ``atp`` (compacted),
``reservations``, ``alerts``, ``deadletter``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bytewax.connectors.kafka import KafkaSource
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import OFFSET_BEGINNING, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from dataflows.flow import Pair, Sinks
from engine.errors import ConfigError

# librdkafka's default partitioner hashes keys with CRC32; Java clients use murmur2. Every
# producer here uses murmur2 so any client agrees on which partition holds a location.
PRODUCER_DEFAULTS = {"partitioner": "murmur2_random", "linger.ms": "5", "compression.type": "lz4"}


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic names for one prefix."""

    prefix: str = "omnistock."

    @property
    def events(self) -> str:
        return f"{self.prefix}events"

    @property
    def atp(self) -> str:
        return f"{self.prefix}atp"

    @property
    def reservations(self) -> str:
        return f"{self.prefix}reservations"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}alerts"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}deadletter"


def ensure_topics(bootstrap: str, topics: Topics, partitions: int = 4) -> list[str]:
    """Create the topics that are missing; returns the names created."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        existing = set(admin.list_topics(timeout=15).topics)
    except KafkaException as exc:
        raise ConfigError(f"cannot reach Kafka at {bootstrap}: {exc}") from None
    wanted = {
        topics.events: NewTopic(topics.events, partitions, 1),
        topics.atp: NewTopic(topics.atp, partitions, 1, config={"cleanup.policy": "compact"}),
        topics.reservations: NewTopic(topics.reservations, partitions, 1),
        topics.alerts: NewTopic(topics.alerts, partitions, 1),
        topics.deadletter: NewTopic(topics.deadletter, 1, 1),
    }
    missing = [topic for name, topic in wanted.items() if name not in existing]
    if not missing:
        return []
    for name, future in admin.create_topics(missing).items():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise ConfigError(f"cannot create topic {name}: {exc}") from None
    return [topic.topic for topic in missing]


def source(bootstrap: str, topics: Topics) -> KafkaSource:
    """The events topic, every partition from its beginning, then tailing."""
    return KafkaSource(
        [bootstrap],
        [topics.events],
        tail=True,
        starting_offset=OFFSET_BEGINNING,
        add_config={"statistics.interval.ms": "0"},
    )


def sinks(bootstrap: str, topics: Topics) -> Sinks:
    """One keyed producer sink per output topic."""
    return Sinks(
        atp=ProducerSink(bootstrap, topics.atp),
        reservations=ProducerSink(bootstrap, topics.reservations),
        alerts=ProducerSink(bootstrap, topics.alerts),
        dead_letters=ProducerSink(bootstrap, topics.deadletter),
    )


class ProducerSink(DynamicSink[Pair]):
    """Writes ``(key, value)`` pairs to a topic, partitioned by key (murmur2)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ProducerPartition:
        return _ProducerPartition(self.bootstrap, self.topic)


class _ProducerPartition(StatelessSinkPartition[Pair]):
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
        self.topic = topic

    def write_batch(self, items: list[Pair]) -> None:
        produce = self.producer.produce
        for key, value in items:
            try:
                produce(self.topic, value, key)
            except BufferError:  # the local queue is full: let it drain, then retry once
                self.producer.poll(1.0)
                produce(self.topic, value, key)
        # Delivered before the batch counts as written: with recovery, an epoch's output must be
        # on the broker before its snapshot commits (at-least-once output).
        self.producer.flush()

    def close(self) -> None:
        self.producer.flush()
