"""A short schemathesis run against the OpenAPI document: no input it makes gets a 5xx.

Schemathesis reads ``/openapi.json`` and sends generated requests, valid and invalid, to every
operation of an embedded app with a small built-in network and some stock (open keys, so the
requests reach the routes).
"""

from __future__ import annotations

import orjson
import schemathesis
from hypothesis import HealthCheck, settings

from api.app import create_app
from api.backends.embedded import EmbeddedBackend
from api.promiser import CalculatorPromiser
from api.readmodel import ReadModel
from engine.book import EngineConfig
from engine.promise.network import load_network
from workload.builtin import generate_network, stock_events


def _app():
    promiser = CalculatorPromiser(load_network(orjson.dumps(generate_network(6, seed=2))))
    backend = EmbeddedBackend(ReadModel(tuple(promiser.location_ids)), EngineConfig())
    backend.start()
    app = create_app(backend, promiser=promiser, timeout_s=0.5)
    events = stock_events(list(promiser.location_ids), 5, "2026-11-18T12:00:00Z")
    assert backend.load([orjson.dumps(event) for event in events]) == []
    return app


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


# Derandomized: the same requests every run, so CI stays steady. Two 5xx found by random runs
# have regression tests of their own (test_reservations, test_promiser); to explore
# afresh, set derandomize=False and max_examples higher for a run.
@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_input_gets_a_server_error(case):
    response = case.call()
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    )
