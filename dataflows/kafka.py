"""Kafka for the dataflow: topic names and creation, the source, and a keyed producer sink.

Thin and typed; connects on first use. Topics (prefix configurable, ``omnistock.`` by
default): ``events`` (keyed by location, partitions configurable), ``atp`` (compacted),
``reservations``, ``alerts``, ``deadletter``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # the class confluent_kafka.admin re-exports

from dataflows.flow import Published
from dataflows.keying import Keying, keying_from_env
from dataflows.progress import Progress, next_state
from engine.errors import ConfigError

# librdkafka's default partitioner hashes keys with CRC32; Java clients use murmur2. Every
# producer here uses murmur2 so any client agrees on which partition holds a location.
#
# A broker that restarts may leave a producer believing a partition has no leader (librdkafka
# logs "new leader-1 not found in cache") until its next periodic metadata refresh, 5 minutes
# by default: the partition's messages wait that long (seen in the broker stop-and-start fault
# case). A refresh every 10 s bounds the wait at a cost of one small request per broker.
#
# Without idempotence librdkafka may write a partition's messages out of order when it retries
# a request (a leader not yet elected on a new topic, a broker restarting) while later ones are
# in flight: a location's events could then be folded out of order, and a compacted topic could
# keep an older position as a key's last value. Idempotence keeps every partition in the order
# produced, and a retry writes nothing twice (docs/decisions.md D119).
PRODUCER_DEFAULTS = {
    "partitioner": "murmur2_random",
    "enable.idempotence": "true",
    "linger.ms": "5",
    "compression.type": "lz4",
    "topic.metadata.refresh.interval.ms": "10000",
}
# librdkafka stops fetching a partition whose local queue is full for fetch.queue.backoff.ms,
# 1,000 ms by default: a reader that drains the queue quickly then stalls for up to a second
# (docs/performance.md, "Effects of single changes").
CONSUMER_DEFAULTS = {"fetch.queue.backoff.ms": "10"}


# -- clients left without a broker ------------------------------------------------------------
#
# librdkafka (2.10 on; 2.16 still) forgets every broker a Metadata response leaves out, and a
# broker shutting down may answer one that lists no broker at all ("0 brokers, 1 topics";
# confluentinc/librdkafka#5301). The client then knows no broker, not even its bootstrap
# servers, stops its re-bootstrap timer, and never connects again: a consumer stops fetching
# and a producer holds its messages until they time out, with nothing logged (seen in the
# broker stop-and-start fault case: the dataflow's consumer of one events partition read
# nothing for minutes after the broker was back). Its statistics say so (no broker of source
# "configured" or "learned"), and its owner then makes the client anew (``Stranded``).
STATS_INTERVAL_MS = 1000
STRANDED_AFTER = 3  # statistics in a row without a broker: a client stranded, not in between
PURGED = frozenset({KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT})
_log = logging.getLogger("omnistock.kafka")


class Stranded:
    """Watches one client's statistics (its ``stats_cb``; ``config()`` sets it up): ``stranded``
    once several in a row show it without any broker to connect to. For a producer it is also
    the delivery report callback (failures only): what ``purge`` takes out of a stranded
    producer is kept in ``purged``, to be produced again by its successor; any other failure
    goes to ``on_failure``."""

    def __init__(self, on_failure: Callable[[KafkaError, Message], None] | None = None) -> None:
        self.without_broker = 0
        self.purged: list[tuple[str, bytes | None, bytes | None]] = []
        self.on_failure = on_failure

    def config(self) -> dict[str, Any]:
        return {"statistics.interval.ms": STATS_INTERVAL_MS, "stats_cb": self.stats}

    def producer_config(self) -> dict[str, Any]:
        return {**self.config(), "delivery.report.only.error": True, "on_delivery": self.report}

    def stats(self, raw: str) -> None:
        if '"source":"learned"' in raw or '"source":"configured"' in raw:
            self.without_broker = 0
        else:
            self.without_broker += 1

    @property
    def stranded(self) -> bool:
        return self.without_broker >= STRANDED_AFTER

    def renewing(self, client: str) -> None:
        """Say that ``client``, stranded, is being made anew (a warning: it should be rare)."""
        _log.warning(
            "%s: no broker in %d statistics in a row (librdkafka#5301): made anew",
            client,
            self.without_broker,
        )

    def report(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            return
        if error.code() in PURGED:
            self.purged.append((str(message.topic()), message.value(), message.key()))
        elif self.on_failure is not None:
            self.on_failure(error, message)


def renew_producer(old: Producer, watch: Stranded, make: Callable[[], Producer]) -> Producer:
    """A new producer (``make()``, watched by a new ``Stranded``) in place of the stranded
    ``old``, with every message ``old`` still held produced again, in order."""
    watch.renewing("a producer")
    old.purge()
    old.flush(0)  # serves the purged messages' reports: into watch.purged
    new = make()
    for topic, value, key in watch.purged:
        new.produce(topic, value, key)
    watch.purged.clear()
    return new


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

    @property
    def promises(self) -> str:
        return f"{self.prefix}promises"


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
        topics.promises: NewTopic(
            topics.promises, partitions, 1, config={"cleanup.policy": "compact"}
        ),
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


def source(
    bootstrap: str, topics: Topics, batch_size: int = 2000, progress: Progress | None = None
) -> EventSource:
    """The events topic, every partition from its beginning (or its snapshot), then tailing;
    each poll reports to ``progress`` whether its partition has caught up."""
    return EventSource(bootstrap, topics.events, batch_size, progress or Progress())


class EventSource(FixedPartitionedSource[Message, int]):
    """Reads every partition of the events topic; Bytewax spreads the partitions over workers.

    Bytewax gives each partition to a worker (``dataflows.keying.primaries``); ``keying`` keys
    the books so that the worker reading a partition folds its locations' books.

    Yields confluent-kafka's own ``Message`` objects: Bytewax's ``KafkaSource`` copies each into
    a Python dataclass, which cost more than parsing the event (``benchmarks/ingest.py``). The
    snapshot of a partition is the offset to read next, so a resumed run reads on from the
    epoch its state belongs to.
    """

    def __init__(
        self, bootstrap: str, topic: str, batch_size: int, progress: Progress | None = None
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.batch_size = batch_size
        self.progress = progress or Progress()

    def list_parts(self) -> list[str]:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        try:
            metadata = admin.list_topics(self.topic, timeout=15).topics[self.topic]
        except KafkaException as exc:
            raise ConfigError(f"cannot reach Kafka at {self.bootstrap}: {exc}") from None
        if metadata.error is not None:
            raise ConfigError(f"cannot read topic {self.topic}: {metadata.error}")
        return [str(index) for index in sorted(metadata.partitions)]

    def keying(self) -> Keying:
        """The books' keys for this topic (``dataflows.keying``): by default each hashes to
        the worker that reads its location's partition (the producers' murmur2), so the fold
        after this source exchanges almost nothing between workers; ``OMNISTOCK_KEYING=location``
        keys by location id, as before issue #19."""
        parts = self.list_parts()
        return keying_from_env(len(parts), parts)

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _EventPartition:
        return _EventPartition(self, int(for_part), resume_state)


class _EventPartition(StatefulSourcePartition[Message, int]):
    def __init__(self, source: EventSource, index: int, resume_state: int | None) -> None:
        self.offset = OFFSET_BEGINNING if resume_state is None else resume_state
        self.bootstrap = source.bootstrap
        self.batch_size = source.batch_size
        self.progress = source.progress
        self.part = TopicPartition(source.topic, index)
        self.key = str(index)
        self.consumer = self._connect()
        self.progress.report(self.key, True)  # behind until a poll proves otherwise

    def _connect(self) -> Consumer:
        """A consumer of the partition from ``self.offset``, watched by ``self.watch``."""
        self.watch = Stranded()
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": "omnistock-dataflow",  # required by librdkafka; assign() never joins
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                **CONSUMER_DEFAULTS,
                **self.watch.config(),
            }
        )
        consumer.assign([TopicPartition(self.part.topic, self.part.partition, self.offset)])
        return consumer

    def next_batch(self) -> list[Message]:
        if self.watch.stranded:  # see Stranded: read on from the next offset with a new one
            self.watch.renewing(f"the consumer of {self.part.topic}[{self.part.partition}]")
            self.consumer.close()
            self.consumer = self._connect()
        messages = self.consumer.consume(self.batch_size, 0.001)
        try:
            return self._batch(messages)
        finally:
            self._report(len(messages))

    def _report(self, got: int) -> None:
        """Whether this partition has caught up with what the broker holds (the high watermark
        of the latest fetch, no round trip)."""
        try:
            low, high = self.consumer.get_watermark_offsets(self.part, cached=True)
        except KafkaException:
            return
        position = self.offset if self.offset >= 0 else low
        lag = high - position if high >= 0 and position >= 0 else None
        progress = self.progress
        behind = next_state(progress.behind(self.key), got, self.batch_size, lag)
        progress.report(self.key, behind, lag)

    def _batch(self, messages: list[Message]) -> list[Message]:
        if not messages:
            return messages
        batch = []
        for message in messages:
            error = message.error()
            if error is None:
                batch.append(message)
            elif error.fatal():
                raise KafkaException(error)
            # Other errors (a broker restarting) carry no event; librdkafka retries them.
        if batch:
            last = batch[-1].offset()
            self.offset = self.offset if last is None else last + 1
        return batch

    def snapshot(self) -> int:
        return self.offset

    def close(self) -> None:
        self.consumer.close()


class PublishSink(DynamicSink[Published]):
    """Writes what the flow publishes to its topics, keyed (murmur2), one producer per worker.

    With ``flush_every_batch`` (what a run with recovery needs), a batch counts as written once
    the broker has it: an epoch's output is then on the broker before its snapshot commits
    (at-least-once output), at a round trip per batch. Without recovery a restart reads the log
    from its start and publishes everything again, so nothing waits: the producer sends in the
    background (``linger.ms``) and is flushed on close.
    """

    def __init__(self, bootstrap: str, topics: Topics, flush_every_batch: bool = True) -> None:
        self.bootstrap = bootstrap
        self.flush_every_batch = flush_every_batch
        self.names = {
            "atp": topics.atp,
            "reservations": topics.reservations,
            "alerts": topics.alerts,
            "dead": topics.deadletter,
            "promises": topics.promises,  # the promise table's entries, keyed by sku
            "events": topics.events,  # a revocation (engine.claims), keyed by its location
        }

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Publisher:
        return _Publisher(self.bootstrap, self.names, self.flush_every_batch)


class _Publisher(StatelessSinkPartition[Published]):
    def __init__(self, bootstrap: str, names: dict[str, str], flush_every_batch: bool) -> None:
        self.bootstrap = bootstrap
        self.producer = self._connect()
        self.names = names
        self.flush_every_batch = flush_every_batch

    def _connect(self) -> Producer:
        # Reports for failures only (Stranded.producer_config): a report per message delivered
        # costs the flow time in poll() (docs/performance.md), and a failure must not pass.
        self.watch = Stranded(_raise_on_failure)
        config = {"bootstrap.servers": self.bootstrap, **PRODUCER_DEFAULTS}
        return Producer({**config, **self.watch.producer_config()})

    def _renew_if_stranded(self) -> None:
        if self.watch.stranded:  # see Stranded
            self.producer = renew_producer(self.producer, self.watch, self._connect)

    def write_batch(self, items: list[Published]) -> None:
        produce = self.producer.produce
        names = self.names
        for _, messages in items:
            for kind, key, value in messages:
                try:
                    produce(names[kind], value, key)
                except BufferError:  # the local queue is full: let it drain, then retry once
                    self.producer.poll(1.0)
                    produce(names[kind], value, key)
        if self.flush_every_batch:
            self._flush()
        else:
            self.producer.poll(0)  # serve delivery reports; sending goes on in the background
            self._renew_if_stranded()

    def _flush(self) -> None:
        while self.producer.flush(1.0):  # messages left: maybe a producer stranded
            self._renew_if_stranded()

    def close(self) -> None:
        self._flush()


def _raise_on_failure(error: KafkaError | None, message: Message) -> None:
    """A message the broker never took stops the flow (raised from ``poll``/``flush``): a
    restart with recovery publishes it again, rather than losing it in silence."""
    if error is not None:
        raise KafkaException(error)
