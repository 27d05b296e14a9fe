"""US ZIP code centroids from the ``zipcodes`` package, which ships its data (works offline)."""

from __future__ import annotations

import functools


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
