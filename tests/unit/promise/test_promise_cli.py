"""``omnistock promise`` and ``omnistock network`` through the real entry point."""

from __future__ import annotations

import subprocess
import sys

import orjson

from omnistock.cli import main
from tests.unit.promise.conftest import raw_network


def _files(tmp_path):
    network = tmp_path / "network.json"
    network.write_bytes(orjson.dumps(raw_network()))
    events = tmp_path / "events.jsonl"
    lines = [
        {"event_id": "e1", "type": "receipt", "location_id": "S1", "sku": "A", "ts": 0, "qty": 4},
        {"event_id": "e2", "type": "sale", "location_id": "S1", "sku": "A", "ts": 1, "qty": 1},
    ]
    events.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return str(network), str(events)


def test_promise_prints_the_answer_for_one_item(tmp_path, capsys):
    network, events = _files(tmp_path)
    args = ["promise", "--network", network, "--events", events, "--sku", "A", "--qty", "2"]
    code = main([*args, "--to", "40.76,-73.98", "--at", "2026-11-18T15:00:00Z"])
    assert code == 0
    answer = orjson.loads(capsys.readouterr().out)
    assert answer["at"] == "2026-11-18T15:00:00Z"
    assert answer["destination"] == {"lat": 40.76, "lon": -73.98}
    [item] = answer["items"]
    assert item["sku"] == "A" and item["qty"] == 2
    assert [o["service_level"] for o in item["options"]] == ["standard", "same_day"]
    assert item["options"][0]["ship_by"] == "2026-11-18T14:00:00-05:00"
    assert item["pickup"][0]["atp"] == 3
    assert answer["cart"]["deliver_by"] == {"standard": "2026-11-20", "same_day": "2026-11-18"}
    assert answer["cart"]["single_location"]["location_id"] == "S1"


def test_promise_of_a_kit_reads_its_components_atp(tmp_path, capsys):
    """A kit (policy ``kits``) has no position: its ATP at S1 is its components' (4 A less the
    sale, 3 // 1; 5 B // 2 = 2), so two kits can be promised and three cannot."""
    network, events = _files(tmp_path)
    with open(events, "ab") as log:
        log.write(
            orjson.dumps(
                {
                    "event_id": "e3",
                    "type": "receipt",
                    "location_id": "S1",
                    "sku": "B",
                    "ts": 2,
                    "qty": 5,
                }
            )
            + b"\n"
        )
    policy = tmp_path / "policy.json"
    kit = {"sku": "KIT", "components": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]}
    policy.write_bytes(orjson.dumps({"kits": [kit]}))
    args = ["promise", "--network", network, "--events", events, "--policy", str(policy)]
    at = ["--to", "40.76,-73.98", "--at", "2026-11-18T15:00:00Z", "--sku", "KIT"]
    assert main([*args, *at, "--qty", "2"]) == 0
    [item] = orjson.loads(capsys.readouterr().out)["items"]
    assert item["options"] and item["pickup"][0]["atp"] == 2
    assert main([*args, *at, "--qty", "3"]) == 0
    [item] = orjson.loads(capsys.readouterr().out)["items"]
    assert item["options"] == [] and item["pickup"] == []


def test_promise_with_an_unknown_zip_code_fails_clearly(tmp_path, capsys):
    network, events = _files(tmp_path)
    args = ["promise", "--network", network, "--events", events, "--sku", "A"]
    assert main([*args, "--to", "00000", "--at", "2026-11-18T15:00:00Z"]) == 2
    assert "unknown postal code '00000'" in capsys.readouterr().err


def test_promise_with_a_bad_network_names_the_mistake(tmp_path, capsys):
    network, events = _files(tmp_path)
    bad = raw_network()
    bad["locations"][0]["timezone"] = "Mars/Olympus"
    (tmp_path / "network.json").write_bytes(orjson.dumps(bad))
    args = ["promise", "--network", network, "--events", events, "--sku", "A"]
    assert main([*args, "--to", "10001", "--at", "2026-11-18T15:00:00Z"]) == 2
    assert "locations[0] (S1), field timezone" in capsys.readouterr().err


def test_network_writes_a_loadable_file_and_its_stock(tmp_path):
    out, events = tmp_path / "n.json", tmp_path / "e.jsonl"
    args = ["network", "--stores", "20", "--skus", "30", "--out", str(out)]
    assert main([*args, "--events", str(events)]) == 0
    from engine.promise.network import load_network

    network = load_network(out.read_bytes())
    assert len(network.locations) == 24 and [lvl.name for lvl in network.service_levels] == [
        "standard",
        "express",
        "same_day",
    ]
    assert all(orjson.loads(line)["type"] == "receipt" for line in events.read_bytes().split())
    again = tmp_path / "again.json"
    assert main([*args[:-1], str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()  # deterministic for a seed


def test_the_installed_command_answers(tmp_path):
    network, events = _files(tmp_path)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "omnistock.cli",
            "promise",
            "--network",
            network,
            "--events",
            events,
            "--sku",
            "A",
            "--to",
            "10001",
            "--at",
            "2026-11-18T15:00:00Z",
        ],
        capture_output=True,
        check=True,
    )
    assert orjson.loads(done.stdout)["destination"]["postal_code"] == "10001"
