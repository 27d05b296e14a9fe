"""The promise table in a Kafka-mode replica: ``omnistock.promises`` read from its beginning
into the read model (counted in the lag), the listing answered from it, changes streamed.

Hand-made entries stand for the dataflow's (``omnistock run --network`` writes them): no
``run`` process here.
"""

from __future__ import annotations

import time

import httpx
import orjson
import pytest
from confluent_kafka import Producer

from api.app import create_app
from api.backends.kafka import KafkaBackend
from api.readmodel import ReadModel
from dataflows.kafka import PRODUCER_DEFAULTS, Topics, ensure_topics
from tests.api.conftest import uvicorn_thread
from tests.api.test_alerts import events_of
from tests.api.test_promise_table import EXPRESS, STANDARD, entry, region_promiser
from tests.integration.test_api_kafka import wait_ready

pytestmark = pytest.mark.kafka


def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    """Entries keyed by sku, as the dataflow keys them (one sku, one partition, in order)."""
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
    for value in values:
        try:
            key = orjson.loads(value)["sku"]
        except orjson.JSONDecodeError:
            key = "bad"
        producer.produce(topic, value, key)
    producer.flush(30)


def test_a_replica_reads_the_table_from_its_beginning_and_streams_its_changes(bootstrap, prefix):
    topics = Topics(prefix)
    ensure_topics(bootstrap, topics, partitions=2)
    produce(
        bootstrap,
        topics.promises,
        [
            entry("TENT", {"100": {"standard": STANDARD}}),
            entry("POLE", {"100": {}, "606": {"express": EXPRESS}}),
            b"not an entry",
            entry("TENT", {"100": {"express": EXPRESS}}, as_of="2026-11-18T15:05:00Z"),
        ],
    )
    promiser = region_promiser()
    readmodel = ReadModel(tuple(promiser.location_ids))
    app = create_app(KafkaBackend(readmodel, bootstrap, topics), promiser=promiser)
    with uvicorn_thread(app, log_level="warning") as port:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        assert readmodel.promises.unreadable == 1
        with httpx.Client(base_url=base, timeout=30) as client:
            body = {"skus": ["TENT", "POLE"], "destination": {"region": "100"}}
            answer = client.post("/v1/promise/listing", json=body).json()
            assert answer["region"] == "100"
            assert [(s["sku"], s["deliver_by"], s["as_of"]) for s in answer["skus"]] == [
                ("TENT", {"express": "2026-11-19"}, "2026-11-18T15:05:00Z"),
                ("POLE", {}, "2026-11-18T15:00:00Z"),
            ]
            with client.stream("GET", "/v1/promise/stream?skus=POLE&region=606") as stream:
                produce(
                    bootstrap,
                    topics.promises,
                    [
                        entry("POLE", {"100": {"standard": STANDARD}, "606": {"express": EXPRESS}}),
                        entry("POLE", {"606": {}}, as_of="2026-11-18T15:10:00Z"),
                    ],
                )
                (event,) = events_of(stream.iter_lines(), 1)
            assert event["data"]["levels"] == {}
            assert event["data"]["as_of"] == "2026-11-18T15:10:00Z"
            deadline = time.monotonic() + 10
            while client.get("/v1/health").json()["lag"] != 0:
                assert time.monotonic() < deadline, "the replica never read the topics up"
                time.sleep(0.1)
