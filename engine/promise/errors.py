"""The delivery calculator's errors (docs/network.md), under the project's root.

The tree::

    OmnistockError
    +-- ConfigError
    |   +-- NetworkError         the network file has mistakes; each names its place and field
    +-- InputError
        +-- UnknownPostalCodeError    a destination ZIP code that is not known (API: 422)
        +-- BadDestinationError       a destination that is neither a ZIP code nor LAT,LON
        +-- OutOfCalendarError        an order instant too near the end of dates (year 9999)
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import ConfigError, InputError


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in a network file.

    Attributes:
        where: the place, e.g. ``locations[3] (S001)`` or ``service_levels[0] (standard)``.
        field: the field inside it, e.g. ``hours.mon`` or ``transit_days[1]``.
        message: what is wrong and what to do.
    """

    where: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}, field {self.field}: {self.message}"


class NetworkError(ConfigError):
    """The network file cannot be used; ``problems`` lists every mistake found."""

    code = "bad_network"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n  ".join(str(problem) for problem in problems)
        super().__init__(f"the network file has {len(problems)} mistake(s):\n  {lines}")


class UnknownPostalCodeError(InputError):
    """A ZIP code that is not in the list of US ZIP codes."""

    code = "unknown_postal_code"

    def __init__(self, postal_code: str) -> None:
        self.postal_code = postal_code
        super().__init__(
            f"unknown postal code {postal_code!r}: give a 5-digit US ZIP code or LAT,LON"
        )


class BadDestinationError(InputError):
    """A destination that is neither a postal code nor a latitude/longitude pair."""

    code = "bad_destination"


class OutOfCalendarError(InputError):
    """An order instant whose calendars would run past 9999-12-31 (API: 422)."""

    code = "at_out_of_range"
