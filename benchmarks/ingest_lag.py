"""Consumer lag of the dataflow during ``benchmarks/ingest.py``, measured from outside.

``omnistock run`` commits no offsets to a consumer group: its source assigns the partitions and
keeps the offset to read next in Bytewax's recovery store (``dataflows/kafka.py``), so there is
no committed offset to subtract. The lag reported is the **source lag**: messages on the events
topic (each partition's high watermark) not yet reflected on the atp topic, summed over the
partitions. How far the flow has got in a partition is known from probes: every ``every``
messages the producer writes one probe per partition (a receipt at location ``ZZp<partition>``,
sku ``P<n>``, produced to that partition explicitly); its delivery report gives its offset, and
once its position shows on the atp topic the flow has applied and published everything of the
partition up to it (a partition is read in order). The figure is thus an upper bound, at most
one probe interval (``every`` messages, plus the probes) above the truth, and it counts the
time to publish as lag. Sampled every ``interval`` seconds, from the loop that reads the atp
topic (no thread: the machine has two cores).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from confluent_kafka import Consumer, Message, Producer, TopicPartition

PROBE_PREFIX = b"ZZp"


class LagTracker:
    """Probes the events topic and samples the source lag (see the module docstring).

    ``samples`` holds ``(perf_counter, lag, reflected)``: the lag in messages, and how many
    messages of the topic the atp topic reflects so far (its slope is the flow's throughput).
    """

    def __init__(
        self, bootstrap: str, topic: str, partitions: int, every: int = 1000, interval: float = 0.25
    ) -> None:
        self.topic, self.partitions, self.every, self.interval = topic, partitions, every, interval
        self.reader = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": f"bench-lag-{uuid.uuid4()}"}
        )
        self.offsets: dict[bytes, tuple[int, int]] = {}  # probe's atp key: partition, offset
        self.early: set[bytes] = set()  # probes seen on atp before their delivery report
        self.done = [0] * partitions  # per partition: offsets below it are reflected on atp
        self.samples: list[tuple[float, int, int]] = []
        self.probes = 0
        self.due = 0.0

    def probe(self, producer: Producer) -> set[str]:
        """One probe per partition, produced (not flushed); returns their atp keys."""
        keys = set()
        for part in range(self.partitions):
            self.probes += 1
            location, sku = f"ZZp{part}", f"P{self.probes:07d}"
            body: dict[str, Any] = {"event_id": f"probe-{self.probes}", "type": "receipt"}
            body |= {"location_id": location, "sku": sku, "ts": int(time.time() * 1000), "qty": 1}
            key = f"{location}:{sku}"
            while True:
                try:
                    producer.produce(
                        self.topic,
                        orjson.dumps(body),
                        location,
                        partition=part,
                        on_delivery=self._delivered(key.encode()),
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
            keys.add(key)
        return keys

    def produce(
        self, producer: Producer, lines: Iterable[bytes], send: Callable[[bytes], None]
    ) -> None:
        """``send`` each line, with a round of probes every ``every`` lines."""
        for n, line in enumerate(lines):
            if n % self.every == 0:
                self.probe(producer)
            send(line)

    def observe(self, messages: list[Message], now: float) -> None:
        """Note the probes among messages read from the atp topic; sample when one is due."""
        for message in messages:
            key = message.key()
            if key is not None and key.startswith(PROBE_PREFIX) and message.error() is None:
                if (where := self.offsets.get(key)) is None:
                    self.early.add(key)
                else:
                    self._reflect(*where)
        if now >= self.due:
            self.sample(now)

    def sample(self, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        self.due = now + self.interval
        high = 0
        for part in range(self.partitions):
            where = TopicPartition(self.topic, part)
            high += self.reader.get_watermark_offsets(where, timeout=5, cached=False)[1]
        reflected = sum(self.done)
        self.samples.append((now, max(0, high - reflected), reflected))

    def series(self, since: float, until: float = float("inf")) -> list[tuple[float, int, int]]:
        """The samples taken from ``since`` to ``until`` (``perf_counter``), their time in
        seconds from ``since``."""
        return [(at - since, lag, n) for at, lag, n in self.samples if since <= at <= until]

    def close(self) -> None:
        self.reader.close()

    def _delivered(self, key: bytes) -> Callable[[Any, Message], None]:
        def callback(error: Any, message: Message) -> None:
            part, offset = message.partition(), message.offset()
            if error is None and part is not None and offset is not None:
                where = self.offsets[key] = (part, offset)
                if key in self.early:
                    self.early.discard(key)
                    self._reflect(*where)

        return callback

    def _reflect(self, part: int, offset: int) -> None:
        if offset >= self.done[part]:
            self.done[part] = offset + 1
