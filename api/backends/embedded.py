"""Embedded mode: the dataflow of ``omnistock run``, in this process, feeding the read model.

``dataflows.inprocess.InProcessFlow`` runs ``dataflows.flow.build_flow`` in a thread: the same
steps parse, route, fold, expire on the wall clock and publish as on Kafka. Writes go into its
source; what it publishes comes back through ``ReadModel.take``, the read model's one feed in
every mode. Nothing here decides anything: the books live in the dataflow.

A request that waits (a reservation command, ``POST /v1/events``) sends its events with a
``Ticket`` each, and the flow acknowledges every one after the outputs of the book that applied
it: applied (the positions it changed are already in the read model), a duplicate, or refused
with its reason. A transfer reaches two books, so it is done once both have acknowledged it.
A ``reserve``, ``release`` or ``fulfil`` that was applied is done once its outcome is in the
read model too: outcomes pass the claims step (docs/events.md §8.7) and may come after the
acknowledgement.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Final

from api.backends import Answer, Pending
from api.errors import ApiError
from api.readmodel import ReadModel
from dataflows.flow import APPLIED, DUPLICATE, REFUSED, Published, Ticket
from dataflows.inprocess import InProcessFlow
from engine.book import EngineConfig
from engine.events import Event, Fulfil, Release, Reserve, parse
from engine.outputs import Duplicate, Rejected, ReservationChanged
from engine.routing import route

SOURCE: Final = "api"  # a ticket's source: dead letters of the API's events cite ``api/N``
_DECIDED: Final = (Reserve, Release, Fulfil)  # the events whose applying emits an outcome
SUBMIT_TIMEOUT_S: Final = 60.0  # 10,000 events take a small fraction of it


@dataclass(slots=True)
class _Waiting:
    """Events a request sent, until the flow has acknowledged every one."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    left: int  # acknowledgements still to come
    index_of: dict[int, int]  # ticket number -> the request's index of that event
    refused: dict[int, Rejected] = field(default_factory=dict)  # by index
    duplicate: bool = False
    outcome: ReservationChanged | None = None
    # (reservation_id, event_id) of the outcomes still to come, and by ticket number
    outcomes: set[tuple[str, str]] = field(default_factory=set)
    outcome_of: dict[int, tuple[str, str]] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.left == 0 and not self.outcomes


class EmbeddedBackend:
    """The in-process dataflow, and the requests waiting on it."""

    mode = "embedded"
    caught_up = True  # nothing to catch up on: the dataflow is this process's own

    def __init__(
        self,
        readmodel: ReadModel,
        config: EngineConfig,
        sku_shards: int = 1,
        maker: Any = None,
    ) -> None:
        self.readmodel = readmodel
        self.flow = InProcessFlow(config, self._deliver, sku_shards, maker)
        self.dataflow_registry = self.flow.metrics.registry
        self.dead_letters = 0
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._by_ticket: dict[int, _Waiting] = {}
        self._by_outcome: dict[tuple[str, str], _Waiting] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> bool:
        return self.flow.start()

    def stop(self) -> None:
        self.flow.stop()

    def health(self) -> dict[str, Any]:
        return {
            "caught_up": self.caught_up,
            "lag": self.flow.queued,
            "dataflow": "running" if self.flow.running else "stopped",
            "dead_letters": self.dead_letters,
        }

    # -- writes -------------------------------------------------------------------------------

    def feed(self, value: bytes, origin: Any = "feed") -> None:
        """Send one raw event into the dataflow, waiting for nothing (a live stream)."""
        self.flow.send(value, origin)

    def load(self, values: list[bytes]) -> list[tuple[int, Rejected]]:
        """Send raw events and wait until the dataflow has applied them (seeding, tests; not
        from a running event loop). Returns the refusals by index, parse errors included."""
        valid: list[tuple[int, bytes, Event]] = []
        refused: list[tuple[int, Rejected]] = []
        for index, value in enumerate(values):
            event = parse(value)
            if isinstance(event, Rejected):
                refused.append((index, event))
            else:
                valid.append((index, value, event))
        refused.extend(asyncio.run(self.submit(valid)))
        return sorted(refused, key=lambda item: item[0])

    async def command(self, raw: bytes, event: Event, timeout_s: float) -> Answer:
        waiting = self._open([event])
        key = (getattr(event, "reservation_id", ""), event.event_id)
        try:
            self._send([raw], waiting)
            await asyncio.wait_for(waiting.future, timeout_s)
        except TimeoutError:
            return Pending(key[0], key[1])
        finally:
            self._close(waiting)
        if waiting.refused:
            return waiting.refused[0]
        if waiting.duplicate:
            return Duplicate(event.event_id)
        if waiting.outcome is None:  # pragma: no cover - every applied command has an outcome
            raise ApiError(500, "internal_error", f"the dataflow gave no outcome for {key}")
        return waiting.outcome

    async def submit(self, items: list[tuple[int, bytes, Event]]) -> list[tuple[int, Rejected]]:
        if not items:
            return []
        waiting = self._open([event for _, _, event in items])
        try:
            self._send([raw for _, raw, _ in items], waiting)
            await asyncio.wait_for(waiting.future, SUBMIT_TIMEOUT_S)
        except TimeoutError:
            raise ApiError(
                503,
                "timeout",
                f"the dataflow has not applied these events within {SUBMIT_TIMEOUT_S:g} s; they "
                "stay queued and will be applied: resending them is safe (duplicates are ignored)",
                {"queued": self.flow.queued},
            ) from None
        finally:
            self._close(waiting)
        indexes = [index for index, _, _ in items]
        return [(indexes[i], rejected) for i, rejected in sorted(waiting.refused.items())]

    def _open(self, events: list[Event]) -> _Waiting:
        loop = asyncio.get_running_loop()
        waiting = _Waiting(loop, loop.create_future(), 0, {})
        with self._lock:
            for index, event in enumerate(events):
                number = next(self._numbers)
                waiting.index_of[number] = index
                waiting.left += len(route(event))  # a transfer reaches two books
                self._by_ticket[number] = waiting
                rid = getattr(event, "reservation_id", None)
                if type(event) in _DECIDED and rid is not None:  # applied, it has an outcome
                    key = (rid, event.event_id)
                    waiting.outcomes.add(key)
                    waiting.outcome_of[number] = key
                    self._by_outcome[key] = waiting
        return waiting

    def _send(self, values: list[bytes], waiting: _Waiting) -> None:
        if not self.flow.running:
            raise ApiError(503, "not_ready", "the dataflow is not running; see the server's log")
        numbers = list(waiting.index_of)
        self.flow.send_many(
            (value, Ticket(SOURCE, number)) for value, number in zip(values, numbers, strict=True)
        )

    def _close(self, waiting: _Waiting) -> None:
        with self._lock:
            for number in waiting.index_of:
                self._by_ticket.pop(number, None)
            for key in waiting.outcome_of.values():
                if self._by_outcome.get(key) is waiting:
                    del self._by_outcome[key]

    # -- what the dataflow publishes (its thread) ---------------------------------------------

    def _deliver(self, items: list[Published]) -> None:
        take = self.readmodel.take
        for _, messages in items:
            for topic, key, value in messages:
                if topic == "ack":
                    self._ack(int(key or 0), value)
                elif topic == "dead":
                    self.dead_letters += 1
                else:
                    outcome = take(topic, value)
                    if outcome is not None and outcome.event_id is not None and self._by_outcome:
                        self._heard(outcome)

    def _heard(self, outcome: ReservationChanged) -> None:
        assert outcome.event_id is not None
        key = (outcome.reservation_id, outcome.event_id)
        with self._lock:
            waiting = self._by_outcome.get(key)
            if waiting is None:
                return
            waiting.outcome = outcome
            waiting.outcomes.discard(key)
            done = waiting.done
        if done:
            waiting.loop.call_soon_threadsafe(_settle, waiting.future)

    def _ack(self, number: int, value: bytes) -> None:
        with self._lock:
            waiting = self._by_ticket.get(number)
            if waiting is None:
                return  # its request gave up waiting
            if value.startswith(REFUSED):
                code, _, message = value[len(REFUSED) :].decode().partition(": ")
                waiting.refused.setdefault(waiting.index_of[number], Rejected(code, message))
            elif value == DUPLICATE:
                waiting.duplicate = True
            else:
                assert value == APPLIED, value
            if value != APPLIED:  # nothing applied: no outcome comes
                key = waiting.outcome_of.get(number)
                if key is not None:
                    waiting.outcomes.discard(key)
            waiting.left -= 1
            done = waiting.done
        if done:
            waiting.loop.call_soon_threadsafe(_settle, waiting.future)


def _settle(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_result(None)
