"""US ZIP code centroids from the ``zipcodes`` package, which ships its data (works offline)."""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=65_536)
def zip_centroid(code: str) -> tuple[float, float] | None:
    """The centroid of a 5-digit US ZIP code, or ``None`` when it is unknown."""
    import zipcodes  # noqa: PLC0415 - loads its table on first use, not at CLI start

    try:
        found = zipcodes.matching(code)  # type: ignore[no-untyped-call]  # untyped package
    except (TypeError, ValueError):
        return None
    if not found:
        return None
    return float(found[0]["lat"]), float(found[0]["long"])
