"""The dataflow: inventory events in; positions, reservation outcomes, alerts, dead letters out.

Wiring only: every rule is ``engine``'s. Read top to bottom as its steps::

    events -> parse_and_route   each event keyed by its location (a transfer's supply also by
                                its destination); an unreadable one by DEAD_LETTERS
           -> fold              one Book per location: engine.rules.apply, live expiry timers
           -> publish           positions, outcomes, alerts, dead letters to their topics

``build_flow`` takes its source and sink, so production passes Kafka (``dataflows.kafka``) and
tests pass ``TestingSource``/``TestingSink``. Items entering are ``Incoming`` (the raw bytes
and where they came from) or confluent-kafka ``Message`` objects; items leaving are ``Published``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zlib import crc32

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
    Duplicate,
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
# What the flow publishes: ``(state key, (topic, message key, JSON value))``, the topic one of
# ``atp``, ``reservations``, ``alerts``, ``dead`` (the sink maps them to topic names).
Message = tuple[str, str | None, bytes]
Published = tuple[str, Message]
# Events that fail to parse travel to the fold under this key (no location can be empty), which
# turns them into dead letters: one path out for everything.
DEAD_LETTERS = ""


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
    origin: str | tuple[str, int, int]  # a name, or a Kafka topic, partition and offset

    def dead_letter(self, rejected: Rejected) -> bytes:
        origin = self.origin
        source = origin if isinstance(origin, str) else "/".join(map(str, origin))
        return _encode(dead_letter(rejected, self.raw, source))


def build_flow(
    source: Source[Any], sink: Sink[Published], config: EngineConfig, sku_shards: int = 1
) -> Dataflow:
    """The whole dataflow, from its source to its sink.

    Three steps, each called once per batch where Bytewax allows it: every Python call per item
    is throughput (``benchmarks/ingest.py``).

    Args:
        source: the events.
        sink: where ``Published`` items go.
        config: the rules' settings.
        sku_shards: books per location. 1 (the default) keys by location, exactly the
            contract's scope of ids. More split a location's skus over that many books by a
            hash of the sku, so a snapshot pickles only the touched shards of a big store
            (``benchmarks/snapshot_cost.py``); ids are then scoped to (location, shard), which
            differs only for an id reused for another sku at the same location.
    """
    flow = Dataflow("omnistock")
    incoming = op.input("events", flow, source)
    if sku_shards == 1:
        keyed = op.flat_map_batch("parse_and_route", incoming, _parse_and_route)
    else:
        keyed = op.flat_map_batch(
            "parse_and_route", incoming, lambda items: _shard(_parse_and_route(items), sku_shards)
        )
    folded = op.stateful_batch("fold", keyed, lambda state: LocationLogic(state, config))
    op.output("publish", folded, sink)
    return flow


def _parse_and_route(items: list[Any]) -> list[tuple[str, Envelope]]:
    keyed: list[tuple[str, Envelope]] = []
    for item in items:
        if item.__class__ is Incoming:
            value, origin = item.value, item.origin
        else:  # a confluent-kafka Message: its origin is formatted only for a dead letter
            value = item.value() or b""
            origin = (item.topic(), item.partition(), item.offset())
        event = parse(value)
        if event.__class__ is Rejected:  # an empty message too: every message is accounted for
            keyed.append((DEAD_LETTERS, Envelope(event, value, origin)))
            continue
        for location_id, message in route(event):  # type: ignore[arg-type]
            keyed.append((location_id, Envelope(message, value, origin)))
    return keyed


def _shard(keyed: list[tuple[str, Envelope]], shards: int) -> list[tuple[str, Envelope]]:
    return [
        (key, envelope)
        if key == DEAD_LETTERS
        else (f"{key}/{crc32(envelope.message.sku.encode()) % shards}", envelope)
        for key, envelope in keyed
    ]


class LocationLogic(StatefulBatchLogic[Envelope, Message, Book | None]):
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
            if message.__class__ is Rejected:  # unreadable: the DEAD_LETTERS key
                out.append(("dead", None, envelope.dead_letter(message)))
                continue
            book = self.book
            if book is None:
                book = self.book = Book(message.location_id, self.config)
            for output in apply(book, message)[1]:
                cls = output.__class__
                if cls is Position:
                    changed[output.sku] = output
                elif cls is Rejected:
                    out.append(("dead", None, envelope.dead_letter(output)))
                elif cls is not Duplicate:
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
            elif output.__class__ is not Duplicate:
                out.append(_published(output))
        out.extend(_position_pair(position) for position in changed.values())
        return out, StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[Any], bool]:
        return (), StatefulBatchLogic.RETAIN

    def snapshot(self) -> Book | None:
        return self.book


def _published(output: Any) -> tuple[str, str | None, bytes]:
    if output.__class__ is ReservationChanged:
        return ("reservations", output.reservation_id, _encode(outcome_record(output)))
    if output.__class__ is Alert:
        key = f"{output.location_id}:{output.sku}"
        return ("alerts", key, _encode(alert_record(output)))
    raise TypeError(f"nothing publishes a {output.__class__.__name__}")


def _position_pair(position: Position) -> tuple[str, str | None, bytes]:
    key = f"{position.location_id}:{position.sku}"
    return ("atp", key, _encode(position.record()))
