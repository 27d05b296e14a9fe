"""The document agrees with the server where schemathesis seldom looks: the instants' patterns
against the engine's parser, a 405's ``Allow``, integral numbers, the promise's last day."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.instants import (
    INSTANT_TEXT,
    PROMISE_LAST_DAY,
    PROMISE_MAX_MS,
    PROMISE_TEXT,
    numeral_pattern,
)
from engine.events import parse
from engine.outputs import Rejected
from engine.timefmt import MAX_MS, parse_instant
from tests.api.conftest import stock

_INSTANT = re.compile(INSTANT_TEXT)
_PROMISE = re.compile(PROMISE_TEXT)
_LAST = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
_PROMISE_LAST = datetime.fromisoformat(f"{PROMISE_LAST_DAY}T23:59:59.999999+00:00")
_YEARS = [*range(1968, 1976), 1999, 2000, 2001, 2024, 2026, 2100, 2400, *range(9995, 10_000)]


def _accepted(text: str, last: datetime) -> bool:
    try:
        return parse_instant(text) <= last
    except Exception:
        return False


def test_the_instant_patterns_follow_the_calendar():
    for year in _YEARS:
        for month in range(1, 13):
            for day in range(1, 32):
                text = f"{year:04d}-{month:02d}-{day:02d}T12:00:00Z"
                try:
                    real = date(year, month, day) >= date(1970, 1, 1)
                except ValueError:
                    real = False
                assert bool(_INSTANT.fullmatch(text)) == real, text
                promised = real and date(year, month, day) <= date.fromisoformat(PROMISE_LAST_DAY)
                assert bool(_PROMISE.fullmatch(text)) == promised, text


def test_an_offset_never_takes_an_instant_the_patterns_allow_out_of_range():
    days = ["1970-01-01", "1970-01-02", "9999-07-31", PROMISE_LAST_DAY, "9999-12-30", "9999-12-31"]
    times = ["00:00:00", "00:30:00", "23:59:59", "23:59:59.999999", "23:59:59.9999999"]
    offsets = ["Z", "z", "+00:00", "-00:00", "+01:00", "-01:00", "+23:59", "-23:59"]
    for day in days:
        for time in times:
            for offset in offsets:
                for sep in "Tt ":
                    text = f"{day}{sep}{time}{offset}"
                    if _INSTANT.fullmatch(text):
                        assert _accepted(text, _LAST), text
                    if _PROMISE.fullmatch(text):
                        assert _accepted(text, _PROMISE_LAST), text
    assert _INSTANT.fullmatch("1970-01-01T00:00:00Z")
    assert not _INSTANT.fullmatch("1970-01-01T00:30:00+01:00")  # 1969 in UTC
    assert not _INSTANT.fullmatch("9999-12-31T23:00:00-05:00")  # past the end of dates


@settings(max_examples=300, derandomize=True, database=None, suppress_health_check=[*HealthCheck])
@given(st.from_regex(INSTANT_TEXT, fullmatch=True), st.from_regex(PROMISE_TEXT, fullmatch=True))
def test_the_engine_reads_every_instant_the_patterns_allow(text, promised):
    event = {"event_id": "e", "type": "receipt", "location_id": "S1", "sku": "A", "qty": 1}
    assert not isinstance(parse(orjson.dumps({**event, "ts": text})), Rejected), text
    assert parse_instant(text) <= _LAST
    assert parse_instant(promised) <= _PROMISE_LAST


def test_the_numeral_patterns_stop_at_their_bound():
    for most in (0, 9, 10, 99, 101, 1234509876, PROMISE_MAX_MS, MAX_MS):
        pattern = re.compile(numeral_pattern(most))
        for n in [*range(0, 1200), most - 1, most, most + 1, most * 10 + 9]:
            assert bool(pattern.fullmatch(str(n))) == (0 <= n <= most), (most, n)
        assert not any(pattern.fullmatch(text) for text in ("", "-1", "01", "+1", "1.0"))


def test_a_405_lists_every_method_of_the_path(client):
    for method, path, allowed in (
        ("OPTIONS", "/v1/reservations/r1", "DELETE, GET"),
        ("PUT", "/v1/reservations", "POST"),
        ("PATCH", "/v1/reservations/r1/fulfil", "POST"),
        ("POST", "/v1/atp/S1/A", "GET"),
    ):
        answer = client.request(method, path)
        assert answer.status_code == 405, (method, path)
        assert answer.headers["allow"] == allowed, (method, path)
        assert answer.json()["error"]["code"] == "method_not_allowed"


def test_a_number_without_a_fraction_is_an_integer_as_json_schema_says(client):
    stock(client, 5)
    body = {"reservation_id": "whole", "location_id": "S1", "sku": "A", "qty": 3.0, "ttl_s": 600.0}
    made = client.post("/v1/reservations", json={**body, "ts": 1_700_000_000_000.0})
    assert made.status_code == 201, made.text
    assert made.json()["qty"] == 3
    fulfilled = client.post("/v1/reservations/whole/fulfil", json={"qty": 1.0, "ts": 1.7e12})
    assert fulfilled.status_code == 200, fulfilled.text
    assert fulfilled.json()["qty"] == 2
    for wrong in ({"qty": 1.5}, {"qty": "1"}, {"qty": True}, {"ts": 1.5}):
        refused = client.post("/v1/reservations/whole/fulfil", json=wrong)
        assert refused.status_code == 422, wrong
        assert refused.json()["error"]["code"] == "invalid_request"


def test_every_error_status_documented_is_the_envelope(client):
    document = client.get("/openapi.json").json()
    error = {"$ref": "#/components/schemas/Error"}
    statuses = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == error, (
                        method,
                        path,
                        status,
                    )
                    statuses += 1
                elif path.endswith("/stream"):  # Server-Sent Events: text, not JSON
                    assert list(response["content"]) == ["text/event-stream"]
                elif path != "/metrics":
                    assert response["content"]["application/json"]["schema"], (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= set(operation["responses"]), (method, path)
    assert statuses > 50
    assert set(document["components"]["schemas"]["Error"]["required"]) == {"error"}
