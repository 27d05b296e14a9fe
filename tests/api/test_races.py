"""One reservation id at two locations through the embedded API: the stream decides
(docs/events.md §8.7), not the replica's read model."""

from __future__ import annotations

import time

from tests.api.conftest import receipt

IDS = 60


def reserve_event(rid: str, location: str, qty: int = 1) -> dict[str, object]:
    return {
        "event_id": f"{rid}-{location}",
        "type": "reserve",
        "location_id": location,
        "sku": "A",
        "reservation_id": rid,
        "qty": qty,
        "ts": int(time.time() * 1000),
    }


def held(client) -> list[int]:
    return [client.get(f"/v1/atp/{location}/A").json()["reserved"] for location in ("S1", "S2")]


def test_one_id_reserved_at_two_locations_in_one_batch_holds_at_one_only(client):
    """``POST /v1/events`` sends both reserves of each id straight to the dataflow (no read
    model in the way): the first answer of each id stands, the other location's hold is
    revoked, and the API then answers either location with the one reservation."""
    stock = [receipt(100, location) for location in ("S1", "S2")]
    assert client.post("/v1/events", json=stock).status_code == 202
    pairs = [reserve_event(f"both-{i}", location) for i in range(IDS) for location in ("S1", "S2")]
    answer = client.post("/v1/events", json=pairs)
    assert answer.status_code == 202 and answer.json()["accepted"] == 2 * IDS, answer.text
    # S1's reserves came first in the batch; S2's holds are revoked within moments
    deadline = time.monotonic() + 10
    while (positions := held(client)) != [IDS, 0]:  # not [IDS, IDS]
        assert time.monotonic() < deadline, positions
        time.sleep(0.02)
    for i in range(IDS):
        found = client.get(f"/v1/reservations/both-{i}").json()
        assert (found["location_id"], found["status"]) == ("S1", "confirmed")
        again = client.post(
            "/v1/reservations",
            json={"reservation_id": f"both-{i}", "location_id": "S2", "sku": "A", "qty": 1},
        )
        assert again.status_code == 200 and again.json()["repeat"] is True
        assert again.json()["location_id"] == "S1"
