"""Carts across locations on Kafka (docs/api.md §6.4b): buyers race through two
``omnistock serve --bootstrap`` replicas over one ``omnistock run``, each cart a part per
location that the location's book decides; the API orders and unwinds the parts."""

from __future__ import annotations

import random
import time
from typing import Any

import httpx
import pytest

from tests.integration.faults import race, system

pytestmark = pytest.mark.kafka

STOCK = {("S1", "A"): 3, ("S2", "B"): 2}
BUYERS = 40


def cart_request(url: str, rid: str, rng: random.Random) -> tuple[str, str, str, Any, str]:
    lines = [
        {"location_id": "S1", "sku": "A", "qty": 1},
        {"location_id": "S2", "sku": "B", "qty": 1},
    ]
    rng.shuffle(lines)  # the API orders the holds, not the request
    return (url, "POST", "/v1/reservations", {"reservation_id": rid, "lines": lines}, rid)


def held_by(url: str, rid: str) -> int:
    answer = httpx.get(f"{url}/v1/reservations/{rid}", timeout=10)
    assert answer.status_code == 200, answer.text
    return sum(line["qty"] for line in answer.json()["lines"])


def eventually(check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_racing_carts_across_locations_through_two_replicas(bootstrap, prefix, tmp_path):
    with system(bootstrap, prefix, tmp_path, replicas=2, api_timeout_s="20") as running:
        for (location_id, sku), qty in STOCK.items():
            running.stock(location_id, sku, qty)
        rng = random.Random(11)
        urls = running.urls
        requests = [cart_request(urls[i % 2], f"{prefix}cart-{i}", rng) for i in range(BUYERS)]
        answers = race(requests, spread_s=0.5)
        statuses = [answer.status for answer in answers]
        assert set(statuses) <= {201, 409}, [(a.status, a.body) for a in answers]
        confirmed = [a.reservation_id for a in answers if a.status == 201]
        refused = [a.reservation_id for a in answers if a.status == 409]
        assert 1 <= len(confirmed) <= min(STOCK.values())

        def settled() -> None:
            for url in urls:
                for location_id, sku in STOCK:
                    answer = httpx.get(f"{url}/v1/atp/{location_id}/{sku}", timeout=10)
                    assert answer.json()["reserved"] == len(confirmed), answer.text
                for rid in confirmed:  # every 201 is held, every line of it
                    assert held_by(url, rid) == 2
                for rid in refused:  # nothing stays held by a refused cart
                    assert held_by(url, rid) == 0

        eventually(settled)
        for answer in answers:
            if answer.status == 201:
                lines = {(line["location_id"], line["sku"]) for line in answer.body["lines"]}
                assert lines == set(STOCK)
            else:
                assert answer.body["error"]["code"] == "rejected"
        # a repeat of a confirmed cart, through the other replica: its first outcome
        first = next(a for a in answers if a.status == 201)
        other = next(url for url in urls if url != first.url)
        again = httpx.post(
            f"{other}/v1/reservations",
            json={
                "reservation_id": first.reservation_id,
                "lines": [
                    {"location_id": "S1", "sku": "A", "qty": 1},
                    {"location_id": "S2", "sku": "B", "qty": 1},
                ],
            },
            timeout=30,
        )
        assert again.status_code == 200 and again.json()["status"] == "confirmed", again.text
        released = httpx.delete(f"{other}/v1/reservations/{first.reservation_id}", timeout=30)
        assert released.status_code == 200 and released.json()["status"] == "released"
        eventually(lambda: _reserved(other, len(confirmed) - 1))


def _reserved(url: str, want: int) -> None:
    for location_id, sku in STOCK:
        answer = httpx.get(f"{url}/v1/atp/{location_id}/{sku}", timeout=10)
        assert answer.json()["reserved"] == want, answer.text
