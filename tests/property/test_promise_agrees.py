"""The numba calculator agrees with the plain-Python twin of docs/network.md."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from engine.promise.answers import item_record
from engine.promise.calculator import Calculator
from engine.promise.destination import Destination
from engine.promise.network import load_network
from tests.property.promise_naive import naive_item, naive_single_location
from tests.property.promise_strategies import scenario

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def without_distances(record: dict[str, Any]) -> tuple[dict[str, Any], list[float]]:
    rows = [*record["options"], *record["pickup"]]
    distances = [row["distance_km"] for row in rows]
    for row in rows:
        row["distance_km"] = None
    return record, distances


def same_answer(engine: dict[str, Any], naive: dict[str, Any]) -> None:
    engine, engine_km = without_distances(engine)
    naive, naive_km = without_distances(naive)
    assert engine == naive
    assert engine_km == pytest.approx(naive_km, abs=0.11)


@SETTINGS
@given(scenario())
def test_item_answers_agree_with_the_plain_python_twin(case):
    network = load_network(case["network"])
    calculator = Calculator(network)
    stock = calculator.stock(case["atp"])
    here = Destination(case["lat"], case["lon"])
    got = calculator.promise("A", case["qty"], stock, here, case["at"], case["radius_km"])
    expected = naive_item(
        network,
        "A",
        case["qty"],
        case["atp"],
        case["lat"],
        case["lon"],
        case["at"],
        case["radius_km"],
    )
    same_answer(item_record(network, got), expected)


@SETTINGS
@given(scenario())
def test_listing_and_cart_agree_with_the_plain_python_twin(case):
    network = load_network(case["network"])
    calculator = Calculator(network)
    here = Destination(case["lat"], case["lon"])
    other = {lid: (n + 1) % 3 for lid, n in case["atp"].items()}
    stocks = [calculator.stock(case["atp"]), calculator.stock(other)]
    listing = calculator.listing(["A", "B"], stocks, here, case["at"])
    for atp, got in zip([case["atp"], other], listing, strict=True):
        naive = naive_item(network, "A", 1, atp, case["lat"], case["lon"], case["at"])
        assert {k: v.isoformat() for k, v in got.items()} == {
            o["service_level"]: o["deliver_by"] for o in naive["options"]
        }
    cart = calculator.cart([("A", case["qty"]), ("B", 1)], stocks, here, case["at"])
    single = naive_single_location(
        network, [(case["qty"], case["atp"]), (1, other)], case["lat"], case["lon"], case["at"]
    )
    got_single = cart.single_location
    if single is None:
        assert got_single is None
    else:
        assert got_single is not None
        assert got_single.location_id == single[0]
        assert {k: v.isoformat() for k, v in got_single.deliver_by.items()} == single[1]
