"""The error shape for everything, auth, body bounds, health, metrics, OpenAPI."""

from __future__ import annotations

import re

import orjson
import pytest

from api.auth import Keys
from engine.errors import ConfigError
from tests.api.conftest import BOTH_KEY, KEYS_JSON, READ_KEY, WRITE_KEY, receipt, reserve, stock


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_unknown_routes_and_methods_answer_the_error_shape(client):
    missing = client.get("/v2/nothing")
    method = client.put("/v1/atp/query")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert method.status_code == 405
    assert method.json()["error"]["code"] == "method_not_allowed"


def test_bad_json_on_a_model_route_is_400(client):
    answer = client.post(
        "/v1/reservations", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_json"


@pytest.mark.parametrize("path", ["/v1/reservations", "/v1/atp/query"])
def test_a_body_nested_too_deeply_is_400_bad_json_not_a_500(client, path):
    deep = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
    answer = client.post(path, content=deep, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text[:200]
    assert answer.json()["error"]["code"] == "bad_json"


def test_events_nested_too_deeply_are_400_bad_json_not_a_500(client):
    deep = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
    body = b"[" + deep + b"," + orjson.dumps(receipt(2)) + b"]"
    answer = client.post("/v1/events", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text[:200]
    assert answer.json()["error"]["code"] == "bad_json"


def test_a_body_over_the_limit_is_413(make_client):
    client = make_client(max_body=1000)
    big = [receipt(1) for _ in range(50)]
    answer = client.post("/v1/events", json=big)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "body_too_large"


def test_a_streamed_body_over_the_limit_is_413(make_client):
    client = make_client(max_body=1000)

    def chunks():
        for _ in range(20):
            yield b" " * 100

    answer = client.post(
        "/v1/events", content=chunks(), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413


def test_with_keys_writes_need_a_write_key(make_client):
    client = make_client(keys=Keys.parse(KEYS_JSON, "test"))
    events = [receipt(3)]
    assert client.post("/v1/events", json=events).status_code == 401
    assert client.post("/v1/events", json=events, headers=bearer("wrong")).status_code == 401
    read_only = client.post("/v1/events", json=events, headers=bearer(READ_KEY))
    assert read_only.status_code == 403
    assert read_only.json()["error"]["code"] == "forbidden"
    assert client.post("/v1/events", json=events, headers=bearer(WRITE_KEY)).status_code == 202
    body = {"reservation_id": "r", "location_id": "S1", "sku": "A", "qty": 1}
    assert client.post("/v1/reservations", json=body).status_code == 401
    assert client.post("/v1/reservations", json=body, headers=bearer(READ_KEY)).status_code == 403
    assert client.post("/v1/reservations", json=body, headers=bearer(BOTH_KEY)).status_code == 201
    assert client.delete("/v1/reservations/r", headers=bearer(READ_KEY)).status_code == 403


def test_with_keys_reads_need_a_read_key_unless_open(make_client):
    closed = make_client(keys=Keys.parse(KEYS_JSON, "test"))
    assert closed.get("/v1/atp/S1/A").status_code == 401
    assert closed.get("/v1/atp/S1/A", headers=bearer(WRITE_KEY)).status_code == 403
    assert closed.get("/v1/atp/S1/A", headers=bearer(READ_KEY)).status_code == 404
    assert closed.get("/v1/health").status_code == 200
    opened = make_client(keys=Keys.parse(KEYS_JSON.replace("false", "true"), "test"))
    assert opened.get("/v1/atp/S1/A").status_code == 404
    assert opened.post("/v1/events", json=[]).status_code == 401


def test_no_keys_means_everything_is_open(client):
    stock(client, 1)
    assert reserve(client, "r").status_code == 201


def test_a_bad_keys_file_is_a_config_error(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text('{"keys": [{"key": "k", "scopes": ["admin"]}]}')
    with pytest.raises(ConfigError, match="scopes"):
        Keys.load(path, None)
    with pytest.raises(ConfigError, match="cannot read"):
        Keys.load(tmp_path / "missing.json", None)
    assert Keys.load(None, KEYS_JSON).enabled
    assert not Keys.load(None, None).enabled


def test_health_says_embedded_and_caught_up(client):
    body = client.get("/v1/health").json()
    assert body["status"] == "ok"
    assert body["mode"] == "embedded"
    assert body["caught_up"] is True
    assert body["lag"] == 0


def test_metrics_have_latency_per_route_outcomes_and_lag(client):
    stock(client, 1)
    reserve(client, "r1")
    reserve(client, "r2")
    client.get("/v1/atp/S1/A")
    text = client.get("/metrics").text
    assert 'route="/v1/atp/{location_id}/{sku}"' in text
    assert "omnistock_api_request_seconds_bucket" in text
    assert 'omnistock_api_reservation_outcomes_total{status="confirmed"} 1.0' in text
    assert 'omnistock_api_reservation_outcomes_total{status="rejected"} 1.0' in text
    assert "omnistock_api_readmodel_lag_messages 0.0" in text


def test_the_openapi_document_lists_every_route_with_examples(client):
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    for path in [
        "/v1/health",
        "/v1/atp/{location_id}/{sku}",
        "/v1/atp/query",
        "/v1/reservations",
        "/v1/reservations/{reservation_id}",
        "/v1/reservations/{reservation_id}/fulfil",
        "/v1/events",
        "/v1/promise",
        "/v1/promise/listing",
        "/v1/availability/{sku}",
        "/metrics",
    ]:
        assert path in paths, path
    assert "example" in str(paths["/v1/reservations"]["post"])


def test_the_fast_atp_read_keeps_auth_and_falls_back_for_the_rest(make_client):
    client = make_client(keys=Keys.parse(KEYS_JSON, "test"))
    events = [receipt(3)]
    client.post("/v1/events", json=events, headers=bearer(WRITE_KEY))
    assert client.get("/v1/atp/S1/A").status_code == 401
    assert client.get("/v1/atp/S1/A", headers=bearer(WRITE_KEY)).status_code == 403
    hit = client.get("/v1/atp/S1/A", headers=bearer(READ_KEY))
    assert hit.status_code == 200
    assert hit.headers["content-type"] == "application/json"
    assert hit.json()["atp"] == 3
    escaped = client.get("/v1/atp/S1/%41", headers=bearer(READ_KEY))
    assert escaped.json()["atp"] == 3
    assert client.get("/v1/atp/S1/A/x", headers=bearer(READ_KEY)).status_code == 404


def test_the_docs_page_loads_every_asset_from_this_server(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    scripts = re.findall(r"url: '([^']+)'", page.text)
    assert assets and all(url.startswith("/") for url in assets + scripts), assets + scripts
    for url in assets:
        assert client.get(url).status_code == 200, url
