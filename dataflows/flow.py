"""The dataflow: inventory events in; positions, reservation outcomes, alerts, dead letters out.

Wiring only: every rule is ``engine``'s, and the work done per message is ``engine.batch``
(compiled). Read top to bottom as its steps::

    events -> parse_and_route   each event keyed by its location's book (a transfer's supply
                                also by its destination's); an unreadable one by UNREADABLE's;
                                the key of a book hashes to the worker that reads its location's
                                partition (dataflows.keying), so the fold's items stay local
           -> fold              one Book per location: engine.batch.fold_batch, live expiry
                                timers (engine.batch.expire_due) once the input has caught
                                up (dataflows.progress)
           -> claims            reservation outcomes keyed by a bucket of reservation_id: one
                                reservation per id across locations (engine.claims,
                                engine.batch.claim_batch); a loser's revocation goes to the
                                events topic
           -> promises          with a delivery network (``maker``): the promise table, keyed
                                by a bucket of sku; it hears each changed position's web ATP
                                >= 1 or not (engine.batch.promise_signals), makes the entries
                                whose candidates changed, and wakes at their valid_until
                                (engine.promise.table)
           -> publish           positions, outcomes, alerts, promises, dead letters

``build_flow`` takes its source and sink, so production passes Kafka (``dataflows.kafka``) and
tests pass ``TestingSource``/``TestingSink``. Items entering are ``Incoming`` (the raw bytes
and where they came from) or confluent-kafka ``Message`` objects; items leaving are ``Published``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, cast

import bytewax.operators as op
import msgspec
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.operators import StatefulBatchLogic
from bytewax.outputs import Sink

from dataflows.exchange import Outcomes, Signals
from dataflows.keying import Keying, LocationKeying, keying_of
from dataflows.metrics import FlowMetrics, sizes
from dataflows.progress import Progress
from engine.batch import (
    Envelope,
    Publish,
    Signal,
    claim_batch,
    claim_groups,
    expire_due,
    fold_batch,
    promise_groups,
    route_batch,
)
from engine.book import Book, EngineConfig
from engine.claims import Claims
from engine.events import clock_limit
from engine.outputs import Rejected, ReservationChanged, dead_letter

_encode = msgspec.json.Encoder().encode
# What the flow publishes: ``(state key, [(topic, message key, JSON value), ...])``, the topic
# one of ``atp``, ``reservations``, ``alerts``, ``promises``, ``dead``, ``events`` (a
# revocation), ``ack``
# (the sink maps them to topic names, or back into the flow's own input).
# A key's whole batch travels as one item: Bytewax's cost is per item, not per message. Events
# that fail to parse travel to the fold under ``UNREADABLE``, which turns them into dead
# letters: one path out for everything.
Published = tuple[str, list[Publish]]


@dataclass(frozen=True, slots=True)
class Incoming:
    """A raw event and its origin (``topic/partition/offset``, ``file:line`` or a ``Ticket``)."""

    value: bytes
    origin: Any


class Ticket(NamedTuple):
    """The origin of an event whose sender waits for it (``dataflows.inprocess``): with
    ``acknowledge``, the flow emits an ``ack`` for it. A dead letter cites it as
    ``source/number``."""

    source: str
    number: int


# How soon a book whose holds are due looks again while the input is catching up.
RECHECK = timedelta(milliseconds=200)
BACKLOG = 20_000  # messages behind: the table waits for the input (about 0.2 s of the fold)

# The value of an ``ack`` message (topic ``ack``, key the ticket's number as text): what
# became of the event. A refusal's reason follows ``REFUSED``.
APPLIED = b"applied"
DUPLICATE = b"duplicate"
REFUSED = b"refused:"


def build_flow(
    source: Source[Any],
    sink: Sink[Published],
    config: EngineConfig,
    sku_shards: int = 1,
    acknowledge: bool = False,
    progress: Progress | None = None,
    maker: Any = None,
    metrics: FlowMetrics | None = None,
    keying: Keying | None = None,
) -> Dataflow:
    """The whole dataflow, from its source to its sink.

    Three steps, each called once per batch where Bytewax allows it: every Python call per item
    is throughput (``benchmarks/ingest.py``).

    Args:
        source: the events.
        sink: where ``Published`` items go.
        config: the rules' settings.
        sku_shards: how many shards each book's positions are pickled in at a snapshot
            (``EngineConfig.sku_shards``): above 1, a snapshot re-pickles only the shards
            whose positions changed (``benchmarks/snapshot_cost.py``). The books stay one per
            location, so a cart is decided in one step.
        acknowledge: emit an ``ack`` for every event whose origin is a ``Ticket``, after the
            outputs of the book that applied it (embedded mode waits on them).
        progress: what the source reports of its catching up (``dataflows.progress``): the
            wall clock expires reservations only once it has caught up. ``None`` (a testing
            source): always caught up.
        maker: an ``engine.promise.table.Maker`` over the delivery network: the flow keeps
            the promise table (``None``: it does not).
        metrics: where the fold and the claims count (``dataflows.metrics``), or ``None``.
        keying: the state key of each book (``dataflows.keying``); ``None``: the source's own
            (``EventSource.keying``: the worker reading a location's partition folds it), else
            the location id.
    """
    if sku_shards != config.sku_shards:
        config = msgspec.structs.replace(config, sku_shards=sku_shards)
    if keying is None:
        keying = keying_of(source)
    rekey = None if isinstance(keying, LocationKeying) else keying  # the ids are the keys
    flow = Dataflow("omnistock")
    incoming = op.input("events", flow, source)
    keyed = op.flat_map_batch(
        "parse_and_route",
        incoming,
        lambda items: parse_and_route(items, config.max_future_s, rekey),
    )
    tabled = maker is not None
    folded = op.stateful_batch(
        "fold",
        keyed,
        lambda state: LocationLogic(state, config, acknowledge, progress, tabled, metrics),
    )
    # The fold emits a location's publications (and acknowledgements) as a list, and its
    # reservation outcomes as ``ForClaims``: those go on to the claims, regrouped by bucket of
    # reservation id (one item per bucket per batch: Bytewax's cost is per item and per key).
    published = op.flat_map_batch("publications", folded, _publications)
    by_bucket = op.flat_map_batch("by_reservation_id", folded, _by_bucket)
    window = timedelta(milliseconds=config.dedup_window_ms)
    claimed = op.stateful_batch(
        "claims", by_bucket, lambda state: ClaimLogic(state, window, metrics)
    )
    if maker is None:
        op.output("publish", op.merge("published", published, claimed), sink)
        return flow
    by_sku = op.flat_map_batch("by_sku_bucket", folded, _by_sku_bucket)
    promised = op.stateful_batch(
        "promises", by_sku, lambda state: PromiseLogic(state, maker, progress)
    )
    op.output("publish", op.merge("published", published, claimed, promised), sink)
    return flow


class ForClaims(NamedTuple):
    """A book's reservation outcomes from one batch, in order."""

    outcomes: list[ReservationChanged]


class ForPromises(NamedTuple):
    """What the promise table hears of a book's batch (``engine.batch.promise_signals``)."""

    signals: list[Signal]


Folded = list[Publish] | ForClaims | ForPromises  # what the fold emits


def _publications(items: list[tuple[str, Folded]]) -> list[Published]:
    return [cast(Published, item) for item in items if item[1].__class__ is list]


def _by_bucket(items: list[tuple[str, Folded]]) -> list[tuple[str, list[ReservationChanged]]]:
    groups = claim_groups([item[1].outcomes for item in items if item[1].__class__ is ForClaims])
    return [(key, Outcomes(group)) for key, group in groups]  # msgpack to cross (exchange)


def _by_sku_bucket(items: list[tuple[str, Folded]]) -> list[tuple[str, list[Signal]]]:
    lists = [item[1].signals for item in items if item[1].__class__ is ForPromises]
    return [(key, Signals(group)) for key, group in promise_groups(lists)]


def parse_and_route(
    items: list[Any], max_future_s: int, keying: Keying | None = None
) -> list[tuple[str, list[Envelope]]]:
    """``engine.batch.route_batch`` of a batch, with the wall clock's limit on ``ts`` (read once
    a batch: the flow runs live); each group keyed by ``keying``'s key of its location (``None``:
    by the location id)."""
    limit = clock_limit(datetime.now(UTC), max_future_s)
    if items and items[0].__class__ is Incoming:
        groups = route_batch(
            [i.value for i in items], [i.origin for i in items], limit, max_future_s
        )
    else:  # confluent-kafka Messages; the origin stays a tuple until a dead letter formats it
        groups = route_batch(
            [m.value() or b"" for m in items],
            [(m.topic(), m.partition(), m.offset()) for m in items],
            limit,
            max_future_s,
        )
    if keying is None:
        return groups
    key = keying.key  # a dict look-up per book and batch
    return [(key(location), envelopes) for location, envelopes in groups]


# The raw bytes a dead letter carries at most. Kafka refuses a message over 1 MB by default, and
# escaping can make JSON text up to six times its bytes: a dead letter of a 1 MB message would
# be refused, and the flow would stop on it at every restart. A longer one keeps its first
# bytes, says ``raw_truncated`` and ``raw_bytes``; its whole text stays on the events topic at
# ``source``.
MAX_DEAD_RAW = 128 * 1024


def _dead_letter(rejected: Rejected, envelope: Envelope) -> Publish:
    _, raw, origin = envelope
    source = origin if isinstance(origin, str) else "/".join(map(str, origin))
    record: dict[str, Any] = dead_letter(rejected, raw[:MAX_DEAD_RAW], source)
    if len(raw) > MAX_DEAD_RAW:
        record["raw_truncated"] = True
        record["raw_bytes"] = len(raw)
    return ("dead", None, _encode(record))


def _acks(
    values: list[list[Envelope]], dead: list[tuple[Rejected, Envelope]], repeats: list[Envelope]
) -> list[Publish]:
    """An ``ack`` for each envelope of the batch that came with a ``Ticket``, in order, after
    the book's publications. (A reservation outcome goes through the claims and may come
    later: embedded mode waits for it apart.)

    Envelopes are matched by their message object: the compiled fold may hand back a copy of
    an envelope's tuple, never of the message in it.
    """
    refused = {id(envelope[0]): rejected for rejected, envelope in dead}
    repeated = {id(envelope[0]) for envelope in repeats}
    acks: list[Publish] = []
    for envelopes in values:
        for message, _, origin in envelopes:
            if origin.__class__ is not Ticket:
                continue
            rejected = refused.get(id(message))
            if rejected is not None:
                value = REFUSED + rejected.reason.encode()
            else:
                value = DUPLICATE if id(message) in repeated else APPLIED
            acks.append(("ack", str(origin.number), value))
    return acks


class LocationLogic(StatefulBatchLogic[list[Envelope], "Folded", Book | None]):
    """One location's book inside Bytewax: apply each message, expire on the wall clock."""

    def __init__(
        self,
        state: Book | None,
        config: EngineConfig,
        acknowledge: bool = False,
        progress: Progress | None = None,
        tabled: bool = False,
        metrics: FlowMetrics | None = None,
    ) -> None:
        if state is not None:  # a restored book takes this run's settings and policy
            state.configure(config)
        self.book = state
        self.tally = None if metrics is None else metrics.tally(state)
        self.config = config
        self.acknowledge = acknowledge
        self.progress = progress
        self.tabled = tabled

    def on_batch(self, values: list[list[Envelope]]) -> tuple[Iterable[Any], bool]:
        tally = self.tally
        repeats: list[Envelope] | None = [] if self.acknowledge or tally is not None else None
        outcomes: list[ReservationChanged] = []
        signals: list[Signal] | None = [] if self.tabled else None
        before = sizes(self.book) if tally is not None else (0, 0)
        self.book, out, dead = fold_batch(
            self.book, values, self.config, outcomes, repeats, signals
        )
        if tally is not None:
            tally.folded(values, before, self.book, out, dead, repeats or [])
        out.extend(_dead_letter(rejected, envelope) for rejected, envelope in dead)
        if self.acknowledge:
            out.extend(_acks(values, dead, repeats or []))
        return _items(out, outcomes, signals), StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        due = None if self.book is None else self.book.next_expiry()
        if due is not None and not self._caught_up():
            # Expiry never overtakes the stream: look again soon, expire once caught up.
            return max(due, datetime.now(UTC) + RECHECK)
        return due

    def on_notify(self) -> tuple[Iterable[Any], bool]:
        if self.book is None or not self._caught_up():
            return (), StatefulBatchLogic.RETAIN
        outcomes: list[ReservationChanged] = []
        signals: list[Signal] | None = [] if self.tabled else None
        before = sizes(self.book) if self.tally is not None else (0, 0)
        out = expire_due(self.book, datetime.now(UTC), outcomes, signals)
        if self.tally is not None:
            self.tally.changed(before, self.book, out)
        return _items(out, outcomes, signals), StatefulBatchLogic.RETAIN

    def _caught_up(self) -> bool:
        return self.progress is None or self.progress.caught_up()

    def on_eof(self) -> tuple[Iterable[Any], bool]:
        return (), StatefulBatchLogic.RETAIN

    def snapshot(self) -> Book | None:
        return self.book


def _items(
    out: list[Publish], outcomes: list[ReservationChanged], signals: list[Signal] | None
) -> list[Any]:
    items: list[Any] = [out] if out else []
    if outcomes:
        items.append(ForClaims(outcomes))
    if signals:
        items.append(ForPromises(signals))
    return items


class ClaimLogic(StatefulBatchLogic[list[ReservationChanged], list[Publish], Claims]):
    """One bucket of reservation ids' claims inside Bytewax (``engine.claims.Claims``). No
    timer: a bucket forgets what has left the window as its outcomes come (a timer per key
    would cost Bytewax a scan of every key's schedule at each activation)."""

    def __init__(
        self, state: Claims | None, window: timedelta, metrics: FlowMetrics | None = None
    ) -> None:
        self.claims = Claims(window) if state is None else state
        self.tally = None if metrics is None else metrics.tally()

    def on_batch(self, values: list[list[ReservationChanged]]) -> tuple[Iterable[Any], bool]:
        out = claim_batch(self.claims, values)
        if self.tally is not None and out:
            self.tally.claimed(out)
        return ([out] if out else ()), StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[Any], bool]:
        return (), StatefulBatchLogic.RETAIN

    def snapshot(self) -> Claims:
        return self.claims


class PromiseLogic(StatefulBatchLogic[list[Signal], list[Publish], Any]):
    """One bucket of skus' promise table inside Bytewax (``engine.promise.table``): hear the
    books' signals, make what changed at the wall clock's second, wake at the soonest
    ``valid_until``. While the input replays a backlog (a restart, an outage: more than
    ``BACKLOG`` messages behind) it only listens, and makes everything it heard once the
    backlog is read; a live stream a batch or two behind is not a backlog."""

    def __init__(self, state: Any, maker: Any, progress: Progress | None) -> None:
        from engine.promise import table  # noqa: PLC0415 - numba only with a network

        self.table = table
        if state is None:
            self.book = table.PromiseBook()
        else:  # a restart: every entry is published anew (engine.promise.table.recovered)
            self.book = state
            table.recovered(state)
        self.maker = maker
        self.progress = progress
        self.recheck: datetime | None = None  # while catching up: when to look again

    def on_batch(self, values: list[list[Signal]]) -> tuple[Iterable[Any], bool]:
        table = self.table
        for signals in values:
            table.hear(self.book, signals, self.maker.index)
        if self._replaying():
            return (), StatefulBatchLogic.RETAIN
        now = table.seconds(datetime.now(UTC))
        out = table.make(self.book, self.maker, sorted(self.book.dirty), now)
        return ([out] if out else ()), StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        # Bytewax asks after every activation: a "soon" made anew each time would never come,
        # so a look-again instant stays put until it has fired.
        wake = self.book.next_wake()
        due = None if wake is None else datetime.fromtimestamp(wake, UTC)
        if not self.book.dirty and (due is None or not self._replaying()):
            return due
        if self.recheck is None:
            self.recheck = datetime.now(UTC) + RECHECK
        return self.recheck if due is None or self.book.dirty else max(due, self.recheck)

    def on_notify(self) -> tuple[Iterable[Any], bool]:
        self.recheck = None
        if self._replaying():
            return (), StatefulBatchLogic.RETAIN
        out = self.table.wake(self.book, self.maker, self.table.seconds(datetime.now(UTC)))
        return ([out] if out else ()), StatefulBatchLogic.RETAIN

    def _replaying(self) -> bool:
        return self.progress is not None and self.progress.replaying(BACKLOG)

    def on_eof(self) -> tuple[Iterable[Any], bool]:
        return (), StatefulBatchLogic.RETAIN

    def snapshot(self) -> Any:
        return self.book
