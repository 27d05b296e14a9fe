"""Replay: fold an event log into books, as ``omnistock replay`` does (docs/api.md §8).

The same rules as the dataflow, run over lines in file order. Lines stream through: memory holds
the state, never the log. The caller opens files and writes results; this module only folds.
A ``transfer_out``'s expected supply is applied to its destination at once.

Compiled by mypyc with the rules (``setup.py``). Whoever wants the outputs of each rule (tests,
tools) passes ``on_outputs``: the fold itself needs only the counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, Final

from engine.book import DEFAULT_CONFIG, Book, EngineConfig
from engine.claims import Claims, Losers
from engine.events import clock_limit, in_future, parse
from engine.kinds import DUPLICATE, REJECTED, RESERVATION_CHANGED, REVOKE, TRANSFER_OUT
from engine.outputs import PositionRecord, dead_letter, lines_record
from engine.position import Position
from engine.routing import supply_of
from engine.rules import apply, expire
from engine.timefmt import BEFORE_ALL

LISTED_STATUS: Final = {"confirmed": "active"}
CHUNK: Final = 1024  # lines parsed, then applied: each book's dedup table asked once for them


class Replay:
    """An offline fold of event lines into per-location books, with counters.

    Attributes:
        books: ``location_id -> Book``.
        applied, duplicates, dead_letters: how many lines went each way (blank lines are skipped
            and not counted).
        max_ts: the largest ``ts`` of the events applied, or ``None``.
        on_outputs: called with the outputs of every rule applied (``apply`` for each message,
            ``expire`` at ``finish``), in order, before the next one; ``None`` for none. The
            outputs hold live positions: copy what you keep.
        ledger: with ``ledger=True``, ``reservation_id -> (status, qty)`` from the latest
            outcome of each (repeats skipped) over the whole log: what ``--reservations``
            lists. A book forgets a reservation a window after it ended; the log's listing
            does not.
        now: with it, the clock rule of the live modes applies with ``now`` as the clock: an
            event dated more than ``config.max_future_s`` after it is a dead letter
            (``ts_in_future``); without it, no limit (``replay --now``).
        claims: one reservation id, one reservation (``engine.claims``): every outcome passes
            through them before ``on_outputs`` and the ledger see it, and a loser's hold is
            revoked at once, unless the log revokes it itself (``losers``: see
            ``engine.claims``, and ``revocations``).
    """

    def __init__(
        self,
        config: EngineConfig = DEFAULT_CONFIG,
        on_outputs: Callable[[list[Any]], None] | None = None,
        ledger: bool = False,
        now: datetime | None = None,
        losers: Losers | None = None,
    ) -> None:
        self.config = config
        self.books: dict[str, Book] = {}
        self.claims = Claims(timedelta(milliseconds=config.dedup_window_ms), losers)
        self._revocations: list[Any] = []
        self.limit = None if now is None else clock_limit(now, config.max_future_s)
        self.on_outputs = on_outputs
        self.ledger: dict[str, tuple[str, int]] | None = {} if ledger else None
        self.lines: dict[str, tuple[tuple[str, int], ...]] = {}  # a cart's, by id
        self.applied = 0
        self.duplicates = 0
        self.dead_letters = 0

    def book(self, location_id: str) -> Book:
        found = self.books.get(location_id)
        if found is None:
            found = self.books[location_id] = Book(location_id, self.config)
        return found

    def _remembers(self, location_id: str, reservation_id: str) -> bool:
        book = self.books.get(location_id)
        return book is not None and book.reservation(reservation_id) is not None

    def feed(
        self,
        lines: Iterable[bytes],
        source: str = "-",
        on_dead_letter: Callable[[dict[str, str]], None] | None = None,
    ) -> None:
        """Apply each line in order.

        Args:
            lines: JSON lines (a file opened in binary mode streams well).
            source: the name dead letters cite as ``source:line``.
            on_dead_letter: called with each dead-letter record; counted either way.
        """
        chunk: list[tuple[bytes, Any]] = []
        number = 0
        limit = self.limit
        for raw in lines:
            event: Any = parse(raw)
            if limit is not None and type(event) is not REJECTED and event.ts > limit:
                event = in_future(event.ts, limit, self.config.max_future_s)
            chunk.append((raw, event))
            if len(chunk) == CHUNK:
                number = self._fold(chunk, number, source, on_dead_letter)
                chunk = []
        if chunk:
            self._fold(chunk, number, source, on_dead_letter)

    def _prefetch(self, chunk: list[tuple[bytes, Any]]) -> None:
        """Ask each book's dedup table once for the chunk's ids (``engine.dedup``)."""
        keys: dict[str, list[str | tuple[str, str]]] = {}
        for _, event in chunk:
            cls = type(event)
            if cls is REJECTED:
                continue
            found = keys.get(event.location_id)
            if found is None:
                keys[event.location_id] = [event.event_id]
            else:
                found.append(event.event_id)
            if cls is TRANSFER_OUT:
                keys.setdefault(event.to_location_id, []).append(
                    (event.location_id, event.event_id)
                )
        for location_id, ids in keys.items():
            book = self.book(location_id)
            book.seen.prefetch(ids, book.watermark)

    def _fold(
        self,
        chunk: list[tuple[bytes, Any]],
        number: int,
        source: str,
        on_dead_letter: Callable[[dict[str, str]], None] | None,
    ) -> int:
        """Apply a chunk of parsed lines in order: the number of the last line."""
        self._prefetch(chunk)
        books = self.books
        observe = self.on_outputs
        ledger = self.ledger
        blank = duplicates = dead = 0
        first = number
        for raw, event in chunk:
            number += 1
            if type(event) is REJECTED:
                if not raw.strip():
                    blank += 1
                    continue
                dead += 1
                if on_dead_letter is not None:
                    on_dead_letter(dead_letter(event, raw, f"{source}:{number}"))
                continue
            book = books.get(event.location_id) or self.book(event.location_id)
            outputs = self._claimed(apply(book, event)[1])
            if observe is not None:
                observe(outputs)
            if ledger is not None:
                _enter(ledger, self.lines, outputs)
            if self._revocations:
                self._revoke()
            if type(event) is TRANSFER_OUT:  # its supply at the destination: engine.routing
                supply = supply_of(event)
                arrived = apply(self.book(supply.location_id), supply)[1]
                if observe is not None:
                    observe(arrived)
            if len(outputs) == 1:
                cls = type(outputs[0])
                if cls is DUPLICATE:
                    duplicates += 1
                elif cls is REJECTED:
                    dead += 1
                    if on_dead_letter is not None:
                        on_dead_letter(dead_letter(outputs[0], raw, f"{source}:{number}"))
        self.applied += number - first - blank - duplicates - dead
        self.duplicates += duplicates
        self.dead_letters += dead
        return number

    def _claimed(self, outputs: list[Any]) -> list[Any]:
        """The outputs with their reservation outcomes as the claims publish them; a loser's
        revocation waits in ``_revocations`` for ``_revoke``."""
        for output in outputs:
            if type(output) is RESERVATION_CHANGED:
                break
        else:
            return outputs
        kept: list[Any] = []
        for output in outputs:
            if type(output) is not RESERVATION_CHANGED:
                kept.append(output)
                continue
            for decided in self.claims.take(output, self._remembers):
                if type(decided) is RESERVATION_CHANGED:
                    kept.append(decided)
                else:
                    self._revocations.append(decided)
        return kept

    def _revoke(self) -> None:
        """Apply the revocations the claims made, after the outputs that caused them."""
        while self._revocations:
            revocation = self._revocations.pop(0)
            outputs = self._claimed(apply(self.book(revocation.location_id), revocation)[1])
            if self.on_outputs is not None:
                self.on_outputs(outputs)
            if self.ledger is not None:
                _enter(self.ledger, self.lines, outputs)

    @property
    def max_ts(self) -> datetime | None:
        """The largest ``ts`` of the events applied, or ``None``."""
        latest = max((book.watermark for book in self.books.values()), default=BEFORE_ALL)
        return latest if latest > BEFORE_ALL else None

    def finish(self, as_of: datetime | None = None) -> datetime | None:
        """Expire what has expired as of ``as_of`` (default: the largest ``ts`` applied).

        Returns:
            The instant used, or ``None`` when nothing was applied and none was given.
        """
        at = self.max_ts if as_of is None else as_of
        if at is not None:
            for book in list(self.books.values()):
                outputs = self._claimed(expire(book, at)[1])
                if self.on_outputs is not None:
                    self.on_outputs(outputs)
                if self.ledger is not None:
                    _enter(self.ledger, self.lines, outputs)
                self._revoke()
        return at

    def positions(self) -> Iterator[Position]:
        """Every position, sorted by ``location_id`` then ``sku`` (code-point order)."""
        for location_id in sorted(self.books):
            positions = self.books[location_id].positions
            for sku in sorted(positions):
                yield positions[sku]

    def records(self) -> Iterator[PositionRecord]:
        """Every position as ``omnistock.atp`` carries it (its channels included), in the
        order of ``positions``."""
        for location_id in sorted(self.books):
            book = self.books[location_id]
            positions = book.positions
            channels = book.channels
            for sku in sorted(positions):
                yield positions[sku].wire(channels)

    def reservations(self) -> Iterator[dict[str, Any]]:
        """``reservation_id, status, qty`` of every reservation id of the log, sorted by id
        (docs/api.md §8: ``active`` for ``confirmed``); needs ``ledger=True``."""
        if self.ledger is None:
            raise ValueError("Replay(ledger=True) lists reservations")
        rows: list[dict[str, Any]] = []
        for rid, (status, qty) in sorted(self.ledger.items()):
            row: dict[str, Any] = {
                "reservation_id": rid,
                "status": LISTED_STATUS.get(status, status),
                "qty": qty,
            }
            lines = self.lines.get(rid)
            if lines is not None:  # a cart: qty is the sum of its lines
                row["lines"] = lines_record(lines)
            rows.append(row)
        return iter(rows)


def revocations(lines: Iterable[bytes]) -> Losers:
    """The losers a log revokes (``engine.claims``): the ``(location_id, event_id)`` of each
    ``revoke`` event's reserve. A cheap first pass: only lines naming the type are parsed."""
    losers: Losers = set()
    for raw in lines:
        if b"revoke" not in raw:
            continue
        event: Any = parse(raw)
        if type(event) is REVOKE:
            losers.add((event.location_id, event.reserve_event_id))
    return losers


def _enter(
    ledger: dict[str, tuple[str, int]],
    lines: dict[str, tuple[tuple[str, int], ...]],
    outputs: list[Any],
) -> None:
    """Note each reservation's latest outcome (a cart's lines apart); a repeat answers, it
    changes nothing."""
    for output in outputs:
        if type(output) is RESERVATION_CHANGED and not output.repeat:
            ledger[output.reservation_id] = (output.status, output.qty)
            if output.lines is not None:
                lines[output.reservation_id] = output.lines
            elif lines:
                lines.pop(output.reservation_id, None)  # an id reused for one sku
