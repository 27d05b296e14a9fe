"""``Position.wire()`` (what is published and printed) encodes exactly as ``record()``."""

from __future__ import annotations

from pathlib import Path

import msgspec

from engine.position import Position
from engine.replay import Replay

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "events.jsonl"


def test_every_position_of_the_example_log_encodes_the_same_both_ways():
    replay = Replay()
    with EXAMPLE.open("rb") as lines:
        replay.feed(lines)
    replay.finish()
    positions = list(replay.positions())
    assert any(p.inbound for p in positions)  # expected supply, sorted, is covered
    for position in positions:
        assert msgspec.json.encode(position.wire()) == msgspec.json.encode(position.record())


def test_a_position_before_any_event_encodes_the_same_both_ways():
    fresh = Position("S001", "SKU-1", 0)
    assert msgspec.json.encode(fresh.wire()) == msgspec.json.encode(fresh.record())
    assert b'"as_of":null' in msgspec.json.encode(fresh.wire())
