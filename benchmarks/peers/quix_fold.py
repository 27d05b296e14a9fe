"""A peer of ``omnistock run``: the same fold as a Quix Streams application.

``benchmarks/fold_peers.py`` runs it as its ``quix`` side, launched as it launches ``dict_fold``
(the same arguments, clocked by the same markers on ``<out-prefix>atp``, stopped by SIGTERM) but
with ``.venv-quix/bin/python`` and ``PYTHONPATH=<repo root>``: every quixstreams release
requires confluent-kafka<2.13 and this project >=2.16, so it runs from a virtualenv of its own,
made by ``bash benchmarks/peers/quix_env.sh``. The pipeline::

    app.dataframe(<prefix>events)            Quix's consumer: a group, one message per poll
      .apply(QuixFold, expand=True)          dict_fold's fold of each event; after a batch's
                                             last, the batch's records
      .to_topic(atp | reservations | dead)   Quix's producer, the topic chosen per record
    periodic task QuixFold.tick              a poll brought nothing: the partial batch's out

**The fold is ``dict_fold``'s, imported**: the same parser and clock rule
(``engine.events``, the engine's compiled modules), the same per-location dedup in a 7-day
event-time window swept every minute of it, the same event-time expiry of holds, the same
reservation decisions under the default policy, the same records (position, outcome, the
engine's dead letter) to the same kinds of topics (``<out-prefix>atp`` keyed
``location_id:sku``, ``<out-prefix>reservations`` keyed by reservation id,
``<out-prefix>deadletter`` unkeyed), and the same refusals (``unsupported_by_peer`` for carts,
kits and ``revoke``). Its counters, printed at the end, are ``dict_fold``'s: on one log the two
peers count the same applied events, duplicates, dead letters, locations and positions.

How it differs from ``dict_fold`` (and so from the dataflow, beyond what ``dict_fold``'s
docstring lists):

- **Quix does the consuming**: ``auto_offset_reset="earliest"`` in a fresh consumer group
  (``omnistock-quix-peer-<uuid>``) subscribed to the events topic (a group join and a
  rebalance at the start, before the first markers, so outside the clock), where
  ``dict_fold`` assigns every partition itself. Quix polls one message at a time
  (``poll_row``, 50 ms timeout as ``dict_fold``'s ``consume()``, Quix's default 1 s),
  deserialises it (``bytes``: nothing to do) and runs the dataframe on it in a context of its
  own (``message_context``); after every poll it runs its periodic tasks and checks its
  checkpoint, its producer's and consumer's health. ``dict_fold`` takes ``--batch`` messages a
  ``consume()``.
- **Checkpoints**: Quix's at-least-once guarantee, at its defaults: every 5 s
  (``commit_interval``) it flushes its producer and commits the consumed offsets to the group,
  synchronously. ``dict_fold`` and ``omnistock run`` without recovery commit nothing and never
  wait for their producer while they run.
- **Batches of its own**: Quix hands over one message at a time, so the fold makes the
  batches ``dict_fold`` gets from ``consume()``: ``--batch`` consecutive messages, or fewer
  when a poll brings nothing (the consumer has caught up). Each event is folded as it comes;
  the batch's records (its outcomes, its dead letters, then each position it changed, once, as
  it stands at the end) go out after its last message, as ``fold_batch`` orders them, and the
  clock rule's limit is read once a batch, at its first message. The batches are not
  ``dict_fold``'s (its ``consume()`` returns what has been fetched, in another interleaving of
  the partitions), so the positions published differ a little in number
  (``messages_per_event``); the outcomes and dead letters do not. A full batch's records go
  out through the dataframe (``apply(expand=True)`` then ``to_topic``, the topic chosen per
  record: Quix's ``Row``, its key serialiser ``str``, a value serialiser passing the fold's
  JSON on, ``Payload``; they carry the input event's timestamp, which Quix forwards). The last,
  partial batch goes out from a periodic task (``tick``) through the same producer: Quix has no
  public hook for a consumer that has caught up, so this uses two private attributes of
  ``Application`` (``_dataframe_registry``, what its lookup joins register their ticks with,
  and ``_producer``), of quixstreams 3.28.1, the version ``quix_env.sh`` pins.
- **Its producer**: Quix's, configured with the dataflow's producer settings
  (``dataflows.kafka.PRODUCER_DEFAULTS``, copied: that module imports Bytewax); it asks for a
  delivery report of every message (Quix keeps the produced offsets for its checkpoints), where
  ``dict_fold`` asks for failures only.
- **No Quix state**: the fold's state is ``dict_fold``'s dicts in this process, not Quix's state
  stores (RocksDB per partition, changelog topics: ``use_changelog_topics=False``). A store is
  per message key (here a location) and the fold crosses keys: a ``transfer_out`` upserts the
  supply it expects at another location, which may be on another partition; one process owns
  every partition, as in ``dict_fold``. So this peer weighs Quix's per-message consuming and
  producing around the same fold, not Quix's stateful operators.
- **Its own environment**: quixstreams 3.28.1 with confluent-kafka 2.12 (its librdkafka), where
  the main environment has 2.16; the same CPython 3.11, numpy, numba, msgspec and orjson.

    .venv-quix/bin/python -m benchmarks.peers.quix_fold --bootstrap HOST:PORT --prefix P
        --out-prefix Q [--batch 2000] [--max-future-s 300]      # PYTHONPATH=<repo root>

It runs until SIGTERM or SIGINT (Quix stops, commits its last checkpoint and flushes), then
prints its counters as one JSON line.
"""

from __future__ import annotations

import gc
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from quixstreams import Application, message_context
from quixstreams.models.serializers import SerializationContext, Serializer

from benchmarks.peers.dict_fold import (
    DictFold,
    Outcome,
    Pos,
    arguments,
    fold_raw,
    outcome_message,
    position_message,
)
from engine.events import clock_limit
from engine.outputs import dead_letter

# Copied, as they cannot be imported here: dataflows.kafka (PRODUCER_DEFAULTS,
# CONSUMER_DEFAULTS) imports Bytewax, omnistock.cli (GC_THRESHOLDS) every command. The
# dataflow's producer and consumer settings, and how every command collects.
PRODUCER_DEFAULTS: Final = {
    "partitioner": "murmur2_random",
    "enable.idempotence": "true",
    "linger.ms": "5",
    "compression.type": "lz4",
    "topic.metadata.refresh.interval.ms": "10000",
}
CONSUMER_DEFAULTS: Final = {"fetch.queue.backoff.ms": "10"}
GC_THRESHOLDS: Final = (100_000, 50, 100)
POLL_TIMEOUT_S: Final = 0.05  # dict_fold's consume() timeout (Quix's default: 1 s)

Record = tuple[Any, str | None, bytes]  # (the Quix Topic, message key, JSON value)


class Payload(Serializer):  # type: ignore[misc] # quixstreams is not in the main environment
    """The value of a record of the fold: its JSON, already encoded (the third of the tuple)."""

    def __call__(self, value: Record, ctx: SerializationContext) -> bytes:
        return value[2]


class QuixFold:
    """``dict_fold.fold_batch`` spread over the messages of a batch, as Quix hands them over one
    at a time: each raw event is folded as it comes (``fold_raw``); the batch's records (its
    outcomes, its dead letters, then each position it changed, as it stands at the end) go out
    after its ``batch``-th message, or when the consumer has caught up (``tick``). The clock
    rule's limit is read once a batch, at its first message, as ``fold_batch``'s caller does."""

    def __init__(
        self, fold: DictFold, topics: dict[str, Any], batch: int, max_future_s: int
    ) -> None:
        self.fold = fold
        self.topics = topics  # "atp", "reservations", "dead" -> the Quix Topic
        self.batch = batch
        self.max_future_s = max_future_s
        self.messages = 0
        self.batches = 0
        self.produced = dict.fromkeys(topics, 0)
        self.limit: datetime | None = None
        self.pending = 0  # messages folded since the last batch went out
        self.changed: dict[Pos, None] = {}
        self.outcomes: list[Outcome] = []
        self.dead: list[bytes] = []
        self.ticked = 0  # messages when the last tick ran

    def __call__(self, raw: bytes) -> list[Record]:
        """One raw event folded; after the batch's last, the batch's records."""
        if not self.pending:
            self.limit = clock_limit(datetime.now(UTC), self.max_future_s)
        self.messages += 1
        self.pending += 1
        rejected = fold_raw(self.fold, raw, self.limit, self.changed, self.outcomes)
        if rejected is not None:
            ctx = message_context()
            origin = f"{ctx.topic}/{ctx.partition}/{ctx.offset}"
            self.dead.append(orjson.dumps(dead_letter(rejected, raw, origin)))
        return self.take() if self.pending >= self.batch else []

    def take(self) -> list[Record]:
        """The batch's records, in ``fold_batch``'s order, each with its topic; a new batch."""
        topics, produced = self.topics, self.produced
        reservations, atp = topics["reservations"], topics["atp"]
        out: list[Record] = []
        for outcome in self.outcomes:
            _, key, value = outcome_message(outcome)
            out.append((reservations, key, value))
        dead = topics["dead"]
        out.extend([(dead, None, value) for value in self.dead])
        for pos in self.changed:
            _, key, value = position_message(pos)
            out.append((atp, key, value))
        produced["reservations"] += len(self.outcomes)
        produced["dead"] += len(self.dead)
        produced["atp"] += len(self.changed)
        self.changed, self.outcomes, self.dead = {}, [], []
        self.pending = 0
        self.batches += 1
        return out

    def tick(self, produce: Callable[..., Any]) -> None:
        """After every poll of Quix's loop: when it brought no message (the consumer has caught
        up, or the poll timed out), what is pending goes out now, by Quix's producer."""
        if self.messages == self.ticked and self.pending:
            for topic, key, value in self.take():
                produce(topic=topic.name, value=value, key=key)
        self.ticked = self.messages


def run(
    bootstrap: str, prefix: str, out_prefix: str, batch: int, max_future_s: int
) -> dict[str, Any]:
    """Consume ``<prefix>events`` from its start, fold, publish to ``<out-prefix>*``, until
    SIGTERM/SIGINT; the counters."""
    with tempfile.TemporaryDirectory(prefix="omnistock-quix-state-") as state_dir:
        app = Application(
            broker_address=bootstrap,
            consumer_group=f"omnistock-quix-peer-{uuid.uuid4()}",  # a fresh group: no offsets
            auto_offset_reset="earliest",
            consumer_extra_config=dict(CONSUMER_DEFAULTS),
            producer_extra_config=dict(PRODUCER_DEFAULTS),
            auto_create_topics=False,  # fold_peers makes every topic before a side starts
            use_changelog_topics=False,  # no state store: the fold's state is in this process
            state_dir=state_dir,  # Quix's default is ./state; nothing is written to it
            consumer_poll_timeout=POLL_TIMEOUT_S,
            loglevel="WARNING",
        )
        events = app.topic(f"{prefix}events", key_deserializer="bytes", value_deserializer="bytes")
        payload = Payload()
        topics = {
            logical: app.topic(
                f"{out_prefix}{name}", key_serializer="str", value_serializer=payload
            )
            for logical, name in (
                ("atp", "atp"),
                ("reservations", "reservations"),
                ("dead", "deadletter"),
            )
        }
        fold = DictFold(max_future_s=max_future_s)
        folder = QuixFold(fold, topics, batch, max_future_s)
        sdf = app.dataframe(events)
        sdf = sdf.apply(folder, expand=True)
        sdf.to_topic(lambda value, key, timestamp, headers: value[0], key=lambda value: value[1])
        # Quix has no public hook for a consumer that has caught up: the periodic tasks its
        # lookup joins use run after every poll, and the producer to_topic produces with
        # (private attributes of quixstreams 3.28.1, the version quix_env.sh pins).
        produce = app._producer.produce
        app._dataframe_registry.register_periodic_task(lambda: folder.tick(produce))
        app.run()  # until SIGTERM or SIGINT: then its last checkpoint (a flush, a commit)
    counters = {"messages": folder.messages, "batches": folder.batches}
    return fold.counters() | counters | {"produced": folder.produced}


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.splitlines()[0]).parse_args(argv)
    gc.set_threshold(*GC_THRESHOLDS)
    counters = run(args.bootstrap, args.prefix, args.out_prefix, args.batch, args.max_future_s)
    print(orjson.dumps(counters).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
