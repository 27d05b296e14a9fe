"""The engine in this process: one writer applies ``engine.rules.apply`` under a lock.

Requests, ``POST /v1/events`` and the expiry clock all go through ``EmbeddedBackend.apply``,
which holds the lock for one event (microseconds), so reservations never race: the engine's
own rule decides each in turn. Every changed position and outcome goes straight into the read
model.

Live expiry: a heap of ``(expires_at, location_id)`` gets an entry per reservation made and,
after a book expires, its ``Book.next_expiry()``; a background thread sleeps until the soonest
entry (at most ``TICK_S``) and expires that book only, so it is within a second of
``expires_at`` and never scans every book.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import anyio.to_thread

from api.backends import Answer
from api.readmodel import Outcome, ReadModel
from engine.book import Book, EngineConfig
from engine.events import Event, TransferOut
from engine.outputs import Duplicate, Rejected, ReservationChanged
from engine.position import Position
from engine.routing import supply_of
from engine.rules import apply, expire

TICK_S: Final = 0.5
Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


class EmbeddedBackend:
    """Books of every location, the lock that makes one writer, and the expiry thread."""

    mode = "embedded"
    caught_up = True

    def __init__(
        self,
        readmodel: ReadModel,
        config: EngineConfig,
        clock: Clock = wall_clock,
    ) -> None:
        self.readmodel = readmodel
        self.config = config
        self.clock = clock
        self.books: dict[str, Book] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._expiries: list[tuple[datetime, str]] = []
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.applied = 0

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._expiry_loop, name="expiry", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def health(self) -> dict[str, Any]:
        return {"caught_up": self.caught_up, "lag": 0, "locations": len(self.books)}

    # -- writes -------------------------------------------------------------------------------

    def apply(self, event: Event) -> list[Any]:
        """Apply one valid event (and a transfer's supply at its destination); returns the
        outputs of its own book. The read model is updated before the lock is let go."""
        with self._lock:
            outputs = self._apply(event.location_id, event)
            if event.__class__ is TransferOut:
                supply = supply_of(event)
                self._apply(supply.location_id, supply)
            self.applied += 1
            return outputs

    async def command(self, raw: bytes, event: Event, timeout_s: float) -> Answer:
        outputs = self.apply(event)
        wanted = getattr(event, "reservation_id", None)
        for output in outputs:
            if (
                output.__class__ is ReservationChanged
                and output.reservation_id == wanted
                and output.event_id == event.event_id
            ):
                return Outcome.of(output)
            if output.__class__ is Rejected or output.__class__ is Duplicate:
                answer: Answer = output
                return answer
        raise AssertionError(f"the engine gave no outcome for {event!r}")  # pragma: no cover

    async def submit(self, items: list[tuple[int, bytes, Event]]) -> list[tuple[int, Rejected]]:
        return await anyio.to_thread.run_sync(self._submit, items)

    def _submit(self, items: list[tuple[int, bytes, Event]]) -> list[tuple[int, Rejected]]:
        refused = []
        for index, _, event in items:
            outputs = self.apply(event)
            if len(outputs) == 1 and outputs[0].__class__ is Rejected:
                refused.append((index, outputs[0]))
        return refused

    def _apply(self, location_id: str, message: Any) -> list[Any]:
        book = self.books.get(location_id)
        if book is None:
            book = self.books[location_id] = Book(location_id, self.config)
        outputs = apply(book, message)[1]
        self._publish(location_id, outputs)
        return outputs

    def _publish(self, location_id: str, outputs: list[Any]) -> None:
        readmodel = self.readmodel
        for output in outputs:
            cls = output.__class__
            if cls is Position:
                readmodel.put_position(output.wire())
            elif cls is ReservationChanged:
                outcome = Outcome.of(output)
                readmodel.put_outcome(outcome)
                if outcome.status in ("confirmed", "partial") and not outcome.repeat:
                    self._due(outcome.expires_at, location_id)

    # -- live expiry ----------------------------------------------------------------------------

    def _due(self, expires_at: datetime, location_id: str) -> None:
        """Remember when a book next has work (the lock is held)."""
        soonest = self._expiries[0][0] if self._expiries else None
        heapq.heappush(self._expiries, (expires_at, location_id))
        if soonest is None or expires_at < soonest:
            self._wake.notify()

    def _expiry_loop(self) -> None:
        with self._wake:
            while not self._stopped:
                now = self.clock()
                heap = self._expiries
                while heap and heap[0][0] <= now:
                    _, location_id = heapq.heappop(heap)
                    book = self.books[location_id]
                    self._publish(location_id, expire(book, now)[1])
                    following = book.next_expiry()
                    if following is not None:
                        heapq.heappush(heap, (following, location_id))
                wait = TICK_S
                if heap:
                    wait = min(wait, max(0.0, (heap[0][0] - now).total_seconds()))
                self._wake.wait(wait)
