"""The dataflow's work on a batch, message by message: compiled with the rules (``setup.py``).

Bytewax calls a step once per batch; the work done per message lives here, where mypyc compiles
it, and ``dataflows/flow.py`` only wires. Two steps:

- ``route_batch``: parse each raw event and key it by the book it changes (``engine.routing``);
  an unreadable one is keyed by ``UNREADABLE`` so that it reaches the dead letters the same way.
- ``fold_batch``: apply a book's messages in order; what to publish, as ``(topic, key, JSON)``
  with the logical topics ``atp``, ``reservations`` and ``alerts``; and what to dead-letter.
  A position changed several times in a batch is published once, as it stands at the end (its
  topic is compacted: only the last value counts).

``expire_due`` is ``fold_batch`` for the wall clock's expiries. An ``Envelope`` carries a message
with its raw text and origin (opaque here), which a dead letter cites.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import msgspec

from engine.book import Book, EngineConfig
from engine.events import parse
from engine.kinds import ALERT, REJECTED, RESERVATION_CHANGED
from engine.outputs import (
    Alert,
    Rejected,
    ReservationChanged,
    alert_record,
    outcome_record,
)
from engine.position import Position
from engine.routing import route
from engine.rules import apply, expire

Envelope = tuple[Any, bytes, Any]  # (message, raw text, origin)
Publish = tuple[str, str | None, bytes]  # (logical topic, message key, JSON value)
UNREADABLE: Final = ""  # the key of events that fail to parse: no location id is empty

_encode = msgspec.json.Encoder().encode


def route_batch(values: list[bytes], origins: list[Any]) -> list[tuple[str, Envelope]]:
    """Each raw event keyed by the location whose book it changes, in order.

    A ``transfer_out`` becomes two: itself at its location, then its expected supply at the
    destination. ``origins[i]`` is where ``values[i]`` came from.
    """
    keyed: list[tuple[str, Envelope]] = []
    for i, raw in enumerate(values):
        event: Any = parse(raw)
        if type(event) is REJECTED:  # an empty message too: every message is accounted for
            keyed.append((UNREADABLE, (event, raw, origins[i])))
            continue
        for location_id, message in route(event):
            keyed.append((location_id, (message, raw, origins[i])))
    return keyed


def fold_batch(
    book: Book | None, envelopes: list[Envelope], config: EngineConfig
) -> tuple[Book | None, list[Publish], list[tuple[Rejected, Envelope]]]:
    """Apply a book's messages in order.

    Args:
        book: the location's book, or ``None`` before its first message (it is made then).
        envelopes: the messages keyed to this book (all unreadable under ``UNREADABLE``).
        config: the rules' settings, for a new book.

    Returns:
        The book, what to publish, and each rejection with the envelope that caused it.
    """
    out: list[Publish] = []
    dead: list[tuple[Rejected, Envelope]] = []
    changed: dict[str, Position] = {}
    for envelope in envelopes:
        message = envelope[0]
        if type(message) is REJECTED:
            dead.append((message, envelope))
            continue
        if book is None:
            book = Book(message.location_id, config)
        for output in apply(book, message)[1]:
            if not _file(output, out, changed):
                dead.append((output, envelope))  # noqa: PERF401 - _file files the rest
    out.extend([position_message(position) for position in changed.values()])
    return book, out, dead


def expire_due(book: Book, now: datetime) -> list[Publish]:
    """End the book's reservations due by ``now`` (the wall clock): what to publish."""
    out: list[Publish] = []
    changed: dict[str, Position] = {}
    for output in expire(book, now)[1]:
        _file(output, out, changed)
    out.extend([position_message(position) for position in changed.values()])
    return out


def _file(output: Any, out: list[Publish], changed: dict[str, Position]) -> bool:
    """File one output of the rules: an outcome or an alert to publish now, a position to
    publish at the end of the batch (its last state). False for a rejection, which the caller
    dead-letters; a duplicate publishes nothing."""
    cls = type(output)
    if cls is Position:
        changed[output.sku] = output
    elif cls is RESERVATION_CHANGED:
        out.append(outcome_message(output))
    elif cls is ALERT:
        out.append(alert_message(output))
    elif cls is REJECTED:
        return False
    return True


def position_message(position: Position) -> Publish:
    """A position for ``omnistock.atp``, keyed ``location_id:sku``."""
    return ("atp", f"{position.location_id}:{position.sku}", _encode(position.record()))


def outcome_message(outcome: ReservationChanged) -> Publish:
    """A reservation outcome for ``omnistock.reservations``, keyed by ``reservation_id``."""
    return ("reservations", outcome.reservation_id, _encode(outcome_record(outcome)))


def alert_message(alert: Alert) -> Publish:
    """An alert for ``omnistock.alerts``, keyed ``location_id:sku``."""
    return ("alerts", f"{alert.location_id}:{alert.sku}", _encode(alert_record(alert)))
