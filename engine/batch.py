"""The dataflow's work on a batch, message by message: compiled with the rules (``setup.py``).

Bytewax calls a step once per batch; the work done per message lives here, where mypyc compiles
it, and ``dataflows/flow.py`` only wires. Two steps:

- ``route_batch``: parse each raw event and key it by the book it changes (``engine.routing``),
  one group per book; an unreadable one is keyed by ``UNREADABLE`` so that it reaches the dead
  letters the same way.
- ``fold_batch``: apply a book's messages in order; what to publish, as ``(topic, key, JSON)``
  with the logical topics ``atp`` and ``alerts``; the reservation outcomes, for the claims
  (``engine.claims``), which publish them; and what to dead-letter.
  A position changed several times in a batch is published once, as it stands at the end (its
  topic is compacted: only the last value counts).

``expire_due`` is ``fold_batch`` for the wall clock's expiries. An ``Envelope`` carries a message
with its raw text and origin (opaque here), which a dead letter cites.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from zlib import crc32

import msgspec

from engine.book import Book, EngineConfig
from engine.carts import kit_atp
from engine.claims import Claims
from engine.events import Revoke, encode, in_future, parse
from engine.kinds import ALERT, DUPLICATE, REJECTED, RESERVATION_CHANGED, SUPPLY_EXPECTED
from engine.outputs import (
    Alert,
    Rejected,
    ReservationChanged,
    alert_record,
    outcome_record,
)
from engine.policy import ChannelAt
from engine.position import Position
from engine.routing import route
from engine.rules import apply, expire

Envelope = tuple[Any, bytes, Any]  # (message, raw text, origin)
Signal = tuple[str, str, bool]  # (sku, location_id, web ATP >= 1): engine.promise.table
Publish = tuple[str, str | None, bytes]  # (logical topic, message key, JSON value)
UNREADABLE: Final = ""  # the key of events that fail to parse: no location id is empty

_encode = msgspec.json.Encoder().encode


def route_batch(
    values: list[bytes],
    origins: list[Any],
    limit: datetime | None = None,
    max_future_s: int = 0,
) -> list[tuple[str, list[Envelope]]]:
    """The batch's raw events, grouped by the book each changes: one item per book, the
    envelopes in their order. Bytewax's cost is per item, so a book's share of a batch travels
    as one.

    A ``transfer_out`` goes to two books: its own, and its expected supply to the
    destination's. ``origins[i]`` is where ``values[i]`` came from. With ``limit`` (the live
    modes: ``engine.events.clock_limit`` of the wall clock and ``max_future_s``), an event
    dated after it is refused as ``ts_in_future``.
    """
    groups: dict[str, list[Envelope]] = {}
    for i, raw in enumerate(values):
        event: Any = parse(raw)
        if limit is not None and type(event) is not REJECTED and event.ts > limit:
            event = in_future(event.ts, limit, max_future_s)
        if type(event) is REJECTED:  # an empty message too: every message is accounted for
            _add(groups, UNREADABLE, (event, raw, origins[i]))
            continue
        for location_id, message in route(event):
            _add(groups, location_id, (message, raw, origins[i]))
    return list(groups.items())


def _add(groups: dict[str, list[Envelope]], key: str, envelope: Envelope) -> None:
    found = groups.get(key)
    if found is None:
        groups[key] = [envelope]
    else:
        found.append(envelope)


def fold_batch(
    book: Book | None,
    batches: list[list[Envelope]],
    config: EngineConfig,
    outcomes: list[ReservationChanged],
    repeats: list[Envelope] | None = None,
    signals: list[Signal] | None = None,
) -> tuple[Book | None, list[Publish], list[tuple[Rejected, Envelope]]]:
    """Apply a book's messages in order.

    Args:
        book: the book, or ``None`` before its first message (it is made then).
        batches: the book's groups from ``route_batch``, in order (all unreadable under
            ``UNREADABLE``).
        config: the rules' settings, for a new book.
        outcomes: the reservation outcomes are appended to it, in order, to pass through the
            claims (``engine.claims``) before they are published.
        repeats: when given, the envelopes whose event was a duplicate are appended to it
            (a duplicate publishes nothing; an in-process caller still wants to know).
        signals: when given (the flow keeps a promise table), what the table hears of the
            positions that changed is appended to it (``promise_signals``).

    Returns:
        The book, what to publish, and each rejection with the envelope that caused it.
    """
    out: list[Publish] = []
    dead: list[tuple[Rejected, Envelope]] = []
    changed: dict[str, Position] = {}
    keys = dedup_keys(batches)
    if keys:
        if book is None:
            book = Book(_first(batches).location_id, config)
        book.seen.prefetch(keys, book.watermark)  # the table asked once for the batch
    for envelopes in batches:
        for envelope in envelopes:
            message = envelope[0]
            if type(message) is REJECTED:
                dead.append((message, envelope))
                continue
            if book is None:
                book = Book(message.location_id, config)
            for output in apply(book, message)[1]:
                if not _file(output, out, changed, outcomes):
                    dead.append((output, envelope))
                elif repeats is not None and type(output) is DUPLICATE:
                    repeats.append(envelope)
    if keys:
        # the batch's ids into the table now, not at the book's next batch: a book that goes
        # quiet would keep them at ~150 bytes each in ``recent`` (engine.dedup)
        book.seen.flush(book.watermark)  # type: ignore[union-attr]
    if changed:
        channels = book.channels  # type: ignore[union-attr]
        out.extend([position_message(position, channels) for position in changed.values()])
        if signals is not None:
            promise_signals(book, changed, signals)  # type: ignore[arg-type]
    return book, out, dead


def dedup_keys(batches: list[list[Envelope]]) -> list[str | tuple[str, str]]:
    """The dedup ids of a book's messages (``engine.dedup``): an event's ``event_id``, a
    transfer's supply's ``(from_location_id, event_id)``; none for a refused one."""
    keys: list[str | tuple[str, str]] = []
    for envelopes in batches:
        for envelope in envelopes:
            message = envelope[0]
            cls = type(message)
            if cls is SUPPLY_EXPECTED:
                keys.append((message.from_location_id, message.event_id))
            elif cls is not REJECTED:
                keys.append(message.event_id)
    return keys


def _first(batches: list[list[Envelope]]) -> Any:
    for envelopes in batches:
        for envelope in envelopes:
            if type(envelope[0]) is not REJECTED:
                return envelope[0]
    raise ValueError("no message")


def promise_signals(book: Book, changed: dict[str, Position], signals: list[Signal]) -> None:
    """For the promise table (``engine.promise.table``): ``(sku, location, web ATP >= 1)``
    of each changed position, and of each kit a changed component is part of (a kit's web
    ATP is its components', ``engine.carts.kit_atp``). The table keeps what changed."""
    web = book.web
    location_id = book.location_id
    for sku, position in changed.items():
        live = (position.atp if web is None else position.atp_for(web)) >= 1
        signals.append((sku, location_id, live))
    kits_of = book.kits_of
    if kits_of is None:
        return
    kits = book.kits or {}
    positions = book.positions
    done: set[str] = set()
    for sku in changed:
        for kit in kits_of.get(sku, ()):
            if kit in done:
                continue
            done.add(kit)
            least = kit_atp(kits[kit], lambda part: _web_atp(positions.get(part), web))
            signals.append((kit, location_id, least >= 1))


def _web_atp(position: Position | None, web: ChannelAt | None) -> int | None:
    if position is None:
        return None
    return position.atp if web is None else position.atp_for(web)


def expire_due(
    book: Book,
    now: datetime,
    outcomes: list[ReservationChanged],
    signals: list[Signal] | None = None,
) -> list[Publish]:
    """End the book's reservations due by ``now`` (the wall clock): what to publish, the
    outcomes and signals apart as in ``fold_batch``."""
    out: list[Publish] = []
    changed: dict[str, Position] = {}
    for output in expire(book, now)[1]:
        _file(output, out, changed, outcomes)
    out.extend([position_message(position, book.channels) for position in changed.values()])
    if signals is not None and changed:
        promise_signals(book, changed, signals)
    return out


def _file(
    output: Any,
    out: list[Publish],
    changed: dict[str, Position],
    outcomes: list[ReservationChanged],
) -> bool:
    """File one output of the rules: an alert to publish now, an outcome for the claims, a
    position to publish at the end of the batch (its last state). False for a rejection, which
    the caller dead-letters; a duplicate publishes nothing."""
    cls = type(output)
    if cls is Position:
        changed[output.sku] = output
    elif cls is RESERVATION_CHANGED:
        outcomes.append(output)
    elif cls is ALERT:
        out.append(alert_message(output))
    elif cls is REJECTED:
        return False
    return True


# Buckets of reservation ids, the keys of the claims step: few keys (Bytewax's cost is per item
# and per key), enough to spread over workers.
CLAIM_BUCKETS: Final = 64
_BUCKET_KEYS: Final = tuple(f"claims/{n}" for n in range(CLAIM_BUCKETS))


def claim_groups(
    outcome_lists: list[list[ReservationChanged]],
) -> list[tuple[str, list[ReservationChanged]]]:
    """The books' outcomes of a batch, regrouped by bucket of reservation id (``claims/N``), in
    order: one item per bucket."""
    groups: dict[str, list[ReservationChanged]] = {}
    for outcomes in outcome_lists:
        for outcome in outcomes:
            key = _BUCKET_KEYS[crc32(outcome.reservation_id.encode()) % CLAIM_BUCKETS]
            found = groups.get(key)
            if found is None:
                groups[key] = [outcome]
            else:
                found.append(outcome)
    return list(groups.items())


# Buckets of skus, the keys of the promise table's step (engine.promise.table), as the claims'.
PROMISE_BUCKETS: Final = 64
_PROMISE_KEYS: Final = tuple(f"promises/{n}" for n in range(PROMISE_BUCKETS))


def promise_groups(signal_lists: list[list[Signal]]) -> list[tuple[str, list[Signal]]]:
    """The books' promise signals of a batch, regrouped by bucket of sku (``promises/N``), in
    order: one item per bucket."""
    groups: dict[str, list[Signal]] = {}
    for signals in signal_lists:
        for signal in signals:
            key = _PROMISE_KEYS[crc32(signal[0].encode()) % PROMISE_BUCKETS]
            found = groups.get(key)
            if found is None:
                groups[key] = [signal]
            else:
                found.append(signal)
    return list(groups.items())


def claim_batch(claims: Claims, batches: list[list[ReservationChanged]]) -> list[Publish]:
    """A bucket's outcomes through its claims (``engine.claims``): what to publish, with the
    revocations for the events topic."""
    out: list[Publish] = []
    for batch in batches:
        for outcome in batch:
            for output in claims.take(outcome):
                if type(output) is RESERVATION_CHANGED:
                    out.append(outcome_message(output))
                else:
                    out.append(revoke_message(output))
    return out


def revoke_message(revoke: Revoke) -> Publish:
    """A loser's revocation for the events topic, keyed by its location."""
    return ("events", revoke.location_id, encode(revoke))


def position_message(position: Position, channels: tuple[ChannelAt, ...]) -> Publish:
    """A position for ``omnistock.atp``, keyed ``location_id:sku``, with its book's
    channels (``Book.channels``)."""
    return ("atp", f"{position.location_id}:{position.sku}", _encode(position.wire(channels)))


def outcome_message(outcome: ReservationChanged) -> Publish:
    """A reservation outcome for ``omnistock.reservations``, keyed by ``reservation_id``."""
    return ("reservations", outcome.reservation_id, _encode(outcome_record(outcome)))


def alert_message(alert: Alert) -> Publish:
    """An alert for ``omnistock.alerts``, keyed ``location_id:sku``."""
    return ("alerts", f"{alert.location_id}:{alert.sku}", _encode(alert_record(alert)))
