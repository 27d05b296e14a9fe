"""The dataflow's Prometheus metrics: what it folded, what it holds, how far behind it reads.

One ``FlowMetrics`` per process, in a registry of its own: ``omnistock run --metrics-port``
serves it over HTTP; in embedded mode the API's ``/metrics`` includes it (``api.metrics``).
Each process counts what its own workers did, so a cluster's figure is the sum over its
processes (``sum(...)`` in PromQL).

The fold does about 100,000 events a second, so counting costs next to nothing: the steps of
``dataflows.flow`` report once per book per batch, from what the engine returned, into a
``Tally`` of plain integers that belongs to their worker's thread (no lock, no call into the
client per batch); a scrape sums the threads' tallies. Prometheus' own ``Counter`` costs a
lock and a few calls per ``inc``: at every book's every batch, several per cent of the fold.

========================================================  ========================================
``omnistock_dataflow_events_total{outcome}``              messages the books folded: ``applied``,
                                                          ``duplicate``, ``dead_letter`` (a
                                                          transfer counts at each of its two
                                                          books, as it is acknowledged by each)
``omnistock_dataflow_reservations_total{status}``         outcomes published on the reservations
                                                          topic, by status; the answer to a
                                                          ``reserve`` seen before as ``repeat``
``omnistock_dataflow_alerts_total{kind}``                 alerts published, by kind
``omnistock_dataflow_positions``                          positions in this process's books
``omnistock_dataflow_holds``                              active reservations in those books
``omnistock_dataflow_freshness_seconds``                  wall clock minus the ``ts`` of the last
                                                          event of each book's batch, as it is
                                                          folded (a histogram)
``omnistock_dataflow_input_lag_messages{partition}``      messages behind the end of each input
                                                          partition (Kafka: its high watermark;
                                                          in process: the queue's length)
``omnistock_dataflow_input_caught_up``                    1 once every input partition has
                                                          caught up
========================================================  ========================================
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any, Final, NamedTuple

import msgspec
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from dataflows.progress import Progress
from engine.book import Book

OUTCOMES: Final = ("applied", "duplicate", "dead_letter")
# Label values reported from the start (a series at 0 before its first event, so that rate()
# sees its first increase); any other value the engine emits gets its series when it comes.
STATUSES: Final = ("confirmed", "partial", "rejected", "released", "expired", "fulfilled", "repeat")
KINDS: Final = ("stockout", "back_in_stock", "low_stock", "oversold", "replenish", "stockout_soon")
# From a live stream's milliseconds to a backlog's hours.
FRESHNESS_BUCKETS: Final = (
    *(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
    *(1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0),
)
# The JSON the engine publishes starts an alert with its kind (engine.outputs.alert_record):
# its bytes are cut out, the dict keyed by them; text of another shape is decoded.
_KIND_AT: Final = b'{"kind":"'
_AT: Final = len(_KIND_AT)


class _Status(msgspec.Struct):
    status: str
    repeat: bool = False


class _Kind(msgspec.Struct):
    kind: str


_status_of = msgspec.json.Decoder(_Status).decode
_kind_of = msgspec.json.Decoder(_Kind).decode


class Tally:
    """What one worker thread's steps counted: plain integers, written by that thread only."""

    __slots__ = (
        "dead_letter",
        "duplicate",
        "events",
        "fresh",
        "holds",
        "kinds",
        "positions",
        "statuses",
    )

    def __init__(self) -> None:
        self.events = 0  # messages folded, whatever became of them
        self.duplicate = 0
        self.dead_letter = 0
        self.positions = 0  # deltas: the process's figure is the sum over its threads
        self.holds = 0
        self.kinds: dict[bytes, int] = {}  # alert kind (as published) -> count
        self.statuses: dict[str, int] = {}
        # freshness: a count per bucket (the last one: over every bound), then the sum
        self.fresh: list[float] = [0.0] * (len(FRESHNESS_BUCKETS) + 2)

    def folded(
        self,
        values: list[list[Any]],
        before: tuple[int, int],
        book: Book | None,
        out: list[Any],
        dead: list[Any],
        repeats: list[Any],
    ) -> None:
        """A book's batch through ``engine.batch.fold_batch``.

        Args:
            values: the batch's envelopes, as the fold took them.
            before: the book's ``sizes`` before the batch.
            book: the book after it.
            out: what the fold returned to publish (its alerts first, then its positions).
            dead: the fold's rejections, with their envelopes.
            repeats: the envelopes whose event was a duplicate.
        """
        self.events += sum(map(len, values))
        if repeats:
            self.duplicate += len(repeats)
        if dead:
            self.dead_letter += len(dead)
        newest = getattr(values[-1][-1][0], "ts", None) if values and values[-1] else None
        if newest is not None:
            age = time.time() - newest.timestamp()
            fresh = self.fresh
            fresh[bisect_left(FRESHNESS_BUCKETS, age)] += 1
            fresh[-1] += age if age > 0 else 0.0
        self.changed(before, book, out)

    def changed(self, before: tuple[int, int], book: Book | None, out: list[Any]) -> None:
        """A book's batch or expiry: its alerts (at the head of ``out``, as the engine emits
        them), and how its positions and holds moved since ``before`` (``sizes``)."""
        if out and out[0][0] == "alerts":
            kinds = self.kinds
            for topic, _, value in out:
                if topic != "alerts":
                    break
                if value.startswith(_KIND_AT):
                    kind = value[_AT : value.index(b'"', _AT)]
                else:  # pragma: no cover - the engine's own shape is the one above
                    kind = _kind_of(value).kind.encode()
                kinds[kind] = kinds.get(kind, 0) + 1
        if book is not None:
            positions, holds = sizes(book)
            self.positions += positions - before[0]
            self.holds += holds - before[1]

    def claimed(self, out: list[Any]) -> None:
        """What a bucket of claims publishes: its reservation outcomes, by status."""
        statuses = self.statuses
        for topic, _, value in out:
            if topic != "reservations":
                continue
            found = _status_of(value)  # a C decode of two fields: 0.25 us
            status = "repeat" if found.repeat else found.status
            statuses[status] = statuses.get(status, 0) + 1


class FlowMetrics(Collector):
    """The series of one process's dataflow, summed over its threads' tallies at scrape time.

    Args:
        registry: where the series go (default: a registry of their own).
        progress: the input's catching-up state (``dataflows.progress``), read at scrape time
            for the lag; ``None``: no input series.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, progress: Progress | None = None
    ) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        self.progress = progress
        self._tallies: dict[int, Tally] = {}  # by thread id
        self._lock = threading.Lock()
        self.registry.register(self)

    def tally(self, restored: Book | None = None) -> Tally:
        """The calling thread's tally (made on first use): a step keeps the one of the worker
        thread that builds it, and only that thread runs it. (By thread id, not
        ``threading.local``: Bytewax's threads may enter Python with a new thread state.)

        Args:
            restored: a book the step restored from a snapshot: its positions and holds count
                in this process from now on.
        """
        with self._lock:
            tally = self._tallies.setdefault(threading.get_ident(), Tally())
        if restored is not None:
            positions, holds = sizes(restored)
            tally.positions += positions
            tally.holds += holds
        return tally

    def describe(self) -> Iterator[Metric]:
        return self._families([])

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            tallies = list(self._tallies.values())
        return self._families(tallies)

    def _families(self, tallies: list[Tally]) -> Iterator[Metric]:
        events = CounterMetricFamily(
            "omnistock_dataflow_events",
            "Messages the books folded, by outcome (a transfer counts at each of its two books)",
            labels=["outcome"],
        )
        duplicate = sum(t.duplicate for t in tallies)
        dead = sum(t.dead_letter for t in tallies)
        events.add_metric(["applied"], sum(t.events for t in tallies) - duplicate - dead)
        events.add_metric(["duplicate"], duplicate)
        events.add_metric(["dead_letter"], dead)
        yield events
        yield _by_label(
            "omnistock_dataflow_reservations",
            "Reservation outcomes published, by status (an answer repeated: repeat)",
            "status",
            STATUSES,
            [t.statuses for t in tallies],
        )
        yield _by_label(
            "omnistock_dataflow_alerts",
            "Alerts published, by kind",
            "kind",
            KINDS,
            [t.kinds for t in tallies],
        )
        yield GaugeMetricFamily(
            "omnistock_dataflow_positions",
            "Positions in this process's books",
            value=sum(t.positions for t in tallies),
        )
        yield GaugeMetricFamily(
            "omnistock_dataflow_holds",
            "Active reservations in this process's books",
            value=sum(t.holds for t in tallies),
        )
        yield _freshness([t.fresh for t in tallies])
        yield from _input(self.progress)

    def figures(self) -> Figures:
        """The process's totals now, for a status line (``omnistock demo``)."""
        with self._lock:
            tallies = list(self._tallies.values())
        lags = self.progress.lags().values() if self.progress is not None else ()
        return Figures(
            events=sum(t.events for t in tallies),
            duplicates=sum(t.duplicate for t in tallies),
            dead_letters=sum(t.dead_letter for t in tallies),
            positions=sum(t.positions for t in tallies),
            holds=sum(t.holds for t in tallies),
            alerts=sum(sum(list(t.kinds.values())) for t in tallies),
            outcomes=sum(sum(list(t.statuses.values())) for t in tallies),
            lag=sum(lag or 0 for lag in lags),
        )


class Figures(NamedTuple):
    """A process's totals at one instant (``FlowMetrics.figures``)."""

    events: int  # messages folded, every outcome
    duplicates: int
    dead_letters: int
    positions: int
    holds: int
    alerts: int
    outcomes: int  # reservation outcomes published
    lag: int  # messages behind, over every input partition


def sizes(book: Book | None) -> tuple[int, int]:
    """A book's positions and active reservations (those it knows less those ended), to
    compare with after a batch (``Tally.folded``)."""
    if book is None:
        return (0, 0)
    return (len(book.positions), len(book.reservations) - len(book.ended))


def _by_label(
    name: str,
    text: str,
    label: str,
    known: tuple[str, ...],
    counts: list[dict[Any, int]],  # by the label's value, as text or as published bytes
) -> CounterMetricFamily:
    totals = dict.fromkeys(known, 0)
    for found in counts:
        for value, count in list(found.items()):
            key = value.decode() if isinstance(value, bytes) else value
            totals[key] = totals.get(key, 0) + count
    family = CounterMetricFamily(name, text, labels=[label])
    for value, count in totals.items():
        family.add_metric([value], count)
    return family


def _freshness(fresh: list[list[float]]) -> HistogramMetricFamily:
    totals = [sum(column) for column in zip(*fresh, strict=True)] if fresh else []
    if not totals:
        totals = [0.0] * (len(FRESHNESS_BUCKETS) + 2)
    buckets: list[tuple[str, float]] = []
    running = 0.0
    for bound, count in zip((*FRESHNESS_BUCKETS, float("inf")), totals[:-1], strict=True):
        running += count
        buckets.append(("+Inf" if bound == float("inf") else str(bound), running))
    return HistogramMetricFamily(
        "omnistock_dataflow_freshness_seconds",
        "Wall clock minus the ts of the last event of each book's batch, when it is folded",
        buckets=buckets,
        sum_value=totals[-1],
    )


def _input(progress: Progress | None) -> Iterator[Metric]:
    if progress is None:
        return
    lag = GaugeMetricFamily(
        "omnistock_dataflow_input_lag_messages",
        "Messages behind the end of each input partition (Kafka: its high watermark; in "
        "process: the queue's length)",
        labels=["partition"],
    )
    for part, behind in sorted(progress.lags().items()):
        if behind is not None:
            lag.add_metric([part], behind)
    yield lag
    yield GaugeMetricFamily(
        "omnistock_dataflow_input_caught_up",
        "1 once every input partition this process reads has caught up",
        value=1.0 if progress.caught_up() else 0.0,
    )
