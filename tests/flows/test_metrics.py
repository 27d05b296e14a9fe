"""The dataflow's metrics (``dataflows.metrics``) count what the flow did, by the right labels:
they agree with its acknowledgements, with what it publishes, and with ``replay``, whatever the
number of workers; embedded mode's ``/metrics`` carries them."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import orjson
from bytewax.testing import TestingSink, TestingSource, cluster_main, run_main
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dataflows.flow import APPLIED, DUPLICATE, REFUSED, Incoming, LocationLogic, Ticket, build_flow
from dataflows.inprocess import InProcessFlow
from dataflows.metrics import FlowMetrics
from dataflows.progress import Progress
from engine.book import EngineConfig
from engine.events import TransferOut, parse
from tests.factories import Store, line
from tests.flows.test_flow import AHEAD, make_log, replayed

TS = int(time.time() * 1000)  # now: no hold expires on the clock while a test runs
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(registry: CollectorRegistry) -> Samples:
    """Every sample of the registry's text exposition, by name and labels."""
    text = generate_latest(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    found = {}
    for (sample, labels), value in samples.items():
        if sample == name:
            found[dict(labels)[label]] = value
    return found


def value(samples: Samples, name: str) -> float:
    return samples[(name, frozenset())]


class Delivered:
    """What the in-process flow delivered, and a way to wait for it."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str | None, bytes]] = []
        self.changed = threading.Condition()

    def deliver(self, items: list[Any]) -> None:
        with self.changed:
            for _, messages in items:
                self.messages.extend(messages)
            self.changed.notify_all()

    def of(self, topic: str) -> list[bytes]:
        return [value for kind, _, value in self.messages if kind == topic]

    def wait(self, acks: int, outcomes: int) -> None:
        with self.changed:
            assert self.changed.wait_for(
                lambda: len(self.of("ack")) >= acks and len(self.of("reservations")) >= outcomes,
                timeout=30,
            ), self.messages


def statuses(outcomes: list[bytes]) -> Counter[str]:
    found: Counter[str] = Counter()
    for raw in outcomes:
        record = orjson.loads(raw)
        found["repeat" if record.get("repeat") else record["status"]] += 1
    return found


def kinds(alerts: list[bytes]) -> Counter[str]:
    return Counter(orjson.loads(raw)["kind"] for raw in alerts)


def nonzero(counts: dict[str, float]) -> dict[str, float]:
    return {key: count for key, count in counts.items() if count}


def test_each_outcome_through_the_in_process_flow_is_counted_under_its_label():
    seen = Delivered()
    flow = InProcessFlow(EngineConfig(), seen.deliver)
    flow.start()
    receipt = line("receipt", location_id="S1", sku="A", qty=3, event_id="e1", ts=TS)

    def reserve(rid: str, qty: int, event_id: str) -> bytes:
        return line(
            "reserve", sku="A", reservation_id=rid, qty=qty, ttl_s=900, event_id=event_id, ts=TS
        )

    sent = [
        receipt,
        receipt,  # a duplicate
        b"{not json",  # a dead letter: unreadable
        line("release", sku="A", reservation_id="nope", event_id="e2", ts=TS),  # dead: unknown
        reserve("r1", 1, "e3"),  # confirmed
        reserve("r2", 9, "e4"),  # rejected
        reserve("r1", 1, "e5"),  # a repeat: r1 was reserved before
        reserve("r3", 1, "e6"),  # confirmed, and still held at the end
        line("release", sku="A", reservation_id="r1", event_id="e7", ts=TS),  # released
        line(
            "transfer_out",
            sku="A",
            qty=1,
            to_location_id="S2",
            eta=TS + 86_400_000,
            supply_id="T1",
            event_id="e8",
            ts=TS,
        ),
    ]
    flow.send_many((raw, Ticket("api", number)) for number, raw in enumerate(sent))
    seen.wait(acks=len(sent) + 1, outcomes=5)  # the transfer is acknowledged by two books
    samples = scrape(flow.metrics.registry)
    flow.stop()

    acks = Counter("refused" if ack.startswith(REFUSED) else ack.decode() for ack in seen.of("ack"))
    events = by_label(samples, "omnistock_dataflow_events_total", "outcome")
    assert events == {
        "applied": acks[APPLIED.decode()],
        "duplicate": acks[DUPLICATE.decode()],
        "dead_letter": acks["refused"],
    }
    assert events["duplicate"] == 1 and events["dead_letter"] == 2
    assert events["applied"] == 8  # the transfer at each of its two books
    reservations = by_label(samples, "omnistock_dataflow_reservations_total", "status")
    assert nonzero(reservations) == statuses(seen.of("reservations"))
    assert nonzero(reservations) == {"confirmed": 2, "rejected": 1, "repeat": 1, "released": 1}
    alerts = by_label(samples, "omnistock_dataflow_alerts_total", "kind")
    assert seen.of("alerts") and nonzero(alerts) == kinds(seen.of("alerts"))
    assert value(samples, "omnistock_dataflow_positions") == 2  # S1:A, and S2:A's supply
    assert value(samples, "omnistock_dataflow_holds") == 1  # r3
    assert by_label(samples, "omnistock_dataflow_input_lag_messages", "partition") == {"queue": 0}
    assert value(samples, "omnistock_dataflow_input_caught_up") == 1
    assert value(samples, "omnistock_dataflow_freshness_seconds_count") >= 1


def run_counted(lines: list[bytes], workers: int) -> tuple[Samples, dict[str, list[bytes]]]:
    metrics = FlowMetrics()
    published: list[Any] = []
    items = [Incoming(raw, f"log:{i}") for i, raw in enumerate(lines, 1)]
    flow = build_flow(
        TestingSource(items, batch_size=64), TestingSink(published), AHEAD, metrics=metrics
    )
    if workers == 1:
        run_main(flow)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers)
    outs: dict[str, list[bytes]] = {}
    for _, messages in published:
        for topic, _, raw in messages:
            outs.setdefault(topic, []).append(raw)
    return scrape(metrics.registry), outs


def test_the_counts_agree_with_what_the_flow_publishes_and_with_replay_on_any_workers():
    lines = make_log(3000, seed=23)
    replay = replayed(lines, AHEAD)
    transfers = sum(1 for raw in lines if type(parse(raw)) is TransferOut)
    active = sum(1 for row in replay.reservations() if row["status"] in ("active", "partial"))
    found = []
    for workers in (1, 2):
        samples, outs = run_counted(lines, workers)
        events = by_label(samples, "omnistock_dataflow_events_total", "outcome")
        assert events["dead_letter"] == len(outs["dead"]) == replay.dead_letters
        assert sum(events.values()) == len(lines) + transfers  # a transfer reaches two books
        reservations = by_label(samples, "omnistock_dataflow_reservations_total", "status")
        assert nonzero(reservations) == statuses(outs["reservations"])
        alerts = by_label(samples, "omnistock_dataflow_alerts_total", "kind")
        assert nonzero(alerts) == kinds(outs["alerts"])
        positions = {
            (record["location_id"], record["sku"]) for record in map(orjson.loads, outs["atp"])
        }
        assert value(samples, "omnistock_dataflow_positions") == len(positions)
        assert value(samples, "omnistock_dataflow_holds") == active
        found.append({key: count for key, count in samples.items() if "freshness" not in key[0]})
    assert found[0] == found[1]  # two workers count what one counts


def test_a_restored_book_counts_its_positions_and_holds():
    store = Store("S1")
    store.do("receipt", sku="A", qty=5)
    store.do("receipt", sku="B", qty=5)
    store.do("reserve", sku="A", reservation_id="r1", qty=1, ttl_s=900)
    metrics = FlowMetrics(progress=Progress())
    LocationLogic(store.book, EngineConfig(), metrics=metrics)
    figures = metrics.figures()
    assert (figures.positions, figures.holds) == (2, 1)


def test_embedded_metrics_carry_the_dataflows_series():
    from api.app import create_app
    from api.backends.embedded import EmbeddedBackend
    from api.readmodel import ReadModel

    backend = EmbeddedBackend(ReadModel(), EngineConfig())
    with TestClient(create_app(backend)) as client:
        body = [
            orjson.loads(line("receipt", location_id="S1", sku="A", qty=2, ts=TS)),
            orjson.loads(line("release", sku="A", reservation_id="nope", ts=TS)),
        ]
        assert client.post("/v1/events", json=body).status_code == 202
        text = client.get("/metrics").text
    assert 'omnistock_dataflow_events_total{outcome="applied"} 1.0' in text
    assert 'omnistock_dataflow_events_total{outcome="dead_letter"} 1.0' in text
    assert "omnistock_dataflow_positions 1.0" in text
    assert 'omnistock_dataflow_input_lag_messages{partition="queue"}' in text
    assert "omnistock_api_request_seconds" in text  # beside the API's own
