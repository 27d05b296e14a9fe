"""The flash sale of ``benchmarks/ingest.py``: thousands of buyers race for a few hundred units.

Run against a live ``omnistock run`` on the benchmark's topics; the audit reads the topics only.
"""

from __future__ import annotations

import random
import time
from typing import Any

import orjson
from confluent_kafka import Producer

from benchmarks.kafka_io import PARTITIONS, consumer
from dataflows.kafka import PRODUCER_DEFAULTS, Topics


def flash_sale(
    bootstrap: str, topics: Topics, stores: int = 40, units: int = 300, buyers: int = 3000
) -> dict[str, int]:
    """Thousands of buyers race for a few hundred units of one sku across many stores.

    Audit from the topics: per store, the units of confirmed reservations never exceed what it
    received, and every final position keeps ``reserved <= on_hand``.
    """
    rng = random.Random(11)
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
    now = int(time.time() * 1000)
    stock = {f"FS{i:02d}": units // stores + (i < units % stores) for i in range(stores)}
    for location, qty in stock.items():
        body: dict[str, Any] = {"event_id": f"stock-{location}", "type": "receipt"}
        body["location_id"] = location
        body |= {"sku": "FLASH", "ts": now, "qty": qty}
        producer.produce(topics.events, orjson.dumps(body), location)
    locations = list(stock)
    for n in range(buyers):
        location = rng.choice(locations)
        body = {"event_id": f"buy-{n}", "type": "reserve", "location_id": location}
        body |= {"sku": "FLASH", "ts": now + 1 + n, "qty": 1, "reservation_id": f"flash-{n}"}
        while True:
            try:
                producer.produce(topics.events, orjson.dumps(body), location)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)

    first: dict[str, tuple[str, str, int]] = {}
    reader = consumer(bootstrap, topics.reservations, PARTITIONS)
    deadline = time.monotonic() + 120
    while len(first) < buyers and time.monotonic() < deadline:
        for message in reader.consume(5000, timeout=0.2):
            if message.error() is None:
                outcome = orjson.loads(message.value() or b"{}")
                if outcome["reservation_id"].startswith("flash-"):
                    first.setdefault(
                        outcome["reservation_id"],
                        (outcome["status"], outcome["location_id"], outcome["qty"]),
                    )
    reader.close()
    if len(first) < buyers:
        raise SystemExit(f"only {len(first)} of {buyers} flash-sale outcomes arrived")
    held: dict[str, int] = dict.fromkeys(stock, 0)
    for status, location, qty in first.values():
        if status in ("confirmed", "partial"):
            held[location] += qty
    oversold = sum(max(0, held[loc] - stock[loc]) for loc in stock)
    positions = final_positions(bootstrap, topics, set(stock))
    oversold += sum(max(0, p["reserved"] - p["on_hand"]) for p in positions.values())
    return {
        "stores": stores,
        "units": units,
        "buyers": buyers,
        "confirmed_units": sum(held.values()),
        "rejected": sum(1 for status, _, _ in first.values() if status == "rejected"),
        "oversold_units": oversold,
    }


def final_positions(bootstrap: str, topics: Topics, locations: set[str]) -> dict[str, Any]:
    """The last FLASH position of each location on the atp topic."""
    reader = consumer(bootstrap, topics.atp, PARTITIONS)
    last: dict[str, Any] = {}
    quiet = time.monotonic() + 3
    while time.monotonic() < quiet:
        batch = reader.consume(10_000, timeout=0.2)
        if batch:
            quiet = time.monotonic() + 1
        for message in batch:
            if message.error() is None:
                value = orjson.loads(message.value() or b"{}")
                if value["sku"] == "FLASH" and value["location_id"] in locations:
                    last[value["location_id"]] = value
    reader.close()
    return last
