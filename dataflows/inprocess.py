"""The dataflow inside another process: an in-memory source and sink around ``build_flow``.

Embedded mode (``omnistock serve`` without ``--bootstrap``, ``omnistock demo``) runs the very
dataflow ``omnistock run`` runs, in a thread of the API's process: the API's writes go into a
queue that the flow's source drains, and every ``Published`` item the flow emits is handed to a
callback (the API's read model). One place parses, routes, folds, expires on the clock and
publishes, whatever the mode.

An event sent with a ``Ticket`` as its origin is acknowledged: the flow emits, after the
outputs of the book that applied it, an ``ack`` message naming the ticket and whether the event
was applied, a duplicate or refused (``dataflows.flow``). A transfer reaches two books and is
acknowledged by each.

A poll of an empty queue waits for the first item (``WAIT_S`` at most) with the GIL released,
so an item enters the flow as soon as it is queued and an idle flow costs almost nothing; the
worker does nothing else meanwhile (one worker, no other source), and its timers are late by
that much at most. The thread runs ``bytewax.testing.run_main``: one worker, no recovery
(embedded mode keeps nothing across restarts; it starts empty). Stopping sets a flag that ends
the source once its queue is drained, so the flow finishes its work and the thread ends: a
dataflow thread still running at interpreter exit would abort the process.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, Final

from bytewax.inputs import DynamicSource, StatelessSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import run_main

from dataflows.flow import Incoming, Published, build_flow
from dataflows.metrics import FlowMetrics
from dataflows.progress import Progress, next_state
from engine.book import EngineConfig

_log = logging.getLogger("omnistock.dataflow")
PART: Final = "queue"  # the queue's name in ``Progress``
REVOCATIONS: Final = "claims"  # the origin of a revocation the flow sends itself
BATCH: Final = 1000  # items a source poll takes at most, as the Kafka source does
# How long a poll of an empty queue waits for its first item. An item put meanwhile wakes it at
# once; an idle flow wakes about 40 times a second instead of at Bytewax's 1 ms cool-down, and
# its timers (live expiry) are late by at most this much.
WAIT_S: Final = 0.025
EPOCH: Final = timedelta(seconds=1)  # nothing waits on epochs without recovery
Deliver = Callable[[list[Published]], None]


class _QueueSource(DynamicSource[Incoming]):
    def __init__(
        self, items: queue.SimpleQueue[Incoming], stopping: threading.Event, progress: Progress
    ) -> None:
        self.items = items
        self.stopping = stopping
        self.progress = progress

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _QueuePartition:
        return _QueuePartition(self)


class _QueuePartition(StatelessSourcePartition[Incoming]):
    def __init__(self, source: _QueueSource) -> None:
        self.items = source.items
        self.stopping = source.stopping
        self.progress = source.progress
        self.progress.report(PART, True)

    def next_batch(self) -> list[Incoming]:
        batch = self._poll()
        # Caught up once a poll leaves the queue empty (its size is exact, unlike a broker's
        # lag: a steady stream of one event a poll is caught up); behind while a batch's
        # worth waits.
        left = self.items.qsize()
        if left == 0 and len(batch) < BATCH:
            behind = False
        else:
            behind = next_state(self.progress.behind(PART), len(batch), BATCH, left)
        self.progress.report(PART, behind, left)
        return batch

    def _poll(self) -> list[Incoming]:
        items = self.items
        try:
            batch = [items.get(timeout=WAIT_S)]  # the GIL is free while it waits
        except queue.Empty:
            if self.stopping.is_set():
                raise StopIteration from None
            return []
        get = items.get_nowait
        try:
            while len(batch) < BATCH:
                batch.append(get())
        except queue.Empty:
            pass
        return batch


class _CallbackSink(DynamicSink[Published]):
    def __init__(self, deliver: Deliver) -> None:
        self.deliver = deliver

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _CallbackPartition:
        return _CallbackPartition(self.deliver)


class _CallbackPartition(StatelessSinkPartition[Published]):
    def __init__(self, deliver: Deliver) -> None:
        self.deliver = deliver

    def write_batch(self, items: list[Published]) -> None:
        self.deliver(items)


class InProcessFlow:
    """``build_flow`` running in a thread of this process.

    Args:
        config: the rules' settings.
        deliver: called in the flow's thread with each batch of ``Published`` items, in order.
        sku_shards: as ``build_flow``'s.
        maker: as ``build_flow``'s: the promise table's maker, or ``None``.

    Attributes:
        metrics: what the flow counts (``dataflows.metrics``), in a registry of its own, its
            input lag the queue's length: the API's ``/metrics`` includes it.
    """

    def __init__(
        self, config: EngineConfig, deliver: Deliver, sku_shards: int = 1, maker: Any = None
    ) -> None:
        self._items: queue.SimpleQueue[Incoming] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self.progress = Progress()
        self.metrics = FlowMetrics(progress=self.progress)
        self._deliver = deliver
        self._flow = build_flow(
            _QueueSource(self._items, self._stopping, self.progress),
            _CallbackSink(self._published),
            config,
            sku_shards,
            acknowledge=True,
            progress=self.progress,
            maker=maker,
            metrics=self.metrics,
        )
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self) -> bool:
        """Start the flow's thread; False when it was started before."""
        if self._thread is not None:
            return False
        self._thread = threading.Thread(target=self._run, name="dataflow", daemon=True)
        self._thread.start()
        atexit.register(self.stop)  # never leave the flow running into interpreter exit
        return True

    def send(self, value: bytes, origin: Any) -> None:
        """Queue one raw event; ``origin`` is what a dead letter cites (a ``Ticket`` asks for
        an acknowledgement)."""
        self._items.put(Incoming(value, origin))

    def send_many(self, items: Iterable[tuple[bytes, Any]]) -> None:
        put = self._items.put
        for value, origin in items:
            put(Incoming(value, origin))

    @property
    def queued(self) -> int:
        """Events sent that the flow has not read yet."""
        return self._items.qsize()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Let the flow drain what was sent, then end its thread; idempotent."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            atexit.unregister(self.stop)

    def _published(self, items: list[Published]) -> None:
        """What the flow publishes, to ``deliver``; a revocation (topic ``events``) goes back
        into the flow's own input, as on Kafka it goes to the events topic."""
        put = self._items.put
        for _, messages in items:
            for topic, _, value in messages:
                if topic == "events":
                    put(Incoming(value, REVOCATIONS))
        self._deliver(items)

    def _run(self) -> None:
        try:
            run_main(self._flow, epoch_interval=EPOCH)
        except BaseException as exc:  # the flow is gone: health says so, requests get 503
            self.error = exc
            _log.exception("the in-process dataflow stopped")
