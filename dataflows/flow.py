"""The dataflow: inventory events in; positions, reservation outcomes, alerts, dead letters out.

Wiring only: every rule is ``engine``'s. Read top to bottom as its steps::

    events -> parse_and_route -> valid? --no--> dead_letters
                                   |yes
                      key by location (a transfer's supply keyed by its destination)
                                   |
                      fold (one Book per location: engine.rules.apply, expiry timers)
                                   |
                      to_topics -> atp / reservations / alerts / dead_letters

``build_flow`` takes its source and sinks, so production passes Kafka (``dataflows.kafka``) and
tests pass ``TestingSource``/``TestingSink``. Items entering are ``Incoming`` (the raw bytes
and where they came from); items leaving are ``(key, value)`` pairs of JSON bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import bytewax.operators as op
import msgspec
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.operators import StatefulBatchLogic
from bytewax.outputs import Sink

from engine.book import Book, EngineConfig
from engine.events import parse
from engine.outputs import (
    Alert,
    Rejected,
    ReservationChanged,
    alert_record,
    dead_letter,
    outcome_record,
)
from engine.position import Position
from engine.routing import route
from engine.rules import apply, expire

_encode = msgspec.json.Encoder().encode
Pair = tuple[str | None, bytes]


@dataclass(frozen=True, slots=True)
class Incoming:
    """A raw event and its origin (``topic/partition/offset`` or ``file:line``)."""

    value: bytes
    origin: str


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message on its way to a book, with what a dead letter would need."""

    message: Any
    raw: bytes
    origin: str


@dataclass(frozen=True, slots=True)
class Sinks:
    """Where each kind of output goes; each takes ``(key, value)`` pairs."""

    atp: Sink[Pair]
    reservations: Sink[Pair]
    alerts: Sink[Pair]
    dead_letters: Sink[Pair]


def build_flow(source: Source[Any], sinks: Sinks, config: EngineConfig) -> Dataflow:
    """The whole dataflow, from its source to its sinks."""
    flow = Dataflow("omnistock")
    incoming = op.input("events", flow, source)
    routed = op.flat_map("parse_and_route", incoming, _parse_and_route)
    valid = op.branch("valid", routed, lambda item: item[0] is not None)
    bad = op.map("bad_events", valid.falses, lambda item: item[1])
    folded = op.stateful_batch("fold", valid.trues, lambda state: LocationLogic(state, config))
    out = op.map("to_topics", folded, lambda key_item: key_item[1])
    for topic in ("atp", "reservations", "alerts"):
        picked = op.filter_map(f"pick_{topic}", out, _picker(topic))
        op.output(f"out_{topic}", picked, getattr(sinks, topic))
    dead = op.merge("all_dead_letters", bad, op.filter_map("pick_dead", out, _picker("dead")))
    op.output("out_dead_letters", dead, sinks.dead_letters)
    return flow


def _parse_and_route(item: Any) -> Iterable[tuple[str | None, Any]]:
    # An ``Incoming``, or a Kafka source message (its origin is topic/partition/offset).
    value = item.value or b""
    if item.__class__ is Incoming:
        origin = item.origin
    else:
        origin = f"{item.topic}/{item.partition}/{item.offset}"
    event = parse(value)
    if event.__class__ is Rejected:  # an empty message too: every message is accounted for
        record = dead_letter(event, value, origin)  # type: ignore[arg-type]
        return [(None, (None, _encode(record)))]
    return [
        (location_id, Envelope(message, value, origin))
        for location_id, message in route(event)  # type: ignore[arg-type]
    ]


def _picker(topic: str) -> Any:
    def pick(item: tuple[str, str | None, bytes]) -> Pair | None:
        return (item[1], item[2]) if item[0] == topic else None

    return pick


class LocationLogic(StatefulBatchLogic[Envelope, tuple[str, str | None, bytes], Book]):
    """One location's book inside Bytewax: apply each message, expire on the wall clock.

    Positions changed several times in one batch are published once, as they stand at its end
    (the topic is compacted: only the last value matters).
    """

    def __init__(self, state: Book | None, config: EngineConfig) -> None:
        self.book = state
        self.config = config

    def on_batch(self, values: list[Envelope]) -> tuple[Iterable[Any], bool]:
        out: list[tuple[str, str | None, bytes]] = []
        changed: dict[str, Position] = {}
        for envelope in values:
            message = envelope.message
            book = self.book
            if book is None:
                book = self.book = Book(message.location_id, self.config)
            for output in apply(book, message)[1]:
                cls = output.__class__
                if cls is Position:
                    changed[output.sku] = output
                elif cls is Rejected:
                    record = dead_letter(output, envelope.raw, envelope.origin)
                    out.append(("dead", None, _encode(record)))
                else:
                    out.append(_published(output))
        out.extend(_position_pair(position) for position in changed.values())
        return out, StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        return None if self.book is None else self.book.next_expiry()

    def on_notify(self) -> tuple[Iterable[Any], bool]:
        if self.book is None:
            return (), StatefulBatchLogic.RETAIN
        out: list[tuple[str, str | None, bytes]] = []
        changed: dict[str, Position] = {}
        for output in expire(self.book, datetime.now(UTC))[1]:
            if output.__class__ is Position:
                changed[output.sku] = output
            else:
                out.append(_published(output))
        out.extend(_position_pair(position) for position in changed.values())
        return out, StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[Any], bool]:
        return (), StatefulBatchLogic.RETAIN

    def snapshot(self) -> Book:
        assert self.book is not None
        return self.book


def _published(output: Any) -> tuple[str, str | None, bytes]:
    if output.__class__ is ReservationChanged:
        return ("reservations", output.reservation_id, _encode(outcome_record(output)))
    if output.__class__ is Alert:
        key = f"{output.location_id}:{output.sku}"
        return ("alerts", key, _encode(alert_record(output)))
    return ("none", None, b"")  # a Duplicate: nothing to publish


def _position_pair(position: Position) -> tuple[str, str | None, bytes]:
    key = f"{position.location_id}:{position.sku}"
    return ("atp", key, _encode(position.record()))
