"""The policy file (docs/policy.md): what it means, and every way it can be refused."""

from __future__ import annotations

import orjson
import pytest

from engine.errors import ConfigError
from engine.policy import DEFAULT_POLICY, ChannelAt, load
from engine.position import Position
from omnistock.cli import main
from workload.builtin import generate_network, generate_policy

EXAMPLE = {
    "channels": [
        {"name": "web"},
        {"name": "app"},
        {"name": "call_centre"},
        {"name": "pos", "safety_stock": False},
        {"name": "marketplace", "buffer_pct": 20, "protect_units": 1, "locations": ["group:dcs"]},
    ],
    "groups": [
        {"id": "dcs", "locations": ["DC01", "DC02"]},
        {"id": "northeast", "locations": ["S001", "S002", "group:dcs"]},
    ],
    "safety_stock": {"default": 0, "skus": {"SKU000001": 2}},
    "kits": [
        {"sku": "KIT-TENT", "components": [{"sku": "TENT", "qty": 1}, {"sku": "POLE", "qty": 4}]}
    ],
    "alerts": {"low_stock": 2, "reorder_point": 5, "stockout_days": 2},
}


def test_the_contract_example_loads():
    policy = load(orjson.dumps(EXAMPLE))
    assert [c.name for c in policy.channels] == ["web", "app", "call_centre", "pos", "marketplace"]
    assert policy.groups == {"dcs": ("DC01", "DC02"), "northeast": ("S001", "S002", "DC01", "DC02")}
    assert policy.channels[4].locations == frozenset({"DC01", "DC02"})
    assert policy.default_channel is None  # the file names channels and no default
    assert policy.safety_stock_of("SKU000001") == 2 and policy.safety_stock_of("X") == 0
    assert policy.kits == {"KIT-TENT": (("TENT", 1), ("POLE", 4))}
    assert (policy.low_stock, policy.reorder_point, policy.stockout_days) == (2, 5, 2)


def test_the_default_policy_is_v1():
    assert [c.name for c in DEFAULT_POLICY.channels] == ["web", "app", "call_centre", "pos"]
    assert [c.safety_stock for c in DEFAULT_POLICY.channels] == [True, True, True, False]
    assert DEFAULT_POLICY.default_channel == "web"
    assert load(b"{}") == DEFAULT_POLICY  # an empty file is the default policy
    assert DEFAULT_POLICY.channel("kiosk").name == "web"  # type: ignore[union-attr]


def atp_c(on_hand: int, reserved: int, safety: int, channel: ChannelAt) -> int:
    position = Position("S1", "A", 0, safety)
    position.on_hand, position.reserved = on_hand, reserved
    return position.atp_for(channel)


@pytest.mark.parametrize(
    ("on_hand", "reserved", "safety", "buffer", "protect", "want"),
    [
        (10, 0, 0, 0, 0, 10),
        (10, 2, 3, 0, 0, 5),
        (10, 0, 0, 20, 1, 7),  # (10 - 1) * 80 // 100
        (1, 0, 0, 0, 1, 0),
        (5, 9, 0, 0, 0, 0),  # oversold: never below 0
        (10, 0, 0, 100, 0, 0),
    ],
)
def test_channel_atp(on_hand, reserved, safety, buffer, protect, want):
    channel = ChannelAt("c", True, buffer, protect, True)
    assert atp_c(on_hand, reserved, safety, channel) == want
    assert atp_c(on_hand, reserved, safety, channel._replace(sells_here=False)) == 0
    plain = channel._replace(holds_safety_stock=False)
    assert atp_c(on_hand, reserved, safety, plain) == atp_c(on_hand, reserved, 0, channel)


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"channels": [{"name": "web"}, {"name": "web"}]}, "channels[1] (web): a second channel"),
        ({"channels": [{"name": "m", "buffer_pct": 120}]}, "channels[0].buffer_pct"),
        ({"channels": [{"name": "m", "protect_units": -1}]}, "channels[0].protect_units"),
        ({"channels": [{"name": "m", "locations": ["group:nope"]}]}, "unknown group 'nope'"),
        ({"channels": [{"name": "bad name"}]}, "channels[0].name"),
        ({"channels": []}, "at least one channel"),
        ({"channels": [{"name": "web"}], "default_channel": "app"}, "default_channel 'app'"),
        (
            {
                "groups": [
                    {"id": "a", "locations": ["group:b"]},
                    {"id": "b", "locations": ["group:a"]},
                ]
            },
            "cycle: a -> b -> a",
        ),
        ({"groups": [{"id": "a", "locations": ["group:a"]}]}, "cycle: a -> a"),
        (
            {"groups": [{"id": "a", "locations": ["X"]}, {"id": "a", "locations": ["Y"]}]},
            "groups[1] (a): a second group",
        ),
        ({"groups": [{"id": "a", "locations": ["group:zz"]}]}, "unknown group 'zz'"),
        ({"safety_stock": {"default": -1}}, "safety_stock.default"),
        ({"safety_stock": {"skus": {"A": 2_000_000}}}, "safety_stock.skus"),
        ({"kits": [{"sku": "K", "components": []}]}, "kits[0] (K): a kit has at least one"),
        ({"kits": [{"sku": "K", "components": [{"sku": "K", "qty": 1}]}]}, "its own component"),
        ({"kits": [{"sku": "K", "components": [{"sku": "A", "qty": 0}]}]}, "qty"),
        (
            {
                "kits": [
                    {"sku": "K", "components": [{"sku": "A", "qty": 1}, {"sku": "A", "qty": 2}]}
                ]
            },
            "component 'A' twice",
        ),
        ({"alerts": {"stockout_days": -2}}, "alerts.stockout_days"),
        ({"channel": []}, "unknown field"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_entry(change, names):
    with pytest.raises(ConfigError) as refused:
        load(orjson.dumps({**EXAMPLE, **change}))
    assert names in str(refused.value)


def test_not_json_is_refused():
    with pytest.raises(ConfigError, match="not JSON"):
        load(b"{")


def test_replay_exits_2_on_a_bad_policy_naming_it(tmp_path, capsys):
    bad = tmp_path / "policy.json"
    bad.write_bytes(orjson.dumps({"channels": [{"name": "m", "buffer_pct": 101}]}))
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"")
    assert main(["replay", str(log), "--policy", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "policy.json" in err and "channels[0].buffer_pct" in err
    assert main(["replay", str(log), "--policy", str(tmp_path / "missing.json")]) == 2


def test_the_environment_names_the_policy_too(tmp_path, monkeypatch, capsys):
    policy = tmp_path / "p.json"
    policy.write_bytes(orjson.dumps({"channels": [{"name": "web"}, {"name": "outlet"}]}))
    log = tmp_path / "events.jsonl"
    log.write_bytes(
        b'{"event_id":"e1","type":"receipt","location_id":"S1","sku":"A","qty":3,'
        b'"ts":"2026-11-20T10:00:00Z"}\n'
    )
    monkeypatch.setenv("OMNISTOCK_POLICY", str(policy))
    assert main(["replay", str(log)]) == 0
    printed = orjson.loads(capsys.readouterr().out)
    assert printed["channels"] == {"web": 3, "outlet": 3}


def test_the_demo_policy_shows_every_feature():
    network = generate_network(stores=20)
    policy = load(orjson.dumps(generate_policy(network)))
    by_name = {c.name: c for c in policy.channels}
    assert by_name["marketplace"].buffer_pct == 20
    assert by_name["marketplace"].locations == frozenset(policy.groups["dcs"])
    assert by_name["call_centre"].locations == frozenset(policy.groups["east_and_dcs"])
    assert not by_name["pos"].safety_stock
    assert set(policy.groups) == {"dcs", "east", "west", "east_and_dcs"}
    assert policy.groups["east"] and policy.groups["west"]
