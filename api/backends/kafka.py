"""Kafka mode: the read model from the dataflow's topics, writes to ``omnistock.events``.

A consumer thread reads ``omnistock.atp``, ``omnistock.reservations`` and ``omnistock.promises``
(the promise table, compacted) from their beginning into the read model (any number of
replicas do the same, each on its own), ``omnistock.alerts`` from the last 10,000 messages of
each partition (the read model keeps the latest 10,000, so a replica started late still
answers the recent alerts), and ``omnistock.deadletter`` from its end, only to hear at once
when the engine refuses an event this replica sent. The replica is ``caught_up`` once it has
read every partition of the first four up to where it stood at start-up; until then the
routes answer 503 ``not_ready``.

A command (``reserve``, ``release``, ``fulfil``) is produced to the events topic keyed by
``location_id`` (murmur2, like every producer here), so one book sees every reservation of
its position in order: the engine decides, whatever the number of replicas. The request then
waits for the outcome carrying its ``reservation_id`` and ``event_id`` on the reservations
topic, or a dead letter whose raw event has them.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any, Final

import anyio.to_thread
import orjson
from confluent_kafka import OFFSET_END, Consumer, KafkaException, Producer, TopicPartition

from api.backends import Answer, Pending
from api.errors import ApiError
from api.readmodel import ReadModel
from dataflows.kafka import (
    CONSUMER_DEFAULTS,
    PRODUCER_DEFAULTS,
    Stranded,
    Topics,
    ensure_topics,
    renew_producer,
)
from engine.errors import ConfigError
from engine.events import Event
from engine.outputs import Rejected

LAG_EVERY_S: Final = 1.0
Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Answer]"]


class KafkaBackend:
    """The read model's feed and the write path over Kafka."""

    mode = "kafka"
    dataflow_registry = None  # the dataflow is omnistock run's: its --metrics-port serves them

    def __init__(
        self, readmodel: ReadModel, bootstrap: str, topics: Topics, partitions: int = 4
    ) -> None:
        self.readmodel = readmodel
        self.bootstrap = bootstrap
        self.topics = topics
        self.partitions = partitions
        self.caught_up = False
        self.lag = -1
        self._waiters: dict[tuple[str, str], Waiter] = {}
        self._waiters_lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: Producer | None = None
        self._consumer: Consumer | None = None
        self._read: dict[tuple[str, int], int] = {}  # next offset to read, per partition
        self._targets: dict[tuple[str, int], int] = {}  # where each partition stood at start
        self._dead: list[TopicPartition] = []  # the dead letters' partitions
        self._producer_watch = self._consumer_watch = Stranded()  # see _renew_if_stranded
        self._producing = threading.Lock()  # a produce, or the producer's renewal

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> bool:
        if self._thread is not None:
            return False
        ensure_topics(self.bootstrap, self.topics, self.partitions)
        self._producer = self._new_producer()
        consumer = self._consumer = self._new_consumer()
        assignment = []
        kept = self.readmodel.alerts.capacity
        topics = self.topics
        for topic in (topics.atp, topics.reservations, topics.promises, topics.alerts):
            for index in self._partitions_of(consumer, topic):
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, index), 15)
                if topic == self.topics.alerts:
                    # The tail only, what the read model keeps: as an offset, not librdkafka's
                    # logical tail (-2000 - n, resolved later), so the lag counts from it.
                    low = max(low, high - kept)
                self._read[(topic, index)] = low
                self._targets[(topic, index)] = high
                assignment.append(TopicPartition(topic, index, low))
        dead = self.topics.deadletter
        assignment.extend(
            TopicPartition(dead, index, OFFSET_END) for index in self._partitions_of(consumer, dead)
        )
        consumer.assign(assignment)
        self._dead = [TopicPartition(dead, p.partition) for p in assignment if p.topic == dead]
        self._update_lag(refresh=False)
        self._thread = threading.Thread(target=self._loop, name="readmodel", daemon=True)
        self._thread.start()
        return True

    def _new_producer(self) -> Producer:
        """The events' producer, watched by ``self._producer_watch`` (``Stranded``)."""
        self._producer_watch = Stranded()
        config = {"bootstrap.servers": self.bootstrap, **PRODUCER_DEFAULTS, "linger.ms": "1"}
        return Producer({**config, **self._producer_watch.producer_config()})

    def _new_consumer(self) -> Consumer:
        """The feed's consumer (nothing assigned), watched by ``self._consumer_watch``."""
        self._consumer_watch = Stranded()
        return Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"omnistock-api-{uuid.uuid4().hex}",  # assign() never joins it
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                **CONSUMER_DEFAULTS,
                **self._consumer_watch.config(),
            }
        )

    def _renew_if_stranded(self) -> Consumer:
        """The feed's consumer, and the producer, each made anew if it was left without a
        broker (``dataflows.kafka.Stranded``): the consumer reads on from the next offset of
        every partition, the producer sends what the old one held."""
        consumer = self._consumer
        assert consumer is not None
        if self._consumer_watch.stranded:
            self._consumer_watch.renewing("the read model's consumer")
            # the dead letters from where the old one stood (their end, if it never read one)
            dead = [
                TopicPartition(p.topic, p.partition, p.offset if p.offset >= 0 else OFFSET_END)
                for p in consumer.position(self._dead)
            ]
            consumer.close()
            consumer = self._consumer = self._new_consumer()
            consumer.assign(
                [TopicPartition(topic, index, at) for (topic, index), at in self._targets_read()]
                + dead
            )
        producer = self._producer
        if producer is not None and self._producer_watch.stranded:
            with self._producing:  # no request's event lands in the old one after its purge
                self._producer = renew_producer(producer, self._producer_watch, self._new_producer)
        return consumer

    def _targets_read(self) -> list[tuple[tuple[str, int], int]]:
        """The next offset of every partition read from a known start (all but dead letters)."""
        return [(key, self._read[key]) for key in self._targets]

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        if self._producer is not None:
            self._producer.flush(5)

    def health(self) -> dict[str, Any]:
        thread = self._thread
        return {
            "caught_up": self.caught_up,
            "lag": self.lag,
            "bootstrap": self.bootstrap,
            "topic_prefix": self.topics.prefix,
            # what the feed has read and the high watermark it measured, per partition
            "feed": "running" if thread is not None and thread.is_alive() else "stopped",
            "partitions": {
                f"{topic}/{index}": [self._read.get((topic, index), -1), high]
                for (topic, index), high in list(self._targets.items())
            },
        }

    # -- writes -------------------------------------------------------------------------------

    async def command(self, raw: bytes, event: Event, timeout_s: float) -> Answer:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        key = (getattr(event, "reservation_id", ""), event.event_id)
        with self._waiters_lock:
            self._waiters[key] = (loop, future)
        try:
            self._produce(raw, event.location_id)
        except BaseException:
            with self._waiters_lock:
                self._waiters.pop(key, None)
            raise
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return Pending(key[0], key[1])  # sent: the engine decides it later
        finally:
            with self._waiters_lock:
                self._waiters.pop(key, None)

    async def submit(self, items: list[tuple[int, bytes, Event]]) -> list[tuple[int, Rejected]]:
        for _, raw, event in items:
            self._produce(raw, event.location_id)
        producer = self._producer
        assert producer is not None
        left = await anyio.to_thread.run_sync(producer.flush, 10.0)
        if left:
            raise ApiError(
                503, "timeout", f"{left} events not yet on the broker after 10 s: retry them"
            )
        return []

    def _produce(self, raw: bytes, key: str) -> None:
        producer = self._producer
        if producer is None:
            raise ApiError(503, "not_ready", "the Kafka producer is not started")
        with self._producing:
            producer = self._producer or producer  # renewed meanwhile: the new one
            try:
                producer.produce(self.topics.events, raw, key)
            except BufferError:
                producer.poll(0.5)
                producer.produce(self.topics.events, raw, key)
        producer.poll(0)

    # -- the read model's feed ------------------------------------------------------------------

    def _loop(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        atp, reservations, alerts = self.topics.atp, self.topics.reservations, self.topics.alerts
        promises = self.topics.promises
        readmodel = self.readmodel
        next_lag = time.monotonic() + LAG_EVERY_S
        while not self._stopped.is_set():
            consumer = self._renew_if_stranded()
            # consume(n, timeout) waits for n messages or the timeout: drain what is there, and
            # only when nothing is, block on poll() that returns at the first message.
            messages = consumer.consume(1000, 0)
            if not messages:
                first = consumer.poll(0.05)
                messages = [] if first is None else [first]
            for message in messages:
                if message.error() is not None:
                    continue
                topic: Any = message.topic()
                value = message.value()
                self._read[(topic, message.partition() or 0)] = (message.offset() or 0) + 1
                if not value:
                    continue
                if topic == atp:
                    readmodel.take("atp", value)
                elif topic == reservations:
                    outcome = readmodel.take("reservations", value)
                    if outcome is not None and outcome.event_id is not None:
                        self._resolve((outcome.reservation_id, outcome.event_id), outcome)
                elif topic == alerts:
                    readmodel.take("alerts", value)
                elif topic == promises:
                    readmodel.take("promises", value)
                else:
                    self._dead_letter(value)
            if self._producer is not None:
                self._producer.poll(0)
            if not self.caught_up or time.monotonic() >= next_lag:
                self._update_lag(refresh=time.monotonic() >= next_lag)
                if time.monotonic() >= next_lag:
                    next_lag = time.monotonic() + LAG_EVERY_S

    def _update_lag(self, refresh: bool) -> None:
        consumer = self._consumer
        if refresh and consumer is not None:
            for topic, index in list(self._targets):
                # The high watermark each fetch response carries: a query to the broker would
                # wait behind the consumer's fetch long-poll (up to fetch.wait.max.ms, 500 ms,
                # per partition on an idle broker), and hold up the outcomes meanwhile.
                try:
                    _, high = consumer.get_watermark_offsets(
                        TopicPartition(topic, index), cached=True
                    )
                except KafkaException:
                    continue
                if self.caught_up and high >= 0:  # negative: no fetch answered yet
                    self._targets[(topic, index)] = high
        lag = sum(max(0, high - self._read[key]) for key, high in self._targets.items())
        self.lag = lag
        if lag == 0:
            self.caught_up = True

    def _dead_letter(self, value: bytes) -> None:
        """A refused event: answer its request if this replica sent it."""
        try:
            record = orjson.loads(value)
            event = orjson.loads(record["raw"])
            key = (event.get("reservation_id") or "", event["event_id"])
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return
        code, _, message = str(record.get("reason", "")).partition(": ")
        self._resolve(key, Rejected(code, message))

    def _resolve(self, key: tuple[str, str], answer: Answer) -> None:
        with self._waiters_lock:
            waiter = self._waiters.get(key)
        if waiter is not None:
            loop, future = waiter
            loop.call_soon_threadsafe(_settle, future, answer)

    @staticmethod
    def _partitions_of(consumer: Consumer, topic: str) -> list[int]:
        try:
            metadata = consumer.list_topics(topic, timeout=15).topics[topic]
        except KafkaException as exc:
            raise ConfigError(f"cannot reach Kafka: {exc}") from None
        if metadata.error is not None:
            raise ConfigError(f"cannot read topic {topic}: {metadata.error}")
        return sorted(metadata.partitions)


def _settle(future: asyncio.Future[Answer], answer: Answer) -> None:
    if not future.done():
        future.set_result(answer)
