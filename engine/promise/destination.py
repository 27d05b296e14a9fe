"""Destinations: a US ZIP code (located at its centroid) or a ``LAT,LON`` pair (docs/network.md §5).

The ZIP table lives outside the engine (``api.postal`` wraps the ``zipcodes`` package);
this module takes the lookup as an argument, so it stays pure and tests can pass a dict.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from engine.promise.errors import BadDestinationError, UnknownPostalCodeError

ZipLookup = Callable[[str], tuple[float, float] | None]
_ZIP = re.compile(r"(\d{5})(-\d{4})?\Z")
_NUMBER = r"\s*([+-]?\d+(?:\.\d+)?)\s*"
_LAT_LON = re.compile(_NUMBER + "," + _NUMBER + r"\Z")


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a parcel goes: a point, and the ZIP code it came from if any."""

    lat: float
    lon: float
    postal_code: str | None = None

    def record(self) -> dict[str, object]:
        """The JSON form answers echo."""
        if self.postal_code is not None:
            return {"postal_code": self.postal_code, "lat": self.lat, "lon": self.lon}
        return {"lat": self.lat, "lon": self.lon}


def at_point(lat: float, lon: float) -> Destination:
    """A destination at a point.

    Raises:
        BadDestinationError: a latitude or longitude out of range.
    """
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadDestinationError(
            f"the point {lat},{lon} is out of range: latitude -90..90, longitude -180..180"
        )
    return Destination(float(lat), float(lon))


def at_postal_code(code: str, lookup: ZipLookup) -> Destination:
    """A destination at a US ZIP code's centroid (ZIP+4 uses its first five digits).

    Raises:
        UnknownPostalCodeError: the code is not a known US ZIP code.
    """
    found = _ZIP.match(code.strip())
    point = lookup(found[1]) if found else None
    if point is None:
        raise UnknownPostalCodeError(code)
    return Destination(point[0], point[1], found[1] if found else code)


def parse_destination(text: str, lookup: ZipLookup) -> Destination:
    """``"10001"`` or ``"40.75,-73.99"`` as a destination (the CLI's ``--to``).

    Raises:
        UnknownPostalCodeError: five digits that are no known ZIP code.
        BadDestinationError: neither a ZIP code nor LAT,LON.
    """
    pair = _LAT_LON.match(text)
    if pair:
        return at_point(float(pair[1]), float(pair[2]))
    if _ZIP.match(text.strip()):
        return at_postal_code(text, lookup)
    raise BadDestinationError(
        f"cannot read the destination {text!r}: give a 5-digit US ZIP code or LAT,LON"
    )
