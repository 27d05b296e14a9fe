"""Reading an inventory event from its JSON text (docs/events.md §1, §3).

msgspec decodes the text into an ``engine.schema`` struct and checks shapes, types and ranges
in C; ``parse`` adds the checks a schema cannot say (identifier syntax, a non-zero ``delta``,
an instant in range, a transfer to another location) and turns every failure into a
``Rejected`` with a stable code and a precise message. Nothing here raises on bad input.

Instants arrive as RFC 3339 with an offset or integer epoch milliseconds; ``parse`` leaves
``ts`` and ``eta`` as aware datetimes, which is what the rules see (``engine.timefmt``).
The event types are re-exported from ``engine.schema``. This module is compiled by mypyc
(``setup.py``): it runs once per event.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec

from engine.kinds import (
    ADJUST,
    EVENT_ID,
    FULFIL,
    INBOUND,
    INBOUND_CANCEL,
    LOCATION_ID,
    RECEIPT,
    RELEASE,
    RESERVE,
    REVOKE,
    SALE,
    SALE_RESERVATION_ID,
    SET_SAFETY_STOCK,
    SKU,
    TRANSFER_OUT,
    TS,
    fields_of,
)
from engine.outputs import Rejected
from engine.schema import (
    DEFAULT_TTL_S,
    EVENT_TYPES,
    MAX_LINES,
    MAX_QTY,
    MAX_TTL_S,
    Adjust,
    CycleCount,
    Event,
    Fulfil,
    Inbound,
    InboundCancel,
    Receipt,
    Release,
    Reserve,
    Restock,
    Return,
    Revoke,
    Sale,
    SetAlertThresholds,
    SetSafetyStock,
    TransferOut,
    WriteOff,
)
from engine.timefmt import EPOCH, MAX_MS, from_ms, later, rfc3339

__all__ = [
    "DEFAULT_TTL_S",
    "EVENT_TYPES",
    "MAX_QTY",
    "MAX_TTL_S",
    "Adjust",
    "CycleCount",
    "Event",
    "Fulfil",
    "Inbound",
    "InboundCancel",
    "Receipt",
    "Release",
    "Reserve",
    "Restock",
    "Return",
    "Revoke",
    "Sale",
    "SetAlertThresholds",
    "SetSafetyStock",
    "TransferOut",
    "WriteOff",
    "encode",
    "parse",
]

_decoder = msgspec.json.Decoder(Event)
_decode: Final = _decoder.decode
_UTC: Final = UTC  # a C static (engine.kinds)
_encoder = msgspec.json.Encoder()

# msgspec's messages, sorted into stable rejection codes.
_CLASSIFY: Final = (
    (re.compile(r"^Object missing required field `type`"), "missing_field"),
    (re.compile(r"^Invalid value '.*' - at `\$\.type`"), "unknown_type"),
    (re.compile(r"^Expected `str`.* - at `\$\.type`"), "unknown_type"),
    (re.compile(r"^Object missing required field"), "missing_field"),
    (
        re.compile(
            r"^Expected `str` of length .* - at "
            r"`\$\.(lines\[\d+\]\.)?(location_id|sku|to_location_id|channel|claimed_by)`"
        ),
        "bad_identifier",
    ),
    (re.compile(r"^Expected `str` of length"), "bad_token"),
    (re.compile(r"^Expected `int` [<>]="), "out_of_range"),
    (re.compile(r"^Invalid RFC3339"), "bad_timestamp"),
    (re.compile(r"^Expected `datetime` with a timezone"), "bad_timestamp"),
    (re.compile(r"^Expected `object`, got"), "not_an_object"),
    (re.compile(r"^Expected "), "wrong_type"),
)


def _classify(message: str) -> str:
    for pattern, code in _CLASSIFY:
        if pattern.match(message):
            return code
    return "invalid_event"


# Called as functions: a method call on a str of unknown type looks the method up every time
# (as it does on bytes and datetimes: mypyc has no primitive for these methods).
_isascii: Final = str.isascii
_isprintable: Final = str.isprintable
_bytes_isascii: Final = bytes.isascii
_astimezone: Final = datetime.astimezone

# An instant with an offset, moved to UTC: ``astimezone`` calls the offset's methods by name
# (3,000 instructions). The decoder hands out one ``timezone`` object per offset; the epoch in
# that offset is kept for each, and two datetimes of one tzinfo subtract as wall times: the
# instant is the epoch plus its distance from it (1,000 instructions).
_epochs: Final[dict[Any, datetime]] = {}


def _utc(value: datetime, offset: Any) -> datetime:
    """``value`` (of the fixed offset ``offset``, its tzinfo) in UTC. Raises OverflowError
    past the calendar in UTC, as ``astimezone`` does."""
    epoch = _epochs.get(offset)
    if epoch is None:
        epoch = _epochs[offset] = _astimezone(EPOCH, offset)
    return EPOCH + (value - epoch)


_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
# Known-good codes: they repeat on every event, and a set lookup costs less than the pattern.
# (Swapping each id for one canonical string, so that dict lookups match by identity, cost
# more in attribute writes than the string comparisons it saved.)
_known_codes: Final[set[str]] = set()
_KNOWN_CODES_MAX: Final = 1 << 20


def _valid_code(value: str) -> bool:
    """``location_id``/``sku`` syntax: 1-64 of ``A-Z a-z 0-9 _ . -``; known ones are cached."""
    if value in _known_codes:
        return True
    if _CODE.fullmatch(value) is None:
        return False
    if len(_known_codes) >= _KNOWN_CODES_MAX:
        _known_codes.clear()
    _known_codes.add(value)
    return True


def _valid_token(value: str) -> bool:
    """``event_id``/``reservation_id``/``supply_id`` syntax: printable ASCII (length by msgspec)."""
    return _isascii(value) and _isprintable(value)


def _plain(raw: bytes) -> bool:
    """Whether every string ``raw`` decodes to is printable ASCII, so that no token need be
    checked: ``raw`` is ASCII (checked first) with no escape (``\\``) and no DEL. The JSON
    decoder refuses the other control characters inside a string. (An int is looked for with a
    memchr; a bytes needle first fails as an int, and that raised error costs 2,000
    instructions.)"""
    return 92 not in raw and 127 not in raw  # b"\\", b"\x7f"


def _instant(value: Any) -> datetime | None:
    """The decoded instant (aware datetime, or int epoch ms) as a datetime; ``None`` if out of
    range."""
    if type(value) is int:
        return from_ms(value) if 0 <= value <= MAX_MS else None
    offset = value.tzinfo
    if offset is not _UTC:
        try:
            value = _utc(value, offset)
        except OverflowError:  # 9999-12-31T23:00:00-05:00 is in year 10000 in UTC
            return None
    return value if value >= EPOCH else None


def _bad_code(name: str) -> Rejected:
    return Rejected("bad_identifier", f"{name} must be 1-64 of A-Z a-z 0-9 _ . - - at `$.{name}`")


def _bad_token(name: str) -> Rejected:
    return Rejected("bad_token", f"{name} must be printable ASCII - at `$.{name}`")


def _bad_common(event: Any, plain: bool) -> Rejected | None:
    if not plain and not _valid_token(event.event_id):
        return _bad_token("event_id")
    if not _valid_code(event.location_id):
        return _bad_code("location_id")
    sku = event.sku
    if sku is None:
        cls = type(event)
        if cls is RELEASE or cls is FULFIL or cls is REVOKE:
            return None  # the reservation names its skus
        if cls is RESERVE and event.lines is not None:
            return None  # a cart: its lines name them
        return Rejected("missing_field", "Object missing required field `sku`")
    if not _valid_code(sku):
        return _bad_code("sku")
    return None


def _check_lines(lines: list[Any], least: int, what: str) -> Rejected | None:
    """A cart's lines: at least ``least``, distinct skus of the right syntax."""
    if not least <= len(lines) <= MAX_LINES:
        return Rejected(
            "bad_lines", f"{what} {least} to {MAX_LINES} lines, not {len(lines)} - at `$.lines`"
        )
    skus: set[str] = set()
    for i, line in enumerate(lines):
        if not _valid_code(line.sku):
            return _bad_code(f"lines[{i}].sku")
        if line.sku in skus:
            return Rejected("bad_lines", f"sku {line.sku!r} is on two lines - at `$.lines[{i}]`")
        skus.add(line.sku)
    return None


def _check_reservation_id(event: Any, plain: bool) -> Rejected | None:
    if plain:
        return None
    rid = event.reservation_id
    if rid is not None and not _valid_token(rid):
        return _bad_token("reservation_id")
    return None


def _check_supply_id(event: Any, plain: bool) -> Rejected | None:
    if plain:
        return None
    sid = event.supply_id
    if sid is not None and not _valid_token(sid):
        return _bad_token("supply_id")
    return None


def _check_reserve(event: Any, plain: bool) -> Rejected | None:
    lines = event.lines
    if lines is None:
        if event.qty is None:
            return Rejected("missing_field", "Object missing required field `qty`")
    else:
        if event.sku is not None or event.qty is not None:
            return Rejected(
                "bad_lines", "a cart's lines take the place of sku and qty - at `$.lines`"
            )
        if event.allow_partial:
            return Rejected(
                "bad_lines", "a cart is held whole: allow_partial is not allowed - at `$.lines`"
            )
        bad = _check_lines(lines, 2, "a cart has")
        if bad is not None:
            return bad
    if not _valid_code(event.channel):
        return _bad_code("channel")
    if event.location_group is not None and not _valid_code(event.location_group):
        return _bad_code("location_group")
    return _check_reservation_id(event, plain)


def _check_channel(event: Any) -> Rejected | None:
    if event.channel is not None and not _valid_code(event.channel):
        return _bad_code("channel")
    return None


def _check_revoke(event: Any, plain: bool) -> Rejected | None:
    if not _valid_code(event.claimed_by):
        return _bad_code("claimed_by")
    return _check_reservation_id(event, plain)


def _check_delta(event: Any) -> Rejected | None:
    if event.delta == 0:
        return Rejected("out_of_range", "delta must not be 0 - at `$.delta`")
    return None


def _check_supply(event: Any, plain: bool) -> Rejected | None:
    eta = _instant(event.eta)
    if eta is None:
        return Rejected("bad_timestamp", "eta is before 1970 or after 9999 - at `$.eta`")
    event.eta = eta
    return _check_supply_id(event, plain)


def _check_transfer(event: Any, plain: bool) -> Rejected | None:
    if not _valid_code(event.to_location_id):
        return _bad_code("to_location_id")
    if event.to_location_id == event.location_id:
        return Rejected(
            "bad_transfer", "to_location_id is the sending location - at `$.to_location_id`"
        )
    return _check_supply(event, plain)


def clock_limit(now: datetime, max_future_s: int) -> datetime:
    """The latest ``ts`` the clock rule accepts at ``now`` (docs/events.md §2)."""
    return later(now, timedelta(seconds=max_future_s))


def in_future(ts: datetime, limit: datetime, max_future_s: int) -> Rejected | None:
    """The clock rule: an event dated after ``limit`` (``clock_limit``) is refused, with the
    reason ``ts_in_future``; ``None`` when it may be applied."""
    if ts <= limit:
        return None
    return Rejected(
        "ts_in_future",
        f"ts {rfc3339(ts)} is more than {max_future_s} s after the clock; check the sending "
        "device's clock - at `$.ts`",
    )


def parse(raw: bytes | str) -> Event | Rejected:
    """Read one event from its JSON text.

    Args:
        raw: one JSON object (a Kafka message value or a line of a JSONL file).

    Returns:
        The event, with ``ts`` (and ``eta``) as aware datetimes, or a ``Rejected`` saying
        exactly what is wrong. Never raises on bad input.
    """
    plain = False  # no token need be checked (``_plain``)
    if type(raw) is bytes:
        if _bytes_isascii(raw):
            plain = _plain(raw)
        else:
            # msgspec checks the UTF-8 of the strings it keeps, not of a field it skips: text
            # is UTF-8 everywhere, an unknown field's included (the API's body reader agrees).
            try:
                raw.decode()
            except UnicodeDecodeError as exc:
                return Rejected("bad_json", f"not valid JSON: invalid UTF-8 at byte {exc.start}")
    try:
        event: Any = _decode(raw)
    except msgspec.ValidationError as exc:
        message = str(exc)
        return Rejected(_classify(message), message)
    except msgspec.DecodeError as exc:
        return Rejected("bad_json", f"not valid JSON: {exc}")
    except RecursionError:  # msgspec recurses once per level of nesting
        return Rejected("bad_json", "not valid JSON: nested too deeply for an event")
    # The hot path, written flat: this runs for every event of every stream. The common
    # fields come from one C call, not an attribute read each (engine.kinds).
    fields = fields_of(event)
    ts = fields[TS]
    if type(ts) is int:
        if not 0 <= ts <= MAX_MS:  # then from 1970 on, as the datetime branch checks
            return Rejected("bad_timestamp", "ts is before 1970 or after 9999 - at `$.ts`")
        event.ts = from_ms(ts)
    else:
        offset = ts.tzinfo
        if offset is not _UTC:
            # Held in UTC: comparing datetimes of two offsets costs 30 times more than of one.
            try:
                ts = event.ts = _utc(ts, offset)
            except OverflowError:  # 9999-12-31T23:00:00-05:00 is in year 10000 in UTC
                return Rejected("bad_timestamp", "ts is before 1970 or after 9999 - at `$.ts`")
        if ts < EPOCH:
            return Rejected("bad_timestamp", "ts is before 1970 or after 9999 - at `$.ts`")
    if fields[LOCATION_ID] not in _known_codes or fields[SKU] not in _known_codes:
        bad = _bad_common(event, plain)
        if bad is not None:
            return bad
    elif not plain and not _valid_token(fields[EVENT_ID]):
        return _bad_token("event_id")
    cls = type(event)
    if cls is SALE:  # half of all events: checked inline
        rid = fields[SALE_RESERVATION_ID]
        if rid is not None and not plain and not _valid_token(rid):
            return _bad_token("reservation_id")
        bad = None
    elif cls is RESERVE:
        bad = _check_reserve(event, plain)
    elif cls is RECEIPT or cls is INBOUND_CANCEL:
        bad = _check_supply_id(event, plain)
    elif cls is RELEASE:
        bad = _check_reservation_id(event, plain)
    elif cls is FULFIL:
        bad = _check_reservation_id(event, plain)
        if bad is None and event.lines is not None:
            if event.qty is not None:
                bad = Rejected("bad_lines", "a fulfil takes qty or lines, not both - at `$.lines`")
            else:
                bad = _check_lines(event.lines, 1, "a fulfil names")
    elif cls is INBOUND:
        bad = _check_supply(event, plain)
    elif cls is TRANSFER_OUT:
        bad = _check_transfer(event, plain)
    elif cls is ADJUST:
        bad = _check_delta(event)
    elif cls is REVOKE:
        bad = _check_revoke(event, plain)
    elif cls is SET_SAFETY_STOCK:
        bad = _check_channel(event)
    else:
        bad = None
    if bad is not None:
        return bad
    parsed: Event = event
    return parsed


def encode(event: Event) -> bytes:
    """The JSON text of an event (instants in RFC 3339)."""
    return _encoder.encode(event)
