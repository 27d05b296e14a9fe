"""The read model: records for GET, ATP arrays per sku by location index, reservation views."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from api.readmodel import ReadModel, decode_position
from engine.book import Book
from engine.outputs import PositionRecord, ReservationChanged
from engine.rules import apply
from tests.factories import event

T = datetime(2026, 11, 20, tzinfo=UTC)


def record(location_id: str, sku: str, atp: int) -> PositionRecord:
    return PositionRecord(location_id, sku, atp, 0, 0, 0, atp, atp, 0, [], T)


def test_locations_of_the_network_come_first_and_new_ones_after():
    model = ReadModel(["DC1", "S1", "S2"])
    model.put_position(record("S2", "A", 4))
    model.put_position(record("X9", "A", 7))
    assert model.location_ids == ["DC1", "S1", "S2", "X9"]
    assert model.atp_array("A").tolist() == [0, 0, 4, 7]
    assert model.atp_array("unknown").tolist() == [0, 0, 0, 0]


def test_the_atp_array_is_a_view_that_follows_updates():
    model = ReadModel(["S1"])
    model.put_position(record("S1", "A", 4))
    view = model.atp_array("A")
    model.put_position(record("S1", "A", 9))
    assert view[0] == 9
    assert view.dtype == np.int64


def test_arrays_grow_past_their_capacity_and_keep_their_values():
    model = ReadModel()
    for i in range(200):
        model.put_position(record(f"L{i}", "A", i))
    assert model.atp_array("A").tolist() == list(range(200))
    assert model.position_count == 200


def test_a_kafka_record_decodes_to_the_same_record_as_the_engine_position():
    book = Book("S1")
    apply(book, event("receipt", qty=3))
    position = book.positions["A"]
    import msgspec

    wire = msgspec.json.encode(position.record())
    assert decode_position(wire) == position.wire()


def test_a_reservation_view_keeps_its_first_outcome():
    model = ReadModel()
    first = ReservationChanged("r", "S1", "A", "confirmed", 3, T, T, "e1")
    used = ReservationChanged("r", "S1", "A", "confirmed", 1, T, T, "e2")
    repeat = ReservationChanged(
        "r", "S1", "A", "confirmed", 1, T, T, "e3", None, True, "confirmed", 3
    )
    for outcome in (first, used, repeat):
        model.put_outcome(outcome)
    view = model.reservation("r")
    assert view is not None
    assert (view.status, view.qty, view.first_qty, view.first_event_id) == ("confirmed", 1, 3, "e1")


def test_ended_reservations_are_forgotten_after_the_window():
    from datetime import timedelta

    model = ReadModel(window=timedelta(hours=1))
    model.put_outcome(ReservationChanged("old", "S1", "A", "released", 0, T, T, "e0"))
    model.put_outcome(ReservationChanged("live", "S1", "A", "confirmed", 1, T, T, "e1"))
    later = T + timedelta(hours=2)
    for i in range(1000):
        model.put_outcome(
            ReservationChanged(f"n{i}", "S1", "A", "confirmed", 1, later, later, f"x{i}")
        )
    assert model.reservation("old") is None
    assert model.reservation("live") is not None


def test_routes_answer_503_not_ready_until_the_replica_caught_up(client):
    backend = client.app.state.omnistock.backend
    backend.caught_up = False
    answer = client.get("/v1/atp/S1/A")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "not_ready"
    assert client.get("/v1/health").json()["status"] == "catching_up"
    backend.caught_up = True
