"""The alerts the API keeps and streams: ``GET /v1/alerts`` and ``/v1/alerts/stream``.

The read model's feed (``ReadModel.take``, one thread: the in-process dataflow's, or the Kafka
consumer's) hands each ``omnistock.alerts`` message to ``AlertLog.put``. The log numbers it
(1, 2, ... in the order this replica received it: the SSE ``id``) and keeps the latest
``capacity`` (10,000) in a ring, so memory stays bounded (each alert is its JSON as the engine
published it, about 350 bytes, and its filter fields).

Reads take no lock. The writer stores an alert in its slot, then publishes its number as
``last``; a reader walks back from ``last`` and stops at the first slot that holds another
number (overwritten since, by a newer alert), so it sees each alert once, newest first, and
never a half-written one.

Subscribers (the streams) each have a bounded ``asyncio.Queue`` on their event loop. For each
new alert the writer makes one ``loop.call_soon_threadsafe`` per loop that has subscribers;
there, the alert goes into the queue of every subscriber whose filter it matches. The writer
never waits: a subscriber whose queue is full is dropped (its queue emptied and closed with
``CLOSED``), and its client reconnects with ``Last-Event-ID`` to resume from the ring. The
subscriber set is replaced, never changed in place, so the writer reads it without copying.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Final, NamedTuple

import msgspec

from engine.outputs import Alert

ALERTS_KEPT: Final = 10_000  # docs/api.md: the latest 10,000
SUBSCRIBER_QUEUE: Final = 1_000  # alerts a stream may fall behind before it is dropped

_decode = msgspec.json.Decoder(Alert).decode


class Kept(msgspec.Struct, frozen=True, gc=False):
    """One alert as the log keeps it: its number, what the filters read, and its JSON."""

    seq: int
    kind: str
    location_id: str
    sku: str
    raw: bytes  # the message's value: ``engine.outputs.alert_record`` as JSON


class AlertFilter(NamedTuple):
    """The filters of both routes; ``None`` matches anything."""

    location_id: str | None = None
    sku: str | None = None
    kind: str | None = None

    def matches(self, alert: Kept) -> bool:
        return (
            (self.location_id is None or alert.location_id == self.location_id)
            and (self.sku is None or alert.sku == self.sku)
            and (self.kind is None or alert.kind == self.kind)
        )


class Subscriber:
    """One stream's end: the alerts it has yet to send, in its own event loop's queue."""

    __slots__ = ("closed", "filter", "loop", "queue", "sent")

    def __init__(self, loop: asyncio.AbstractEventLoop, where: AlertFilter, size: int) -> None:
        self.loop = loop
        self.filter = where
        self.queue: asyncio.Queue[Kept | None] = asyncio.Queue(size)  # None: closed
        self.sent = 0  # the number of the last alert sent (later ones only)
        self.closed = False

    def offer(self, alert: Kept) -> None:
        """In the subscriber's loop: queue the alert, or drop the subscriber when it is full."""
        if self.closed or alert.seq <= self.sent or not self.filter.matches(alert):
            return
        try:
            self.queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.close()

    def close(self) -> None:
        """Drop what is queued and end the stream (``None`` is the queue's last item)."""
        self.closed = True
        queue = self.queue
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)


def _offer(subscribers: frozenset[Subscriber], alert: Kept) -> None:
    for subscriber in subscribers:
        subscriber.offer(alert)


class AlertLog:
    """The latest ``capacity`` alerts, numbered, and the streams that follow them.

    Args:
        capacity: how many alerts are kept (and, in Kafka mode, read back at start-up from
            the end of each partition of ``omnistock.alerts``).
        queue_size: how far a stream may fall behind before it is dropped.
    """

    def __init__(self, capacity: int = ALERTS_KEPT, queue_size: int = SUBSCRIBER_QUEUE) -> None:
        if capacity < 1 or queue_size < 1:
            raise ValueError("an alert log keeps at least one alert and queues at least one")
        self.capacity = capacity
        self.queue_size = queue_size
        self.last = 0  # the number of the newest alert; 0 before the first
        self.unreadable = 0  # messages that were no alert (skipped)
        self._ring: list[Kept | None] = [None] * capacity
        self._lock = threading.Lock()  # the writer and (un)subscribing, never a read
        self._loops: dict[asyncio.AbstractEventLoop, frozenset[Subscriber]] = {}

    # -- the feed (one thread) ------------------------------------------------------------------

    def put(self, value: bytes) -> Kept | None:
        """One ``omnistock.alerts`` message: keep it and hand it to the streams. A message that
        is not an alert is counted in ``unreadable`` and skipped (the feed must go on)."""
        try:
            alert = _decode(value)
        except msgspec.DecodeError:  # ValidationError included
            self.unreadable += 1
            return None
        with self._lock:
            seq = self.last + 1
            kept = Kept(seq, alert.kind, alert.location_id, alert.sku, value)
            self._ring[seq % self.capacity] = kept
            self.last = seq
            loops = self._loops
        for loop, subscribers in loops.items():
            try:
                loop.call_soon_threadsafe(_offer, subscribers, kept)
            except RuntimeError:  # its loop has closed, and its streams with it
                self._forget_loop(loop)
        return kept

    # -- reads (any thread, no lock) ------------------------------------------------------------

    def latest(self, where: AlertFilter, limit: int) -> list[Kept]:
        """At most ``limit`` kept alerts matching ``where``, newest first."""
        found: list[Kept] = []
        if limit < 1:
            return found
        ring, capacity, top = self._ring, self.capacity, self.last
        for seq in range(top, max(top - capacity, 0), -1):
            alert = ring[seq % capacity]
            if alert is None or alert.seq != seq:
                break  # overwritten since: this one and every older one are gone
            if where.matches(alert):
                found.append(alert)
                if len(found) == limit:
                    break
        return found

    def between(self, after: int, upto: int, where: AlertFilter) -> list[Kept]:
        """The kept alerts numbered ``after + 1`` to ``upto`` matching ``where``, oldest first."""
        found: list[Kept] = []
        ring, capacity = self._ring, self.capacity
        for seq in range(upto, max(after, upto - capacity, 0), -1):
            alert = ring[seq % capacity]
            if alert is None or alert.seq != seq:
                break
            if where.matches(alert):
                found.append(alert)
        found.reverse()
        return found

    @property
    def subscribers(self) -> int:
        """Streams following the log now."""
        return sum(len(subscribers) for subscribers in self._loops.values())

    # -- streams (their event loop) -------------------------------------------------------------

    def subscribe(
        self, where: AlertFilter, after: int | None = None
    ) -> tuple[Subscriber, list[Kept]]:
        """A new stream from the running loop, and what it replays first: with ``after`` (a
        ``Last-Event-ID``), the kept alerts numbered after it, oldest first. Every alert after
        those reaches the subscriber's queue. ``unsubscribe`` it when the stream ends."""
        loop = asyncio.get_running_loop()
        subscriber = Subscriber(loop, where, self.queue_size)
        with self._lock:
            loops = dict(self._loops)
            loops[loop] = loops.get(loop, frozenset()) | {subscriber}
            self._loops = loops
            top = self.last
        subscriber.sent = top
        if after is None or after >= top:  # an id above ``last`` is not this log's: no replay
            return subscriber, []
        return subscriber, self.between(after, top, where)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscriber.closed = True
        with self._lock:
            loops = dict(self._loops)
            left = loops.get(subscriber.loop, frozenset()) - {subscriber}
            if left:
                loops[subscriber.loop] = left
            else:
                loops.pop(subscriber.loop, None)
            self._loops = loops

    def _forget_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            loops = dict(self._loops)
            loops.pop(loop, None)
            self._loops = loops
