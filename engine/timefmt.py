"""Instants: epoch milliseconds inside, RFC 3339 at the edges (CONTRACT section 1).

The engine keeps every instant as an ``int`` of epoch milliseconds: cheap to compare, store and
pickle. Parsing accepts RFC 3339 with an offset (``Z`` or ``+hh:mm``) or an integer of epoch
milliseconds; formatting gives UTC with ``Z``, with milliseconds only when they are not zero.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from engine.errors import InputError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)
MIN_MS = 0
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_AwareDatetime = msgspec.json.Decoder(datetime)


def datetime_to_ms(value: datetime) -> int:
    """Epoch milliseconds of an aware datetime, rounded down to the millisecond."""
    return (value - EPOCH) // ONE_MS


def ms_to_rfc3339(ms: int) -> str:
    """``2026-11-20T14:05:00Z``, or ``2026-11-20T14:05:00.123Z`` when there are milliseconds."""
    dt = EPOCH + timedelta(milliseconds=ms)
    if ms % 1000:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> int:
    """Parse a caller's instant (a CLI flag, a query parameter) to epoch milliseconds.

    Args:
        text: RFC 3339 with an offset, or integer epoch milliseconds.

    Returns:
        Epoch milliseconds.

    Raises:
        InputError: the text is neither, has no offset, or is out of range.
    """
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        ms = int(stripped)
    else:
        try:
            dt = _AwareDatetime.decode(b'"' + stripped.encode() + b'"')
        except (msgspec.DecodeError, UnicodeEncodeError):
            raise InputError(
                f"cannot read the instant {text!r}: give RFC 3339 with an offset "
                "(2026-11-20T14:05:00Z) or integer epoch milliseconds"
            ) from None
        if dt.tzinfo is None:
            raise InputError(f"the instant {text!r} has no offset: add Z or +hh:mm")
        ms = datetime_to_ms(dt)
    if not MIN_MS <= ms <= MAX_MS:
        raise InputError(f"the instant {text!r} is out of range (1970 to 9999)")
    return ms
