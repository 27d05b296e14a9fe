"""Bad network files and destinations give errors naming the place and the field."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError, InputError, OmnistockError
from engine.promise.destination import parse_destination
from engine.promise.errors import BadDestinationError, NetworkError, UnknownPostalCodeError
from engine.promise.network import load_network
from tests.unit.promise.conftest import raw_network


def problems(network) -> list[tuple[str, str]]:
    with pytest.raises(NetworkError) as caught:
        load_network(network)
    assert isinstance(caught.value, ConfigError)
    assert isinstance(caught.value, OmnistockError)
    return [(p.where, p.field) for p in caught.value.problems]


def test_the_example_network_loads_from_bytes():
    import orjson

    network = load_network(orjson.dumps(raw_network()))
    assert [loc.id for loc in network.locations] == ["S1"]


def test_an_unknown_time_zone_names_the_location_and_field():
    network = raw_network()
    network["locations"][0]["timezone"] = "America/Gotham"
    assert problems(network) == [("locations[0] (S1)", "timezone")]


def test_hours_out_of_order_name_the_weekday():
    network = raw_network()
    network["locations"][0]["hours"]["tue"] = ["21:00", "09:00"]
    assert problems(network) == [("locations[0] (S1)", "hours.tue")]


def test_a_time_that_is_not_hh_mm_is_named():
    network = raw_network()
    network["locations"][0]["ship_cutoff"] = "2pm"
    assert problems(network) == [("locations[0] (S1)", "ship_cutoff")]


def test_overlapping_distance_bands_are_named():
    network = raw_network()
    network["service_levels"][0]["transit_days"] = [[0, 300, 2], [250, 1000, 3]]
    assert problems(network) == [("service_levels[0] (standard)", "transit_days[1]")]


def test_distance_bands_may_leave_gaps_and_come_in_any_order():
    """docs/network.md: a distance no band holds is not offered, so a gap is no mistake."""
    network = raw_network()
    network["service_levels"][0]["transit_days"] = [[400, 1000, 3], [10, 300, 2]]
    level = load_network(network).service_levels[0]
    assert level.bands == ((10.0, 300.0, 2), (400.0, 1000.0, 3))


def test_duplicate_ids_are_named():
    network = raw_network()
    network["locations"].append(dict(network["locations"][0]))
    network["service_levels"].append(dict(network["service_levels"][0]))
    assert problems(network) == [
        ("locations[1] (S1)", "id"),
        ("service_levels[2] (standard)", "name"),
    ]


def test_every_mistake_is_listed_at_once_and_unknown_fields_are_mistakes():
    network = raw_network()
    network["locations"][0]["timezone"] = "Nowhere"
    network["locations"][0]["pick_minute"] = 30
    network["service_levels"][1]["max_km"] = -1
    found = problems(network)
    assert ("locations[0] (S1)", "timezone") in found
    assert ("locations[0] (S1)", "pick_minute") in found
    assert ("service_levels[1] (same_day)", "max_km") in found


def test_a_distribution_centre_cannot_offer_pickup():
    network = raw_network()
    network["locations"][0]["kind"] = "dc"
    assert problems(network) == [("locations[0] (S1)", "pickup")]


def test_the_message_says_where_and_what():
    network = raw_network()
    network["locations"][0]["timezone"] = "America/Gotham"
    with pytest.raises(NetworkError, match=r"locations\[0\] \(S1\), field timezone: unknown"):
        load_network(network)


ZIPS = {"10001": (40.7484, -73.9967)}.get


def test_an_unknown_zip_code_is_an_input_error_with_its_code():
    with pytest.raises(UnknownPostalCodeError) as caught:
        parse_destination("00000", ZIPS)
    assert caught.value.code == "unknown_postal_code"
    assert isinstance(caught.value, InputError)
    assert "00000" in str(caught.value)


def test_destinations_are_zip_codes_or_points():
    assert parse_destination("10001", ZIPS).postal_code == "10001"
    assert parse_destination("10001-1234", ZIPS).lat == 40.7484
    point = parse_destination("40.5, -73.25", ZIPS)
    assert (point.lat, point.lon, point.postal_code) == (40.5, -73.25, None)
    with pytest.raises(BadDestinationError):
        parse_destination("Midtown", ZIPS)
    with pytest.raises(BadDestinationError):
        parse_destination("91,0", ZIPS)


def test_the_zipcodes_package_knows_real_codes_offline():
    from api.postal import zip_centroid

    assert zip_centroid("10001") == pytest.approx((40.75, -74.0), abs=0.01)
    assert zip_centroid("00000") is None
