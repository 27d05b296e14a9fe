"""Parsing and validation of every event type and every rejection reason.

docs/events.md §1, §3, §9.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from engine import events as ev
from engine.outputs import Rejected
from engine.timefmt import MAX_MS
from tests.factories import T0, at, event, line


def rejected(raw: bytes) -> Rejected:
    out = ev.parse(raw)
    assert isinstance(out, Rejected), out
    return out


@pytest.mark.parametrize(
    ("type_", "fields", "cls"),
    [
        ("receipt", {"qty": 5}, ev.Receipt),
        ("receipt", {"qty": 5, "supply_id": "PO-1"}, ev.Receipt),
        ("sale", {"qty": 1}, ev.Sale),
        ("sale", {"qty": 1, "reservation_id": "R-1"}, ev.Sale),
        ("return", {"qty": 1}, ev.Return),
        ("return", {"qty": 1, "sellable": False}, ev.Return),
        ("adjust", {"delta": -3}, ev.Adjust),
        ("count", {"qty": 0}, ev.CycleCount),
        (
            "transfer_out",
            {"qty": 2, "to_location_id": "S2", "eta": T0 + 1, "supply_id": "T-1"},
            ev.TransferOut,
        ),
        ("inbound", {"qty": 2, "eta": "2026-12-01T00:00:00Z", "supply_id": "PO-9"}, ev.Inbound),
        ("inbound_cancel", {"supply_id": "PO-9"}, ev.InboundCancel),
        ("reserve", {"reservation_id": "R-1", "qty": 1}, ev.Reserve),
        ("release", {"reservation_id": "R-1"}, ev.Release),
        ("fulfil", {"reservation_id": "R-1"}, ev.Fulfil),
        ("fulfil", {"reservation_id": "R-1", "qty": 2}, ev.Fulfil),
        ("set_safety_stock", {"qty": 4}, ev.SetSafetyStock),
    ],
)
def test_every_event_type_parses(type_, fields, cls):
    parsed = ev.parse(line(type_, **fields))
    assert isinstance(parsed, cls)
    assert parsed.ts == at(0)
    for name, value in fields.items():
        if name != "eta":
            assert getattr(parsed, name) == value


def test_every_contract_type_is_known():
    # the contract's types, and the engine's own revocation (docs/events.md §8.5)
    assert set(ev.EVENT_TYPES) == {
        "revoke",
        "restock",
        "write_off",
        "set_alert_thresholds",
        "receipt",
        "sale",
        "return",
        "adjust",
        "count",
        "transfer_out",
        "inbound",
        "inbound_cancel",
        "reserve",
        "release",
        "fulfil",
        "set_safety_stock",
    }


def test_reserve_defaults():
    parsed = ev.parse(line("reserve", reservation_id="R", qty=1))
    assert isinstance(parsed, ev.Reserve), parsed
    assert (parsed.ttl_s, parsed.channel, parsed.allow_partial) == (900, "web", False)


@pytest.mark.parametrize(
    "ts",
    ["2026-11-18T11:06:40Z", "2026-11-18T06:06:40-05:00", "2026-11-18T12:06:40.000+01:00", T0],
)
def test_timestamps_rfc3339_with_offset_or_epoch_ms_are_the_same_instant(ts):
    parsed = ev.parse(line("sale", ts=ts, qty=1))
    assert isinstance(parsed, ev.Sale), parsed
    assert parsed.ts == at(0)


def test_fractional_seconds_are_kept():
    millis = ev.parse(line("sale", ts="2026-11-18T11:06:40.123Z", qty=1))
    assert isinstance(millis, ev.Sale), millis
    assert millis.ts == at(123)
    exact = ev.parse(line("sale", ts="2026-11-18T11:06:40.1239Z", qty=1))
    assert isinstance(exact, ev.Sale), exact
    assert exact.ts == at(123) + timedelta(microseconds=900)


def test_eta_is_an_instant():
    parsed = ev.parse(line("inbound", qty=1, supply_id="P", eta="2026-11-18T11:06:41Z"))
    assert isinstance(parsed, ev.Inbound), parsed
    assert parsed.eta == at(1000)


def test_unknown_fields_are_ignored():
    assert isinstance(ev.parse(line("sale", qty=1, till="7", cashier={"id": 3})), ev.Sale)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"not json", "bad_json"),
        (b'{"event_id": "e1", "type": "sale"', "bad_json"),
        (b"", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (b"[1, 2]", "not_an_object"),
        (b'"sale"', "not_an_object"),
        (b'{"event_id": "e1", "location_id": "S1", "sku": "A", "ts": 1}', "missing_field"),
        (line("teleport", qty=1), "unknown_type"),
        (
            orjson.dumps({"event_id": "e", "type": 7, "location_id": "S", "sku": "A", "ts": 1}),
            "unknown_type",
        ),
    ],
)
def test_unreadable_events_are_rejected_with_a_code(raw, code):
    assert rejected(raw).code == code


@pytest.mark.parametrize("missing", ["event_id", "location_id", "sku", "ts", "qty"])
def test_missing_common_or_type_field(missing):
    body = orjson.loads(line("sale", qty=1))
    del body[missing]
    out = rejected(orjson.dumps(body))
    assert out.code == "missing_field"
    assert missing in out.message


@pytest.mark.parametrize(
    ("type_", "fields"),
    [
        ("transfer_out", {"qty": 1, "eta": T0, "supply_id": "T"}),  # no to_location_id
        ("inbound", {"qty": 1, "supply_id": "P"}),  # no eta
        ("inbound_cancel", {}),
        ("reserve", {"qty": 1}),
        ("release", {}),
        ("adjust", {}),
    ],
)
def test_missing_type_specific_field(type_, fields):
    assert rejected(line(type_, **fields)).code == "missing_field"


@pytest.mark.parametrize(
    ("type_", "fields", "path"),
    [
        ("sale", {"qty": "1"}, "qty"),
        ("sale", {"qty": 1.0}, "qty"),
        ("sale", {"qty": True}, "qty"),
        ("return", {"qty": 1, "sellable": "no"}, "sellable"),
        ("reserve", {"reservation_id": "R", "qty": 1, "allow_partial": 1}, "allow_partial"),
        ("reserve", {"reservation_id": 5, "qty": 1}, "reservation_id"),
        ("sale", {"qty": 1, "ts": 1.5}, "ts"),
        ("sale", {"qty": 1, "ts": None}, "ts"),
    ],
)
def test_wrong_type_of_value(type_, fields, path):
    out = rejected(line(type_, **fields))
    assert out.code == "wrong_type"
    assert f"$.{path}" in out.message


@pytest.mark.parametrize(
    ("type_", "fields", "path"),
    [
        ("sale", {"qty": 0}, "qty"),
        ("sale", {"qty": 1_000_001}, "qty"),
        ("receipt", {"qty": -1}, "qty"),
        ("count", {"qty": -1}, "qty"),
        ("count", {"qty": 1_000_001}, "qty"),
        ("adjust", {"delta": 0}, "delta"),
        ("adjust", {"delta": 1_000_001}, "delta"),
        ("adjust", {"delta": -1_000_001}, "delta"),
        ("reserve", {"reservation_id": "R", "qty": 1, "ttl_s": 0}, "ttl_s"),
        ("reserve", {"reservation_id": "R", "qty": 1, "ttl_s": 604_801}, "ttl_s"),
        ("fulfil", {"reservation_id": "R", "qty": 0}, "qty"),
        ("set_safety_stock", {"qty": -2}, "qty"),
    ],
)
def test_quantities_out_of_range(type_, fields, path):
    out = rejected(line(type_, **fields))
    assert out.code == "out_of_range"
    assert f"$.{path}" in out.message


def test_quantity_limits_are_inclusive():
    assert isinstance(ev.parse(line("sale", qty=1_000_000)), ev.Sale)
    assert isinstance(ev.parse(line("adjust", delta=-1_000_000)), ev.Adjust)
    assert isinstance(
        ev.parse(line("reserve", reservation_id="R", qty=1, ttl_s=604_800)), ev.Reserve
    )


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"location_id": "S 1"}, "location_id"),
        ({"location_id": ""}, "location_id"),
        ({"location_id": "S" * 65}, "location_id"),
        ({"sku": "A/B"}, "sku"),
        ({"sku": "é"}, "sku"),
        ({"sku": "A\n"}, "sku"),
    ],
)
def test_bad_identifiers(fields, path):
    out = rejected(line("sale", qty=1, **fields))
    assert out.code == "bad_identifier"
    assert f"$.{path}" in out.message


def test_identifier_limits_are_inclusive():
    assert isinstance(ev.parse(line("sale", qty=1, location_id="S" * 64, sku="a.B-9_")), ev.Sale)


def test_bad_identifiers_in_type_fields():
    raw = line("transfer_out", qty=1, to_location_id="S 2", eta=T0, supply_id="T")
    assert rejected(raw).code == "bad_identifier"
    assert (
        rejected(line("reserve", reservation_id="R", qty=1, channel="p o s")).code
        == "bad_identifier"
    )


@pytest.mark.parametrize(
    ("type_", "fields", "path"),
    [
        ("sale", {"qty": 1, "event_id": "é1"}, "event_id"),
        ("sale", {"qty": 1, "event_id": "a\tb"}, "event_id"),
        ("sale", {"qty": 1, "event_id": "x" * 129}, "event_id"),
        ("reserve", {"reservation_id": "R\u00e9", "qty": 1}, "reservation_id"),
        ("sale", {"qty": 1, "reservation_id": "\x01"}, "reservation_id"),
        ("inbound_cancel", {"supply_id": ""}, "supply_id"),
    ],
)
def test_bad_tokens(type_, fields, path):
    out = rejected(line(type_, **fields))
    assert out.code == "bad_token"
    assert f"$.{path}" in out.message


@pytest.mark.parametrize(
    "ts",
    [
        "2026-11-18T11:06:40",
        "2026-11-18",
        "yesterday",
        "2026-13-01T00:00:00Z",
        -1,
        "1969-12-31T23:59:59Z",
    ],
)
def test_bad_timestamps(ts):
    out = rejected(line("sale", qty=1, ts=ts))
    assert out.code == "bad_timestamp"
    assert "$.ts" in out.message


def test_bad_eta():
    assert rejected(line("inbound", qty=1, supply_id="P", eta="soon")).code == "bad_timestamp"


def test_transfer_to_itself_is_impossible():
    raw = line("transfer_out", qty=1, to_location_id="S1", eta=T0, supply_id="T")
    assert rejected(raw).code == "bad_transfer"


def test_reason_is_code_and_message():
    out = rejected(b"[]")
    assert out.reason.startswith("not_an_object: ")


def test_json_nested_too_deeply_is_bad_json_not_a_crash():
    """msgspec recurses once per level: a message thousands of levels deep must be a dead
    letter, not a RecursionError that stops the dataflow at every restart."""
    deep = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
    inside = b'{"event_id":"e","type":"receipt","location_id":"S1","sku":"A","ts":0,"qty":1,'
    for raw in (deep, inside + b'"x":' + b"[" * 3_000 + b"]" * 3_000 + b"}"):
        rejected = ev.parse(raw)
        assert isinstance(rejected, Rejected)
        assert rejected.code == "bad_json"


def test_invalid_utf8_anywhere_is_bad_json_even_in_a_field_nobody_reads():
    good = b'{"event_id":"u1","type":"receipt","location_id":"S1","sku":"A","qty":1,"ts":0'
    assert not isinstance(ev.parse(good + b',"note":"caf\xc3\xa9"}'), Rejected)  # UTF-8: fine
    refused = ev.parse(good + b',"note":"caf\xe9"}')  # Latin-1: not UTF-8
    assert isinstance(refused, Rejected) and refused.code == "bad_json"
    assert "UTF-8" in refused.message


def test_an_instant_past_9999_once_in_utc_is_bad_timestamp_not_a_crash():
    late = "9999-12-31T23:00:00-05:00"  # year 10000 in UTC
    receipt = line("receipt", qty=1, ts=late)
    assert ev.parse(receipt) == Rejected(
        "bad_timestamp", "ts is before 1970 or after 9999 - at `$.ts`"
    )
    inbound = line("inbound", qty=1, supply_id="x", eta=late)
    parsed = ev.parse(inbound)
    assert isinstance(parsed, Rejected) and parsed.code == "bad_timestamp"


# A token is ASCII and printable: what a line's bytes hold between the quotes, unless the line
# has an escape (\u0041, \t), a DEL or a non-ASCII byte (engine.events._plain). The same text
# given as str is checked token by token: both must read alike.
TOKEN_TEXTS = ["a b", "~!#", "\\u0041", "\\u00e9", "\\t", "\\u007f", "\x7f", "\\\\", '\\"', "é"]


@pytest.mark.parametrize("text", TOKEN_TEXTS)
@pytest.mark.parametrize(
    ("type_", "fields", "field"),
    [
        ("sale", {"qty": 1}, "event_id"),
        ("sale", {"qty": 1, "reservation_id": "TOKEN"}, "reservation_id"),
        ("reserve", {"qty": 1, "reservation_id": "TOKEN"}, "reservation_id"),
        ("release", {"reservation_id": "TOKEN"}, "reservation_id"),
        ("fulfil", {"reservation_id": "TOKEN"}, "reservation_id"),
        ("receipt", {"qty": 1, "supply_id": "TOKEN"}, "supply_id"),
        ("inbound_cancel", {"supply_id": "TOKEN"}, "supply_id"),
        ("inbound", {"qty": 1, "eta": T0, "supply_id": "TOKEN"}, "supply_id"),
        (
            "transfer_out",
            {"qty": 1, "to_location_id": "S2", "eta": T0, "supply_id": "TOKEN"},
            "supply_id",
        ),
        (
            "revoke",
            {"reservation_id": "TOKEN", "claimed_by": "S2", "reserve_event_id": "e0"},
            "reservation_id",
        ),
    ],
)
def test_a_token_reads_alike_from_bytes_and_from_text(type_, fields, field, text):
    if field == "event_id":
        fields = {**fields, "event_id": "TOKEN"}
    raw = line(type_, **fields).replace(b"TOKEN", text.encode())
    token = orjson.loads(raw)[field]
    parsed = ev.parse(raw)
    assert parsed == ev.parse(raw.decode())
    if token.isascii() and token.isprintable():
        assert not isinstance(parsed, Rejected), parsed
    else:
        assert parsed == Rejected("bad_token", f"{field} must be printable ASCII - at `$.{field}`")


@pytest.mark.parametrize(
    "ms", [0, 1, 999, 1_000, 1_001, T0 - 1, T0, T0 + 999, T0 + 1_000, MAX_MS - 999, MAX_MS]
)
def test_an_integer_ts_is_that_millisecond_in_utc(ms):
    ts = event("sale", qty=1, ts=ms).ts
    assert ts == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    assert ts.tzinfo is UTC
    eta = event("inbound", qty=1, supply_id="P", eta=ms).eta
    assert eta == ts and eta.tzinfo is UTC


def test_integer_ts_out_of_range_are_bad_timestamps():
    for ms in (-1, -1_000, MAX_MS + 1):
        assert ev.parse(line("sale", qty=1, ts=ms)) == Rejected(
            "bad_timestamp", "ts is before 1970 or after 9999 - at `$.ts`"
        )
