"""The instants a request may carry, as validation and as the OpenAPI document states them.

An instant is RFC 3339 with an offset, or integer epoch milliseconds (docs/api.md §1). The
engine refuses one before 1970 or after 9999 (``engine.timefmt``), and the promise calculator
one whose calendars would run past 9999-12-31 (``at_out_of_range``). Here both rules are
written as patterns and bounds, once: the validators (``Instant`` and its kin, for pydantic
and FastAPI) check with them, and the schemas they carry are what ``/openapi.json`` shows. So
an instant the document allows is one the engine accepts, and one it forbids is refused (422)
before the engine sees it.

The text pattern follows the calendar (leap years included) and keeps every offset in range:
on the first day, 1970-01-01, an offset may not be ahead of UTC (it would be before 1970); on
the last day, one may not be behind it (it would be past the last day). Digits are ASCII
(``[0-9]``, never ``\\d``), so Python, pydantic and JSON Schema read the pattern alike.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from engine.timefmt import MAX_MS, to_ms

_D31 = "(0[1-9]|[12][0-9]|3[01])"
_D30 = "(0[1-9]|[12][0-9]|30)"
_D28 = "(0[1-9]|1[0-9]|2[0-8])"
_MONTH_DAY = f"((0[13578]|1[02])-{_D31}|(0[469]|11)-{_D30}|02-{_D28})"
_MONTH_DAY_1970 = (
    f"(01-(0[2-9]|[12][0-9]|3[01])|(0[3578]|1[02])-{_D31}|(0[469]|11)-{_D30}|02-{_D28})"
)
_YEARS_BETWEEN = "(197[1-9]|19[89][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
_LEAP_YEARS = (
    "(19(7[26]|8[048]|9[26])"  # 1972 to 1996
    "|[2-9][0-9](0[48]|[2468][048]|[13579][26])"  # a year divisible by 4, not by 100
    "|(2[048]|[3579][26]|[468][048])00)"  # or by 400
)
_HH_MM = "([01][0-9]|2[0-3]):[0-5][0-9]"
_TIME = f"[Tt ]{_HH_MM}:[0-5][0-9]"
_FRACTION = r"(\.[0-9]+)?"
_ANY_OFFSET = f"([Zz]|[+-]{_HH_MM})"
_NOT_AHEAD = rf"([Zz]|-{_HH_MM}|\+00:00)"
_NOT_BEHIND = rf"([Zz]|\+{_HH_MM}|-00:00)"


def text_pattern(last_day: str, year_9999_before: str) -> str:
    """RFC 3339 instants dated 1970-01-01 to ``last_day`` (a day of 9999), whose local date
    and offset keep them in that range; ``year_9999_before`` matches the ``MM-DD`` of 9999
    before ``last_day``. On the last day a fraction has at most 6 digits: a seventh could round
    up past its last microsecond."""
    between = (
        f"(1970-{_MONTH_DAY_1970}|{_YEARS_BETWEEN}-{_MONTH_DAY}|{_LEAP_YEARS}-02-29"
        f"|9999-{year_9999_before})"
    )
    return (
        f"^({between}{_TIME}{_FRACTION}{_ANY_OFFSET}"
        f"|1970-01-01{_TIME}{_FRACTION}{_NOT_AHEAD}"
        rf"|{last_day}{_TIME}(\.[0-9]{{1,6}})?{_NOT_BEHIND})$"
    )


def numeral_pattern(most: int) -> str:
    """Decimal numerals from 0 to ``most`` (no sign, no leading zero)."""
    digits = str(most)
    choices = ["0"]
    if len(digits) > 1:
        choices.append(f"[1-9][0-9]{{0,{len(digits) - 2}}}")
    for i, digit in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(digit) > low:
            rest = len(digits) - i - 1
            tail = f"[0-9]{{{rest}}}" if rest else ""
            choices.append(f"{digits[:i]}[{low}-{int(digit) - 1}]{tail}")
    choices.append(digits)
    return "^(" + "|".join(choices) + ")$"


def _ms(text: str) -> int:
    return to_ms(datetime.fromisoformat(text).replace(tzinfo=UTC))


INSTANT_TEXT: Final = text_pattern(
    "9999-12-31", f"((0[13578]|10)-{_D31}|(0[469]|1[12])-{_D30}|02-{_D28})"
)
PROMISE_LAST_DAY: Final = "9999-08-01"  # its calendars run 152 days ahead (engine.promise)
PROMISE_TEXT: Final = text_pattern(PROMISE_LAST_DAY, f"(0[1357]-{_D31}|0[46]-{_D30}|02-{_D28})")
PROMISE_MAX_MS: Final = _ms(f"{PROMISE_LAST_DAY}T23:59:59.999")
_DESCRIBE = (
    "RFC 3339 with an offset (2026-11-20T14:05:00Z), or integer epoch milliseconds: "
    "from 1970 to the end of 9999"
)
_DESCRIBE_PROMISE = (
    f"RFC 3339 with an offset (2026-11-20T14:05:00Z), or integer epoch milliseconds: from "
    f"1970 to the end of {PROMISE_LAST_DAY}, the last order day a promise covers (later, "
    "422 `at_out_of_range`)"
)

_DESCRIBE_ERROR = (
    "give RFC 3339 with an offset (2026-11-20T14:05:00Z) or integer epoch milliseconds, "
    "from 1970 to 9999"
)


class _Instants:
    """One range of instants: its validators (a body field, a query parameter) and schemas."""

    def __init__(self, text: str, most: int, describe: str, beyond: str | None) -> None:
        self.text = re.compile(text)
        self.numeral = re.compile(numeral_pattern(most))
        self.most = most
        self.beyond = beyond  # the error code past ``most`` though within 1970-9999, if any
        self.body_schema = {
            "anyOf": [
                {"type": "string", "pattern": text},
                {"type": "integer", "minimum": 0, "maximum": most},
            ],
            "description": describe,
        }
        either = f"^({text[1:-1]}|{numeral_pattern(most)[1:-1]})$"
        self.query_schema = {"type": "string", "pattern": either, "description": describe}

    def body(self, value: Any) -> str | int:
        """A body's instant, as given (the engine reads it); an integral float is an integer,
        as JSON Schema has it."""
        if type(value) is float and value.is_integer():
            value = int(value)
        if type(value) is int:
            if 0 <= value <= self.most:
                return value
            if self.beyond is not None and 0 <= value <= MAX_MS:
                raise self._beyond()
        elif type(value) is str:
            if self.text.fullmatch(value):
                return value
            if self.beyond is not None and _GENERAL.text.fullmatch(value):
                raise self._beyond()
        raise PydanticCustomError("instant", _DESCRIBE_ERROR)

    def query(self, value: Any) -> str | None:
        """A query parameter's instant: the text of either form."""
        if value is None:
            return None
        if type(value) is str:
            if self.text.fullmatch(value) or self.numeral.fullmatch(value):
                return value
            if self.beyond is not None and (
                _GENERAL.text.fullmatch(value) or _GENERAL.numeral.fullmatch(value)
            ):
                raise self._beyond()
        raise PydanticCustomError("instant", _DESCRIBE_ERROR)

    def _beyond(self) -> PydanticCustomError:
        assert self.beyond is not None
        return PydanticCustomError(
            self.beyond,
            f"promises cover orders up to {PROMISE_LAST_DAY}: their calendars run 152 days "
            "ahead, and dates end at 9999-12-31",
        )


_GENERAL = _Instants(INSTANT_TEXT, MAX_MS, _DESCRIBE, None)
_PROMISE = _Instants(PROMISE_TEXT, PROMISE_MAX_MS, _DESCRIBE_PROMISE, "at_out_of_range")

Instant = Annotated[str | int, PlainValidator(_GENERAL.body), WithJsonSchema(_GENERAL.body_schema)]
PromiseInstant = Annotated[
    str | int, PlainValidator(_PROMISE.body), WithJsonSchema(_PROMISE.body_schema)
]
InstantQuery = Annotated[
    str | None, PlainValidator(_GENERAL.query), WithJsonSchema(_GENERAL.query_schema)
]
PromiseInstantQuery = Annotated[
    str | None, PlainValidator(_PROMISE.query), WithJsonSchema(_PROMISE.query_schema)
]
