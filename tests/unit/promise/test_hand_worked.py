"""Hand-worked promises: cut-offs, weekends, holidays, same-day reach, pickup after closing."""

from __future__ import annotations

import math

from tests.unit.promise.conftest import by_level, ny, raw_network


def test_an_order_a_minute_before_the_cut_off_ships_today(answer):
    # Wednesday; ship_cutoff 14:00 minus 60 pick minutes: orders until 13:00 ship today
    standard = by_level(answer(ny(2026, 11, 18, 12, 59)))["standard"]
    assert standard["ship_by"] == "2026-11-18T14:00:00-05:00"
    assert standard["deliver_by"] == "2026-11-20"  # Thu, Fri


def test_an_order_a_minute_after_the_cut_off_ships_the_next_day(answer):
    standard = by_level(answer(ny(2026, 11, 18, 13, 1)))["standard"]
    assert standard["ship_by"] == "2026-11-19T14:00:00-05:00"
    assert standard["deliver_by"] == "2026-11-23"  # Fri, then Monday


def test_a_friday_evening_order_ships_saturday_and_arrives_tuesday(answer):
    standard = by_level(answer(ny(2026, 11, 20, 19, 0)))["standard"]
    assert standard["ship_by"] == "2026-11-21T14:00:00-05:00"
    assert standard["deliver_by"] == "2026-11-24"  # no delivery at weekends: Mon, Tue


def test_a_store_closed_on_a_holiday_ships_after_it(answer):
    standard = by_level(answer(ny(2026, 12, 24, 15, 0)))["standard"]
    assert standard["ship_by"] == "2026-12-26T14:00:00-05:00"  # Christmas closed
    assert standard["deliver_by"] == "2026-12-29"


def test_a_carrier_holiday_inside_the_transit_is_skipped(answer):
    standard = by_level(answer(ny(2026, 11, 25, 10, 0)))["standard"]
    assert standard["ship_by"] == "2026-11-25T14:00:00-05:00"
    assert standard["deliver_by"] == "2026-11-30"  # Thanksgiving, Fri, (weekend), Mon


def _north_of_store(km: float) -> tuple[float, float]:
    return 40.75 + math.degrees(km / 6371.0088), -73.99


def test_same_day_just_inside_max_km_is_offered(answer):
    lat, lon = _north_of_store(29.9)
    same_day = by_level(answer(ny(2026, 11, 18, 10, 0), lat, lon))["same_day"]
    assert same_day == {
        "service_level": "same_day",
        "location_id": "S1",
        "ship_by": "2026-11-18T12:00:00-05:00",
        "deliver_by": "2026-11-18",
        "distance_km": 29.9,
    }


def test_same_day_just_outside_max_km_is_not_offered(answer):
    lat, lon = _north_of_store(30.1)
    assert "same_day" not in by_level(answer(ny(2026, 11, 18, 10, 0), lat, lon))


def test_same_day_after_its_order_cut_off_is_not_offered(answer):
    assert "same_day" not in by_level(answer(ny(2026, 11, 18, 11, 1)))
    assert "same_day" in by_level(answer(ny(2026, 11, 18, 11, 0)))


def test_pickup_after_closing_time_is_ready_the_next_working_morning(answer):
    [store] = answer(ny(2026, 11, 18, 20, 30))["pickup"]
    assert store["ready_at"] == "2026-11-19T10:00:00-05:00"
    [store] = answer(ny(2026, 12, 24, 20, 30))["pickup"]  # Christmas closed
    assert store["ready_at"] == "2026-12-26T10:00:00-05:00"


def test_pickup_within_opening_hours_is_ready_after_picking(answer):
    [store] = answer(ny(2026, 11, 18, 8, 0))["pickup"]
    assert store == {
        "location_id": "S1",
        "name": "Midtown",
        "distance_km": store["distance_km"],
        "atp": 5,
        "ready_at": "2026-11-18T10:00:00-05:00",
    }


def test_phoenix_keeps_its_offset_while_new_york_changes(answer):
    network = raw_network()
    network["locations"][0] |= {"timezone": "America/Phoenix", "lat": 33.45, "lon": -112.07}
    summer = by_level(answer(ny(2026, 7, 15, 8, 0), 33.46, -112.07, network))["standard"]
    winter = by_level(answer(ny(2026, 12, 15, 8, 0), 33.46, -112.07, network))["standard"]
    assert summer["ship_by"] == "2026-07-15T14:00:00-07:00"
    assert winter["ship_by"] == "2026-12-15T14:00:00-07:00"
    assert by_level(answer(ny(2026, 7, 15, 8, 0)))["standard"]["ship_by"].endswith("-04:00")


def test_the_ship_by_on_the_day_daylight_saving_ends_uses_the_new_offset(answer):
    network = raw_network()
    network["locations"][0]["hours"]["sun"] = ["09:00", "21:00"]
    standard = by_level(answer(ny(2026, 11, 1, 0, 30), network=network))["standard"]
    assert standard["ship_by"] == "2026-11-01T14:00:00-05:00"


def test_the_nearest_location_wins_a_tie_on_deliver_by_then_the_smaller_id(answer):
    network = raw_network()
    twin = dict(network["locations"][0], id="S0")
    far = dict(network["locations"][0], id="A9", lat=40.9)
    network["locations"] += [twin, far]
    standard = by_level(answer(ny(2026, 11, 18, 10, 0), network=network))["standard"]
    assert standard["location_id"] == "S0"


def test_a_location_without_enough_stock_does_not_count(answer):
    record = answer(ny(2026, 11, 18, 10, 0), atp={"S1": 0})
    assert record["options"] == [] and record["pickup"] == []
