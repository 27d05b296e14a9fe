"""The promise table in the dataflow (docs/network.md §9): what it publishes is the query.

A log of the project's workload with carts and kits on the built-in network (its store and DC
ids), through the flow with a ``Maker``. Every sku with a position anywhere (kits included)
has an entry; each sku's last entry is the per-request answer for the web ATP replay leaves,
at the entry's ``as_of``; no sku is published twice in a row with the same regions.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from bytewax.testing import TestingSink, TestingSource, cluster_main, run_main

from dataflows.flow import Incoming, Published, build_flow
from engine.book import EngineConfig
from engine.policy import load
from engine.promise.calculator import Calculator
from engine.promise.network import load_network
from engine.promise.table import Maker
from engine.replay import Replay
from tests.property.test_promise_table import reference
from workload import DEFAULT_MIX, WorkloadParams, generate, policy_kits
from workload.builtin import generate_network
from workload.network import network_catalogue

STORES = 8


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    raw = generate_network(stores=STORES, regions=12)
    raw["locations"][-1]["ship"] = True
    network = load_network(raw)
    params = WorkloadParams(
        events=3000,
        stores=STORES,
        dcs=4,
        skus=30,
        seed=3,
        start_ms=int(time.time() * 1000) - 60_000,
        events_per_s=200.0,
        dup_rate=0.02,
        bad_rate=0.01,
        mix=(*DEFAULT_MIX, ("cart", 0.1)),
        kits=3,
    )
    catalogue = network_catalogue(STORES, 30)
    # the workload's kits (its reserves name them) and two of the network catalogue's skus
    kits = [
        *policy_kits(params, catalogue),
        {
            "sku": "KIT-A",
            "components": [{"sku": "SKU000003", "qty": 1}, {"sku": "SKU000009", "qty": 1}],
        },
        {
            "sku": "KIT-B",
            "components": [{"sku": "SKU000002", "qty": 2}, {"sku": "SKU000021", "qty": 1}],
        },
    ]
    policy = load(orjson.dumps({"kits": kits}))
    lines = list(generate(params, catalogue))
    lines.append(
        orjson.dumps(  # stock at a location the network does not name: an entry, no candidate
            {
                "event_id": "elsewhere",
                "type": "receipt",
                "location_id": "NOWHERE",
                "sku": "ONLY-ELSEWHERE",
                "qty": 3,
                "ts": datetime.now(UTC).isoformat(),
            }
        )
    )
    config = EngineConfig(max_future_s=86_400).with_policy(policy)
    return {"network": network, "lines": lines, "config": config, "kits": policy.kits}


def run_table(world: dict[str, Any], workers: int) -> list[tuple[str, dict[str, Any]]]:
    published: list[Published] = []
    items = [Incoming(line, f"log:{i}") for i, line in enumerate(world["lines"], 1)]
    flow = build_flow(
        TestingSource(items, batch_size=50),
        TestingSink(published),
        world["config"],
        maker=Maker(world["network"]),
    )
    if workers == 1:
        run_main(flow)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers)
    return [
        (str(key), orjson.loads(value))
        for _, messages in published
        for topic, key, value in messages
        if topic == "promises"
    ]


def web_locations(world: dict[str, Any]) -> dict[str, list[str]]:
    """Per sku (kits included), the locations where replay leaves web ATP >= 1."""
    replay = Replay(world["config"])
    replay.feed(world["lines"])
    replay.finish(datetime.now(UTC))
    atp: dict[str, dict[str, int]] = {}
    for record in replay.records():
        atp.setdefault(record.sku, {})[record.location_id] = record.channels.get("web", 0)
    where = {sku: [lid for lid, n in by.items() if n >= 1] for sku, by in atp.items()}
    for kit, parts in world["kits"].items():
        locations = {lid for sku, _ in parts for lid in atp.get(sku, {})}
        if locations:
            where[kit] = [
                lid
                for lid in locations
                if all(atp.get(sku, {}).get(lid, 0) >= qty for sku, qty in parts)
            ]
    return where


@pytest.mark.parametrize("workers", [1, 2])
def test_each_skus_last_entry_is_the_answer_for_what_replay_leaves(world, workers):
    entries = run_table(world, workers)
    last: dict[str, dict[str, Any]] = {}
    history: dict[str, list[Any]] = {}
    for sku, entry in entries:
        before = history.setdefault(sku, [])
        assert not before or before[-1] != entry["regions"], sku  # only what changed
        before.append(entry["regions"])
        last[sku] = entry
    where = web_locations(world)
    assert set(last) == set(where)  # every sku with a position anywhere, kits included
    assert set(world["kits"]) <= set(last)
    assert where["KIT-A"] and where["KIT-B"]  # kits the network's stock can make
    assert last["ONLY-ELSEWHERE"]["regions"] == {r.id: {} for r in world["network"].regions}
    network = world["network"]
    calculator = Calculator(network)
    for sku, entry in last.items():
        at = datetime.fromisoformat(entry["as_of"])
        known = sorted(lid for lid in where[sku] if lid in network.index)
        assert entry["regions"] == reference(network, calculator, known, at), sku
