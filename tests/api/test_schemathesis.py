"""Schemathesis against the OpenAPI document, with every check: the document is the API.

Schemathesis reads ``/openapi.json`` and sends generated requests, valid and invalid, to every
operation of an embedded app with a small built-in network and some stock (open keys, so the
requests reach the routes). Each answer must be documented (its status, its body's schema,
its content type and headers), a request the document allows must be accepted, one it forbids
refused, and nothing may answer 5xx: the checks of ``schemathesis run --checks all``, with the
project's settings (``schemathesis.toml``, which ``schemathesis run`` reads too).

Derandomized: the same requests every run, so CI stays steady. Two 5xx found by random runs
have regression tests of their own (test_reservations, test_promiser); to explore afresh, run
``schemathesis run http://127.0.0.1:8000/openapi.json --checks all`` against ``omnistock demo``
from the repository's root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckContext
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case

from api.app import create_app
from api.backends.embedded import EmbeddedBackend
from api.promiser import CalculatorPromiser
from api.readmodel import ReadModel
from engine.book import EngineConfig
from engine.promise.network import load_network
from workload.builtin import generate_network, stock_events

ROOT = Path(__file__).resolve().parents[2]
# The 422s a request the document allows may get (schemathesis.toml says why): what a schema
# cannot state. Any other 422 to such a request is the document's mistake.
SEMANTIC_422 = {"unknown_postal_code", "unknown_region", "ts_in_future", "duplicate_line"}


_PROMISER = CalculatorPromiser(load_network(orjson.dumps(generate_network(6, seed=2))))
_STOCK = [
    orjson.dumps(event)
    for event in [
        *stock_events(list(_PROMISER.location_ids), 5, "2026-11-18T12:00:00Z"),
        # the position the document's examples name, so that their reservations hold stock
        {
            "event_id": "ex",
            "type": "receipt",
            "location_id": "S001",
            "sku": "SKU-1",
            "qty": 10**5,
            "ts": 0,
        },
    ]
]


def _server(timeout_s: float) -> tuple[FastAPI, EmbeddedBackend]:
    """A fresh embedded app over the network, its stock loaded (a few milliseconds)."""
    backend = EmbeddedBackend(ReadModel(tuple(_PROMISER.location_ids)), EngineConfig())
    backend.start()
    app = create_app(backend, promiser=_PROMISER, timeout_s=timeout_s)
    assert backend.load(_STOCK) == []
    return app, backend


def _config() -> SchemathesisConfig:
    """The project's settings, every check on (``--checks all``); none times a response."""
    config = SchemathesisConfig.from_path(str(ROOT / "schemathesis.toml"))
    config.projects.default.checks.update(included_check_names=["all"])
    return config


schema = schemathesis.openapi.from_asgi("/openapi.json", _server(0.5)[0], config=_config())


class SemanticRefusalError(Failure):
    """A request the document allows answered 422 with a code the document does not excuse."""

    code = "ST999"
    kind_title = "Schema-valid request refused with an unexpected code"


@schemathesis.check
def only_semantic_422s(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Where ``schemathesis.toml`` lets a valid request get 422, only for the reasons it names."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    code = orjson.loads(response.content)["error"]["code"]
    if code not in SEMANTIC_422:
        raise SemanticRefusalError(
            operation=case.operation.label,
            message=f"422 {code}: {response.content[:300]!r}",
        )
    return None


_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": list(HealthCheck),
}


@schema.parametrize()
@settings(max_examples=25, **_SETTINGS)
def test_every_answer_is_documented(case):
    case.call_and_validate()  # the checks of the configuration: all (_config)


class Workflows(schema.as_state_machine()):  # type: ignore[misc]
    """Chains of calls along the document's links (a reservation made, then read, released or
    fulfilled by the id its answer gives), every answer checked as above.

    Each chain has a server of its own: what a chain calls next depends on the answers before
    it, so on what the server holds, and Hypothesis needs the same calls to draw the same
    chain. The timeout is long enough that a reservation is decided, not pending, under load.
    """

    def setup(self) -> None:
        self.app, self.backend = _server(5.0)

    def teardown(self) -> None:
        self.backend.stop()

    def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
        return {"app": self.app}


TestWorkflows = Workflows.TestCase
TestWorkflows.settings = settings(max_examples=20, stateful_step_count=6, **_SETTINGS)


_STORE = next(loc for loc in _PROMISER.network.locations if loc.pickup)
_AT = "2026-11-18T15:00:00Z"
_RESERVE = {"reservation_id": "life", "location_id": "S0001", "sku": "SKU000001", "qty": 3}
# A reservation's whole life, and answers with content (options, pickup stores, dead letters),
# which generated requests rarely reach: (method, path, its parameters and body, the status).
_LIFE: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", "/v1/health", {}, 200),
    ("GET", "/metrics", {}, 200),
    (
        "GET",
        "/v1/atp/{location_id}/{sku}",
        {"path_parameters": {"location_id": "S0001", "sku": "SKU000001"}},
        200,
    ),
    (
        "GET",
        "/v1/atp/{location_id}/{sku}",
        {"path_parameters": {"location_id": "S0001", "sku": "SKU000001"}, "query": {"at": _AT}},
        200,
    ),
    (
        "POST",
        "/v1/atp/query",
        {"body": {"skus": ["SKU000001", "NONE"], "location_ids": ["S0001", "S0002"]}},
        200,
    ),
    ("POST", "/v1/reservations", {"body": _RESERVE}, 201),
    ("POST", "/v1/reservations", {"body": _RESERVE}, 200),  # a repeat
    ("POST", "/v1/reservations", {"body": {**_RESERVE, "location_id": "S0003"}}, 200),
    (
        "GET",
        "/v1/reservations/{reservation_id}",
        {"path_parameters": {"reservation_id": "life"}},
        200,
    ),
    (
        "POST",
        "/v1/reservations/{reservation_id}/fulfil",
        {"path_parameters": {"reservation_id": "life"}, "body": {"qty": 1, "event_id": "f1"}},
        200,
    ),
    (  # the same event again: the reservation as it stands, repeat: true
        "POST",
        "/v1/reservations/{reservation_id}/fulfil",
        {"path_parameters": {"reservation_id": "life"}, "body": {"qty": 1, "event_id": "f1"}},
        200,
    ),
    (
        "DELETE",
        "/v1/reservations/{reservation_id}",
        {"path_parameters": {"reservation_id": "life"}},
        200,
    ),
    (
        "DELETE",
        "/v1/reservations/{reservation_id}",
        {"path_parameters": {"reservation_id": "life"}},
        409,
    ),
    (
        "GET",
        "/v1/reservations/{reservation_id}",
        {"path_parameters": {"reservation_id": "none"}},
        404,
    ),
    (
        "POST",
        "/v1/reservations",
        {"body": {**_RESERVE, "reservation_id": "big", "qty": 10**6}},
        409,
    ),
    (
        "POST",
        "/v1/events",
        {
            "body": [
                {
                    "event_id": "e1",
                    "type": "sale",
                    "location_id": "S0001",
                    "sku": "SKU000001",
                    "qty": 1,
                    "ts": _AT,
                },
                {
                    "event_id": "e2",
                    "type": "sale",
                    "location_id": "S0001",
                    "sku": "SKU000001",
                    "qty": "1",
                    "ts": _AT,
                },
                {
                    "event_id": "e3",
                    "type": "release",
                    "location_id": "S0001",
                    "sku": "SKU000001",
                    "ts": _AT,
                    "reservation_id": "ghost",
                },
                [None],
            ]
        },
        202,
    ),
    (
        "POST",
        "/v1/promise",
        {
            "body": {
                "items": [{"sku": "SKU000001", "qty": 1}],
                "destination": {"postal_code": "10001"},
                "at": _AT,
            }
        },
        200,
    ),
    (
        "POST",
        "/v1/promise",
        {
            "body": {
                "items": [{"sku": "SKU000001"}],
                "destination": {"lat": _STORE.lat, "lon": _STORE.lon},
                "at": _AT,
            }
        },
        200,
    ),
    (
        "POST",
        "/v1/promise/listing",
        {
            "body": {
                "skus": ["SKU000001", "NONE"],
                "destination": {"postal_code": "10001"},
                "at": _AT,
            }
        },
        200,
    ),
    (
        "GET",
        "/v1/availability/{sku}",
        {
            "path_parameters": {"sku": "SKU000001"},
            "query": {"near": f"{_STORE.lat},{_STORE.lon}", "at": _AT},
        },
        200,
    ),
    ("GET", "/v1/alerts", {"query": {"location_id": "S0001", "limit": 5}}, 200),
]


def test_a_reservation_s_life_and_full_answers_are_documented():
    app, backend = _server(5.0)
    try:
        answers: dict[tuple[str, str], Any] = {}
        for method, path, data, status in _LIFE:
            response = schema[path][method].Case(**data).call_and_validate(app=app)
            assert response.status_code == status, (method, path, data, response.text)
            if path != "/metrics":
                answers[method, path] = response.json()
    finally:
        backend.stop()
    events = answers["POST", "/v1/events"]
    assert (len(events["invalid"]), len(events["dead_letters"])) == (2, 1)
    assert answers["POST", "/v1/promise"]["items"][0]["pickup"]
    assert answers["POST", "/v1/promise"]["items"][0]["options"]
    assert answers["GET", "/v1/availability/{sku}"]["stores"]
    assert answers["POST", "/v1/promise/listing"]["skus"][0]["deliver_by"]
    assert answers["GET", "/v1/alerts"]["alerts"]  # the stock's, the sales' and the holds'
    app, backend = _server(0.0)  # no outcome is ever in time: pending
    try:
        pending = [
            schema[path][method].Case(**data).call_and_validate(app=app)
            for method, path, data in (
                ("POST", "/v1/reservations", {"body": _RESERVE}),
                (
                    "GET",
                    "/v1/reservations/{reservation_id}",
                    {"path_parameters": {"reservation_id": "life"}},
                ),
            )
        ]
        assert [a.json()["status"] for a in pending] in (["pending"] * 2, ["pending", "confirmed"])
    finally:
        backend.stop()
