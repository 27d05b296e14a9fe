"""The promise table equals the per-request answer, always (docs/network.md §9).

Networks, stock, instants around cut-offs, closings, midnights and DST changes come from
``promise_strategies``; regions are drawn points, some next to a location. The reference is
``POST /v1/promise``'s answer for one unit (``Calculator.promise`` and ``item_record``):
each level's ``deliver_by``, ``location_id`` and ``ship_by``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.promise.answers import item_record
from engine.promise.calculator import Calculator
from engine.promise.destination import Destination
from engine.promise.network import Network, load_network
from engine.promise.table import Maker, PromiseBook, hear, seconds, wake
from tests.property.promise_strategies import scenario

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def table_case(draw: st.DrawFn) -> dict[str, Any]:
    case = draw(scenario())
    locations = case["network"]["locations"]
    regions = []
    for n in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):  # next to a location: same day in reach
            near = draw(st.sampled_from(locations))
            lat = near["lat"] + draw(st.floats(-0.3, 0.3))
            lon = near["lon"] + draw(st.floats(-0.3, 0.3))
        else:
            lat, lon = draw(st.floats(18, 62)), draw(st.floats(-160, -66))
        regions.append({"id": f"R{n}", "lat": lat, "lon": lon})
    case["network"]["regions"] = regions
    ids = [loc["id"] for loc in locations]
    case["stock"] = {
        sku: draw(st.lists(st.sampled_from(ids), unique=True)) for sku in ("A", "B", "C")
    }
    return case


def reference(
    network: Network, calculator: Calculator, where: list[str], at: datetime
) -> dict[str, Any]:
    """Per region, ``{level: {deliver_by, location_id, ship_by}}`` as POST /v1/promise."""
    stock = calculator.stock(dict.fromkeys(where, 1))
    answer = {}
    for region in network.regions:
        item = calculator.promise("x", 1, stock, Destination(region.lat, region.lon), at)
        record = item_record(network, item)
        answer[region.id] = {
            o["service_level"]: {
                "deliver_by": o["deliver_by"],
                "location_id": o["location_id"],
                "ship_by": o["ship_by"],
            }
            for o in record["options"]
        }
    return answer


def instant_or_none(t: int | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_at(maker: Maker, where: list[str], t: int) -> tuple[dict[str, Any], int | None]:
    entries, _, until = maker.compute(["SKU"], [sorted(maker.index[i] for i in where)], t)
    entry = orjson.loads(entries[0] or b"null")
    assert entry["sku"] == "SKU" and entry["valid_until"] == instant_or_none(until[0])
    return entry["regions"], until[0]


@SETTINGS
@given(table_case())
def test_an_entry_is_the_answer_and_holds_until_valid_until(case):
    network = load_network(case["network"])
    maker, calculator = Maker(network), Calculator(network)
    t = seconds(case["at"])
    for where in case["stock"].values():
        got, until = entry_at(maker, where, t)
        at = datetime.fromtimestamp(t, UTC)
        assert got == reference(network, calculator, where, at)
        if until is None:  # nothing changes within the window: a few instants in it agree
            for days in (1, 5, 12):
                later = at + timedelta(days=days)
                assert reference(network, calculator, where, later) == got
            continue
        assert until >= t
        last = datetime.fromtimestamp(until, UTC)
        assert reference(network, calculator, where, last) == got  # ordering at it still makes it
        middle = datetime.fromtimestamp((t + until) // 2, UTC)
        assert reference(network, calculator, where, middle) == got
        after = reference(network, calculator, where, last + timedelta(seconds=1))
        assert after != got  # valid_until is where it changes, not just where it may


@SETTINGS
@given(table_case(), st.lists(st.integers(1, 3 * 86_400), min_size=1, max_size=6))
def test_the_published_table_equals_the_query_at_every_instant(case, steps):
    """Drive the book: signals, then wake-ups at instants over three days. After each wake the
    last published regions of every sku equal the answer at that instant, and no sku is
    published twice in a row with the same regions."""
    network = load_network(case["network"])
    maker, calculator = Maker(network), Calculator(network)
    book = PromiseBook()
    t = seconds(case["at"])
    stock = {sku: set(where) for sku, where in case["stock"].items()}
    hear(book, [(sku, lid, True) for sku, where in stock.items() for lid in where], maker.index)
    hear(book, [(sku, "elsewhere", False) for sku in stock], maker.index)
    published: dict[str, list[Any]] = {}
    ids = [loc.id for loc in network.locations]

    def step(now: int) -> None:
        for _, sku, value in wake(book, maker, now):
            entry = orjson.loads(value)
            assert entry["as_of"] == datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            history = published.setdefault(sku, [])
            assert not history or history[-1] != entry["regions"]
            history.append(entry["regions"])
        at = datetime.fromtimestamp(now, UTC)
        for sku, where in stock.items():
            assert published[sku][-1] == reference(network, calculator, sorted(where), at)

    step(t)
    for n, gap in enumerate(steps):
        # every wake-up due before the next instant fires on time, as the dataflow's timer
        target = t + gap
        while (due := book.next_wake()) is not None and due < target:
            step(due)
        t = target
        sku = "ABC"[n % 3]
        flip = ids[n % len(ids)]
        live = flip not in stock[sku]
        stock[sku] = stock[sku] | {flip} if live else stock[sku] - {flip}
        hear(book, [(sku, flip, live)], maker.index)
        step(t)
