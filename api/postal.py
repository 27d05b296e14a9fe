"""US ZIP code centroids from the ``zipcodes`` package, which ships its data (works offline)."""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt


@functools.cache
def _centroids() -> dict[str, tuple[float, float]]:
    """Every ZIP code's centroid, indexed once (``zipcodes.matching`` scans its whole list)."""
    import zipcodes  # noqa: PLC0415 - loads its table (noticeably slow) on first use, not at CLI start

    table: dict[str, tuple[float, float]] = {}
    for row in zipcodes.list_all():  # type: ignore[no-untyped-call]  # untyped package
        try:
            table[row["zip_code"]] = (float(row["lat"]), float(row["long"]))
        except (KeyError, TypeError, ValueError):
            continue  # a row without coordinates locates nothing
    return table


def warm() -> None:
    """Load the table now (a server calls this before it reports ready)."""
    _centroids()


def zip_centroid(code: str) -> tuple[float, float] | None:
    """The centroid of a 5-digit US ZIP code, or ``None`` when it is unknown."""
    return _centroids().get(code)


@functools.cache
def _zip_table() -> tuple[list[str], npt.NDArray[np.float64]]:
    """ZIP codes and their centroids (radians) as arrays, once."""
    table = _centroids()
    codes = sorted(table)
    return codes, np.radians(np.array([table[code] for code in codes], dtype=np.float64))


def nearest_zip(lat: float, lon: float) -> str:
    """The US ZIP code whose centroid is nearest to ``lat, lon`` (the smaller code on a tie)."""
    codes, points = _zip_table()
    phi, lam = math.radians(lat), math.radians(lon)
    half = (
        np.sin((points[:, 0] - phi) / 2) ** 2
        + math.cos(phi) * np.cos(points[:, 0]) * np.sin((points[:, 1] - lam) / 2) ** 2
    )
    return codes[int(np.argmin(half))]
