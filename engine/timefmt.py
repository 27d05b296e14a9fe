"""Instants: aware datetimes inside, RFC 3339 or epoch milliseconds at the edges.

docs/events.md §1.

Events carry their ``ts`` as RFC 3339 with an offset (``Z`` or ``+hh:mm``) or as integer epoch
milliseconds. msgspec decodes RFC 3339 straight into an aware ``datetime`` in C, so the engine
keeps every instant as that ``datetime``: converting each event's time to an integer would cost
more than the rest of the parse (``benchmarks/replay_throughput.py``). Every instant is held in
UTC (an offset input is moved to UTC once, at parse): two datetimes of the same ``tzinfo``
compare far faster than two of different offsets. Integer inputs become UTC datetimes.

Formatting gives UTC with ``Z``: milliseconds when they are not zero, microseconds only when an
input had them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec

from engine.errors import InputError

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
BEFORE_ALL: Final = EPOCH - timedelta(milliseconds=1)  # earlier than any instant accepted
NEVER: Final = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
MAX_MS: Final = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_AwareDatetime = msgspec.json.Decoder(datetime)


def from_ms(ms: int) -> datetime:
    """The UTC instant of epoch milliseconds."""
    return EPOCH + timedelta(milliseconds=ms)


def later(instant: datetime, delta: timedelta) -> datetime:
    """``instant + delta``, or ``NEVER`` where that would pass the last date (9999-12-31).

    Accepted instants run to the end of 9999; a reservation made in its last week would
    otherwise expire after the end of dates, and that must not crash a stream.
    """
    try:
        return instant + delta
    except OverflowError:
        return NEVER


def to_ms(value: datetime) -> int:
    """Epoch milliseconds of an instant, rounded down."""
    return (value - EPOCH) // timedelta(milliseconds=1)


def rfc3339(value: datetime) -> str:
    """``2026-11-20T14:05:00Z``; ``.123Z`` when there are milliseconds."""
    utc = value.astimezone(UTC) if value.utcoffset() else value
    micro = utc.microsecond
    if not micro:
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    if micro % 1000:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{micro // 1000:03d}Z"


def parse_instant(text: str) -> datetime:
    """Parse a caller's instant (a CLI flag, a query parameter).

    Args:
        text: RFC 3339 with an offset, or integer epoch milliseconds.

    Returns:
        The instant.

    Raises:
        InputError: the text is neither, has no offset, or is out of range.
    """
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        ms = int(stripped)
        if not 0 <= ms <= MAX_MS:
            raise InputError(f"the instant {text!r} is out of range (1970 to 9999)")
        return from_ms(ms)
    try:
        value = _AwareDatetime.decode(b'"' + stripped.encode() + b'"')
    except (msgspec.DecodeError, UnicodeEncodeError):
        raise InputError(
            f"cannot read the instant {text!r}: give RFC 3339 with an offset "
            "(2026-11-20T14:05:00Z) or integer epoch milliseconds"
        ) from None
    if value.tzinfo is None:
        raise InputError(f"the instant {text!r} has no offset: add Z or +hh:mm")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # past 9999 once in UTC
        utc = None
    if utc is None or value < EPOCH:
        raise InputError(f"the instant {text!r} is out of range (1970 to 9999)")
    return utc
