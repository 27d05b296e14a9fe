"""The workload on the built-in network: its ids, store traffic by city population, the zones'
true offsets, the daily curve (events per local hour, mean rate), and the mix still holding."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import accumulate
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from tests.unit.test_workload import Event, decode, epoch_ms, kind
from workload import (
    DAILY_CURVE,
    DEFAULT_MIX,
    Catalogue,
    DayProfile,
    WorkloadParams,
    describe,
    generate,
    network_catalogue,
    network_workload,
    seeding_lines,
    write_log,
)
from workload.builtin import generate_network, sku_names, store_cities, store_populations
from workload.cli import main

N = 40_000
DAY_S = 86_400


@cache
def network_log(
    events: int = N, seed: int = 7, curve: bool = True, events_per_s: float = 200.0
) -> tuple[tuple[bytes, ...], Catalogue]:
    params = WorkloadParams(events=events, seed=seed, events_per_s=events_per_s)
    params, cat = network_workload(params, stores=50, skus=2000, daily_curve=curve)
    return tuple(generate(params, cat)), cat


@cache
def network_events(
    events: int = N, curve: bool = True, events_per_s: float = 200.0
) -> tuple[Event, ...]:
    lines, _ = network_log(events, curve=curve, events_per_s=events_per_s)
    return tuple(e for line in dict.fromkeys(lines) if isinstance(e := decode(line), Event))


def test_store_cities_repeat_the_network_draw() -> None:
    network = generate_network(50, seed=7)
    cities = store_cities(50, seed=7)
    stores = [loc for loc in network["locations"] if loc["kind"] == "store"]
    assert [loc["id"] for loc in stores] == list(cities)
    for loc in stores:
        city = cities[loc["id"]]
        assert loc["name"].startswith(f"{city['name']}, {city['admin1code']} #")
        assert loc["timezone"] == city["timezone"]
    assert store_populations(50, seed=7) == {s: c["population"] for s, c in cities.items()}
    assert store_cities(50, seed=8) != cities
    cat = network_catalogue(50, 100, seed=7)
    assert cat.dcs == tuple(loc["id"] for loc in network["locations"] if loc["kind"] == "dc")
    assert cat.skus == tuple(sku_names(100))
    assert cat.store_zones == tuple(c["timezone"] for c in cities.values())


def test_a_city_shares_its_population_between_its_stores() -> None:
    cat, cities = network_catalogue(200, 10), store_cities(200)
    weight = dict(zip(cat.stores, cat.store_weights or (), strict=True))
    by_city: defaultdict[int, list[str]] = defaultdict(list)
    for sid, city in cities.items():
        by_city[city["geonameid"]].append(sid)
    shared = [ids for ids in by_city.values() if len(ids) > 1]
    assert shared  # 200 stores by population: the big cities have several
    for ids in by_city.values():
        population = cities[ids[0]]["population"]
        assert sum(weight[sid] for sid in ids) == pytest.approx(population)
        assert len({weight[sid] for sid in ids}) == 1


def test_network_workload_is_deterministic_for_a_seed() -> None:
    params, cat = network_workload(WorkloadParams(events=3000, seed=11), stores=30, skus=500)
    assert list(generate(params, cat)) == list(generate(params, cat))
    other = list(generate(dataclasses.replace(params, seed=12), cat))
    assert sum(a != b for a, b in zip(generate(params, cat), other, strict=True)) > 2900
    assert (params.stores, params.dcs, params.skus, params.daily_curve) == (30, 4, 500, True)


def test_cli_network_matches_write_log(tmp_path: Path) -> None:
    argv = ["--network", "--stores", "20", "--skus", "300", "--events", "2000", "--seed", "5"]
    assert main([*argv, "--out", str(tmp_path / "a.jsonl")]) == 0
    params, cat = network_workload(WorkloadParams(events=2000, seed=5), stores=20, skus=300)
    assert write_log(tmp_path / "b.jsonl", params, cat) == 2000
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert main([*argv, "--no-daily-curve", "--out", str(tmp_path / "c.jsonl")]) == 0
    assert (tmp_path / "c.jsonl").read_bytes() != (tmp_path / "a.jsonl").read_bytes()


def test_ids_are_the_networks() -> None:
    events = network_events()
    _, cat = network_log()
    assert {e.location_id for e in events} == {*cat.stores, *cat.dcs}
    assert {e.sku for e in events} <= set(cat.skus)
    assert cat.stores[0] == "S0001" and cat.dcs == ("DC01", "DC02", "DC03", "DC04")


@pytest.mark.parametrize("curve", [False, True])
def test_store_traffic_follows_city_population(curve: bool) -> None:
    # with the curve, whole days: each store then has every local hour alike
    events = network_events(20_000, curve, 200.0 if not curve else 20_000 / (2 * DAY_S))
    _, cat = network_log(20_000, curve=curve)
    cities = store_cities(50)
    counts = Counter(e.location_id for e in events if e.location_id.startswith("S"))
    weight = dict(zip(cat.stores, cat.store_weights or (), strict=True))
    assert max(counts, key=counts.__getitem__) == max(weight, key=weight.__getitem__)
    by_city: Counter[int] = Counter()
    for sid, n in counts.items():
        by_city[cities[sid]["geonameid"]] += n
    biggest = max(cities.values(), key=lambda c: c["population"])["geonameid"]
    assert by_city.most_common(1)[0][0] == biggest
    ids = list(cat.stores)
    share = np.array([counts[s] for s in ids]) / sum(counts.values())
    expected = np.array([weight[s] for s in ids]) / sum(weight.values())
    assert np.corrcoef(share, expected)[0, 1] > 0.97
    assert np.abs(share - expected).sum() < 0.2  # total variation: shares close to weights


def test_local_timestamps_carry_the_zones_true_offset_across_dst() -> None:
    start = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)  # New York leaves DST at 06:00 UTC
    params = WorkloadParams(events=8000, seed=2, start_ms=int(start.timestamp() * 1000))
    params, cat = network_workload(
        dataclasses.replace(params, events_per_s=8000 / 6 / 3600), stores=50, skus=300
    )
    zone = dict(zip(cat.stores, cat.store_zones or (), strict=True))
    seen: Counter[tuple[str, timedelta | None]] = Counter()
    for line in generate(params, cat):
        ev = decode(line)
        if not isinstance(ev, Event) or not isinstance(ev.ts, datetime):
            continue
        offset = ev.ts.utcoffset()
        if offset and ev.location_id in zone:
            tz = ZoneInfo(zone[ev.location_id])
            assert offset == ev.ts.astimezone(tz).utcoffset(), (ev.location_id, ev.ts)
            seen[zone[ev.location_id], offset] += 1
    assert seen["America/New_York", timedelta(hours=-4)] > 20
    assert seen["America/New_York", timedelta(hours=-5)] > 20
    assert seen["America/Los_Angeles", timedelta(hours=-8)] > 20


def test_events_per_local_hour_follow_the_daily_curve() -> None:
    rate = N / (2 * DAY_S)  # about two days of events: the first whole day is counted
    events = network_events(N, True, rate)
    _, cat = network_log(N, curve=True, events_per_s=rate)
    zone = {s: ZoneInfo(z) for s, z in zip(cat.stores, cat.store_zones or (), strict=True)}
    start_ms = WorkloadParams().start_ms
    stamps = [ms for e in events if (ms := epoch_ms(e.ts)) < start_ms + DAY_S * 1000]
    hours: Counter[int] = Counter()
    for e in events:
        if e.location_id in zone and (ms := epoch_ms(e.ts)) < start_ms + DAY_S * 1000:
            at = datetime.fromtimestamp(ms / 1000, UTC)
            hours[at.astimezone(zone[e.location_id]).hour] += 1
    total = sum(hours.values())
    observed = [24 * hours[h] / total for h in range(24)]
    # a fulfil, release or delivery names a store drawn earlier: the curve shows a little blurred
    for h, weight in enumerate(DAILY_CURVE):
        assert abs(observed[h] - weight) <= 0.04 + 0.12 * weight, (h, observed[h], weight)
    night, peak = sum(observed[2:5]), observed[12] + observed[18]
    assert night < 0.1 * peak
    assert len(stamps) / DAY_S == pytest.approx(rate, rel=0.04)  # the mean rate holds
    assert all(b >= a - 3000 for a, b in zip(accumulate(stamps, max), stamps[1:], strict=False))


def test_day_profile_keeps_the_mean_rate() -> None:
    profile = DayProfile([3.0, 1.0, 1.0, 0.5], [-300, -360, -480, 330])
    assert profile.rate.mean() == pytest.approx(1.0)
    shares = profile.store_rates.mean(axis=0)
    assert shares == pytest.approx(np.array([3.0, 1.0, 1.0, 0.5]) / 5.5)
    utc = DayProfile([1.0], [0])
    assert list(utc.rate[::4]) == pytest.approx(DAILY_CURVE)  # one store at UTC: the curve
    ny = DayProfile([1.0], [-300])
    assert ny.rate[ny.bucket(17 * 3_600_000)] == pytest.approx(DAILY_CURVE[12])
    for weights, offsets in (([1.0], [7]), ([0.0], [0]), ([1.0, 1.0], [0])):
        with pytest.raises(ValueError):
            DayProfile(weights, offsets)
    with pytest.raises(ValueError):
        DayProfile([1.0], [0], curve=[1.0] * 23)


def test_mix_still_follows_its_weights_on_the_network() -> None:
    lines, _ = network_log()
    skip = seeding_lines(N)
    counts = Counter(kind(e) for e in network_events()[skip - 100 :])
    total, weight = sum(counts.values()), sum(w for _, w in DEFAULT_MIX)
    for typ, w in DEFAULT_MIX:
        share = w / weight
        assert abs(counts[typ] / total - share) <= 0.003 + 0.05 * share, (typ, counts[typ] / total)
    bad = sum(isinstance(decode(line), str) for line in lines)
    assert bad == round(N * 0.001) and len(lines) - len(set(lines)) == round(N * 0.005)


def test_catalogue_validates_weights_and_zones() -> None:
    ids = (("S1", "S2"), ("DC1",), ("X",))
    with pytest.raises(ValueError, match="one value per store"):
        Catalogue(*ids, store_weights=(1.0,))
    with pytest.raises(ValueError, match="positive"):
        Catalogue(*ids, store_weights=(1.0, 0.0))
    with pytest.raises(ValueError, match="time zone"):
        Catalogue(*ids, store_zones=("America/New_York", "Mars/Olympus"))


def test_describe_names_the_catalogue() -> None:
    params, _ = network_workload(WorkloadParams(events=10), stores=12)
    shown = describe(params)
    assert shown["catalogue"] == "built-in network" and shown["stores"] == 12
    assert shown["daily_curve"] is True and "mix" not in shown
    assert describe(WorkloadParams(), None)["catalogue"] == "numbered"
