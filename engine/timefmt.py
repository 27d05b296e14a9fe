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

# ``from_ms`` runs once per event with an integer ``ts``: ``EPOCH + timedelta(milliseconds=ms)``
# built a timedelta from keywords and normalised it (7,000 instructions, a quarter of a replay of
# short lines). The instant of each whole second is made once and kept, the last one used at
# hand (events of one second come together), and a millisecond offset from a table is added to
# it: 500 instructions.
_MILLISECONDS: Final = tuple(timedelta(milliseconds=ms) for ms in range(1000))
_SECONDS_MAX: Final = 1 << 16  # then forgotten all at once: about 5 MB at most


class _Seconds:
    """The instant of each whole second met, and the last one (one tuple: swapped whole)."""

    def __init__(self) -> None:
        self.last: tuple[int, datetime] = (0, EPOCH)
        self.known: dict[int, datetime] = {0: EPOCH}


_seconds: Final = _Seconds()


def from_ms(ms: int) -> datetime:
    """The UTC instant of epoch milliseconds."""
    second = ms // 1000
    last = _seconds.last
    if last[0] == second:
        base = last[1]
    else:
        known = _seconds.known
        found = known.get(second)
        if found is None:
            if len(known) >= _SECONDS_MAX:
                known.clear()
            found = known[second] = EPOCH + timedelta(seconds=second)
        base = found
        _seconds.last = (second, base)
    return base + _MILLISECONDS[ms % 1000]  # (a product of big ints is not inlined; this is)


def later(instant: datetime, delta: timedelta) -> datetime:
    """``instant + delta``, or ``NEVER`` where that would pass the last date (9999-12-31).

    Accepted instants run to the end of 9999; a reservation made in its last week would
    otherwise expire after the end of dates, and that must not crash a stream.
    """
    try:
        return instant + delta
    except OverflowError:
        return NEVER


# ``to_us`` runs several times per event on the same few instants: its ``ts`` for the dedup
# bucket and its position's ``as_of``, then as the book's watermark for the next events. The two
# instants converted last are kept with their microseconds (each pair one tuple, swapped whole,
# so a reader on another thread sees a pair that belongs together, or misses).
class _Last:
    def __init__(self) -> None:
        self.a: tuple[datetime, int] = (EPOCH, 0)
        self.b: tuple[datetime, int] = (EPOCH, 0)


_last: Final = _Last()
EXACT_US: Final = 2.0**51  # below it, a float timestamp in microseconds rounds exactly
US: Final = timedelta(microseconds=1)


def to_us(value: datetime) -> int:
    """Epoch microseconds of an aware instant, exactly. ``timestamp()`` is the instant's exact
    microseconds over 10**6, rounded once: times 10**6 it is off by under half a microsecond
    while the figure is under 2**51 (the year 2041), so rounding gives it back."""
    a = _last.a
    if a[0] is value:
        return a[1]
    b = _last.b
    if b[0] is value:
        return b[1]
    us = value.timestamp() * 1e6
    found = round(us) if -EXACT_US < us < EXACT_US else (value - EPOCH) // US
    _last.b = a
    _last.a = (value, found)
    return found


def from_us(us: int) -> datetime:
    """The UTC instant of epoch microseconds."""
    return EPOCH + timedelta(0, 0, us)


def to_ms(value: datetime) -> int:
    """Epoch milliseconds of an instant, rounded down."""
    return to_us(value) // 1000


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
