"""A policy on Kafka (docs/policy.md): ``omnistock run --policy`` publishes what
``omnistock replay --policy`` prints, channels included, and a race of buyers at a location
group through two Kafka-mode replicas holds exactly the group's channel ATP."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import orjson
import pytest

from dataflows.kafka import Topics, ensure_topics
from engine.book import EngineConfig
from engine.events import parse
from engine.outputs import Rejected
from engine.policy import load
from engine.replay import Replay
from engine.timefmt import to_ms
from tests.integration.test_api_kafka import start_serve, wait_ready
from tests.integration.test_run import (
    Topic,
    free_port,
    make_log,
    produce,
    start_run,
    stop,
    wait_for,
)
from workload.builtin import five_channels

pytestmark = pytest.mark.kafka


def policy_for(locations: list[str]) -> dict[str, Any]:
    dcs = [loc for loc in locations if loc.startswith("DC")]
    stores = [loc for loc in locations if loc not in dcs]
    return {
        "channels": five_channels("east", "dcs"),
        "default_channel": "web",
        "groups": [
            {"id": "dcs", "locations": dcs},
            {"id": "east", "locations": [*stores[: len(stores) // 2], "group:dcs"]},
        ],
        "safety_stock": {"default": 1, "skus": {"SKU000001": 3}},
        "alerts": {"stockout_days": 3},
    }


def readable(lines: list[bytes]) -> list[Any]:
    """The log's valid events, parsed."""
    return [event for event in map(parse, lines) if not isinstance(event, Rejected)]


def channel_events(lines: list[bytes], locations: list[str]) -> list[bytes]:
    """Events only a policy gives meaning to, after the log: reserves on every channel, a
    channel's safety stock, thresholds, restock and write-off."""
    last = to_ms(max(event.ts for event in readable(lines)))
    extra: list[dict[str, Any]] = []
    channels = ["web", "app", "pos", "call_centre", "marketplace", "kiosk"]
    for n, location in enumerate(locations):
        ts = last + 1000 * (n + 1)
        base = {"location_id": location, "sku": "SKU000001", "ts": ts}
        extra += [
            {**base, "event_id": f"p-r-{n}", "type": "receipt", "qty": 40},
            {
                **base,
                "event_id": f"p-ss-{n}",
                "type": "set_safety_stock",
                "qty": 2,
                "channel": "app",
            },
            {**base, "event_id": f"p-th-{n}", "type": "set_alert_thresholds", "low_stock": 10},
            {**base, "event_id": f"p-ret-{n}", "type": "return", "qty": 3, "sellable": False},
            {**base, "event_id": f"p-rs-{n}", "type": "restock", "qty": 2},
            {**base, "event_id": f"p-wo-{n}", "type": "write_off", "qty": 2},  # 1 left: refused
        ]
        for c, channel in enumerate(channels):
            extra.append(
                {
                    **base,
                    "event_id": f"p-res-{n}-{c}",
                    "type": "reserve",
                    "qty": 5 + c,
                    "reservation_id": f"pol-{n}-{c}",
                    "channel": channel,
                    "allow_partial": c % 2 == 1,
                }
            )
    return [orjson.dumps(event) for event in extra]


def test_run_with_a_policy_publishes_what_replay_prints(bootstrap, prefix, tmp_path: Path):
    topics = Topics(prefix)
    ensure_topics(bootstrap, topics, partitions=1)
    lines = make_log(6000, seed=17)
    locations = sorted({event.location_id for event in readable(lines)})[:12]
    lines += channel_events(lines, locations)
    policy_file = tmp_path / "policy.json"
    policy_file.write_bytes(orjson.dumps(policy_for(locations)))
    replay = Replay(EngineConfig().with_policy(load(policy_file.read_bytes())), ledger=True)
    replay.feed(lines)
    replay.finish(datetime.now(UTC))
    want = {
        f"{p.location_id}:{p.sku}": orjson.loads(msgspec.json.encode(p)) for p in replay.records()
    }
    assert all(len(p["channels"]) == 5 for p in want.values())
    produce(bootstrap, topics.events, lines)
    process = start_run(bootstrap, prefix, tmp_path / "run.log", "--policy", str(policy_file))
    try:
        assert wait_for(bootstrap, topics, want) == want
        reservations = Topic(bootstrap, topics.reservations)
        reservations.poll(5.0)
        listed = {"confirmed": "active"}
        final = {
            k: (listed.get(v["status"], v["status"]), v["qty"])
            for k, v in reservations.last.items()
        }
        assert final == {
            r["reservation_id"]: (r["status"], r["qty"]) for r in replay.reservations()
        }
        reservations.close()
    finally:
        stop(process)


# (location, units received): web holds one unit back at each, 35 units of web ATP either way;
# the second spreads them over more locations than a reservation tries
LAYOUTS = {
    "three": (("S1", 21), ("S2", 11), ("S3", 6)),
    "seven": tuple((f"S{n}", 6) for n in range(1, 8)),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_buyers_at_one_group_through_two_replicas_hold_exactly_its_atp(
    bootstrap, prefix, tmp_path, layout
):
    policy_file = tmp_path / "policy.json"
    policy_file.write_bytes(
        orjson.dumps(
            {
                "channels": [{"name": "web"}, {"name": "pos", "safety_stock": False}],
                "groups": [{"id": "metro", "locations": [loc for loc, _ in LAYOUTS[layout]]}],
                "safety_stock": {"default": 1},
            }
        )
    )
    ports = [free_port(), free_port()]
    env = {"OMNISTOCK_POLICY": str(policy_file)}
    processes = [start_run(bootstrap, prefix, tmp_path / "run.log", "--policy", str(policy_file))]
    try:
        time.sleep(2)  # the dataflow creates the topics
        processes += [
            start_serve(bootstrap, prefix, port, tmp_path / f"serve-{port}.log", **env)
            for port in ports
        ]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            wait_ready(url)
        now = int(time.time() * 1000)
        stock = [
            {
                "event_id": f"stock-{loc}",
                "type": "receipt",
                "location_id": loc,
                "sku": "A",
                "qty": qty,
                "ts": now,
            }
            for loc, qty in (*LAYOUTS[layout], ("S9", 50))
        ]
        assert httpx.post(f"{urls[0]}/v1/events", json=stock, timeout=10).status_code == 202
        deadline = time.monotonic() + 60
        for url in urls:  # web holds one unit back everywhere
            while httpx.get(f"{url}/v1/atp/group/metro/A", timeout=5).json().get("atp") != 35:
                assert time.monotonic() < deadline
                time.sleep(0.1)

        def one(i: int) -> tuple[int, str | None]:
            body = {"reservation_id": f"g-{i}", "location_group": "metro", "sku": "A", "qty": 1}
            answer = httpx.post(f"{urls[i % 2]}/v1/reservations", json=body, timeout=60)
            return answer.status_code, answer.json().get("location_id")

        with ThreadPoolExecutor(max_workers=40) as pool:
            answers = list(pool.map(one, range(100)))
        assert Counter(code for code, _ in answers) == {201: 35, 409: 65}, answers
        assert {loc for code, loc in answers if code == 201} <= {loc for loc, _ in LAYOUTS[layout]}
        for url in urls:
            deadline = time.monotonic() + 30
            while (
                held := [
                    httpx.get(f"{url}/v1/atp/{loc}/A", timeout=5).json()["reserved"]
                    for loc, _ in (*LAYOUTS[layout], ("S9", 50))
                ]
            ) != [qty - 1 for _, qty in LAYOUTS[layout]] + [0]:
                assert time.monotonic() < deadline, held
                time.sleep(0.1)
    finally:
        for process in processes:
            stop(process)
