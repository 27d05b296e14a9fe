"""The dict-fold peer (``benchmarks/peers/dict_fold.py``) folds as the engine does: on the same
log, its positions equal ``engine.replay.Replay``'s (on_hand, reserved, atp and the rest it
keeps), its reservations end the same way, and it counts the same duplicates and dead letters.
No Kafka: its fold functions over in-memory lines."""

from __future__ import annotations

from typing import Any

import orjson

from benchmarks.peers.dict_fold import DictFold, fold_lines
from engine.replay import Replay
from tests.factories import T0, line

MIN = 60_000


def engine_positions(replay: Replay) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {
        (p.location_id, p.sku): (
            p.on_hand,
            p.reserved,
            p.atp,
            p.safety_stock,
            p.unsellable,
            {s: q for s, (q, _) in (p.inbound or {}).items()},
        )
        for p in replay.positions()
    }


def peer_positions(fold: DictFold) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {
        (loc.location_id, p.sku): (
            p.on_hand,
            p.reserved,
            max(0, p.on_hand - p.reserved - p.safety_stock),
            p.safety_stock,
            p.unsellable,
            {s: q for s, (q, _) in (p.inbound or {}).items()},
        )
        for loc in fold.locations.values()
        for p in loc.positions.values()
    }


def peer_ledger(out: list[tuple[str, str | None, bytes]]) -> dict[str, tuple[str, int]]:
    """Each reservation's latest outcome (repeats skipped), as ``Replay(ledger=True)``."""
    ledger = {}
    for topic, _, value in out:
        record = orjson.loads(value)
        if topic == "reservations" and not record["repeat"]:
            ledger[record["reservation_id"]] = (record["status"], record["qty"])
    return ledger


def engine_ledger(replay: Replay) -> dict[str, tuple[str, int]]:
    return dict(replay.ledger or {})


def test_positions_and_reservations_equal_the_engines_replay():
    sale = line("sale", ts=T0 + 3, qty=1)
    first = [
        line("receipt", ts=T0, qty=10),
        line("set_safety_stock", ts=T0 + 1, qty=2),
        sale,
        line("reserve", ts=T0 + 4, reservation_id="R1", qty=5),  # web: room 7, confirmed
        line("reserve", ts=T0 + 5, reservation_id="R2", qty=5, allow_partial=True),  # partial 2
        line("reserve", ts=T0 + 6, reservation_id="R3", qty=3),  # rejected
        line("reserve", ts=T0 + 7, reservation_id="R4", qty=2, channel="pos"),  # no safety stock
        sale,  # a duplicate, byte for byte
        line("reserve", ts=T0 + 8, reservation_id="R1", qty=9),  # a repeat: its first outcome
        line("release", ts=T0 + 9, reservation_id="R2"),
        line("fulfil", ts=T0 + 10, reservation_id="R1", qty=2),  # R1 holds 3 after
        line("sale", ts=T0 + 11, qty=1, reservation_id="R1"),  # consumes 1 of R1
        line("fulfil", ts=T0 + 12, reservation_id="R1", qty=10),  # more than held: refused
        line("release", ts=T0 + 13, reservation_id="NOPE"),  # unknown: refused
        line("release", ts=T0 + 14, reservation_id="R3"),  # rejected at first: refused
        b'{"event_id":"bad","type":"sale","location_id":"S1","sku":"A","ts":1}',  # no qty
        line("reserve", ts=T0 + 15, reservation_id="R5", qty=1, ttl_s=60, channel="pos"),
        line("receipt", ts=T0 + 16, sku="B", qty=3),
        line("reserve", ts=T0 + 17, sku="B", reservation_id="R6", qty=1, ttl_s=60),
        line("reserve", ts=T0 + 18, sku="B", reservation_id="R7", qty=2, ttl_s=60),
        # A minute on: R5 expires before this receipt of its sku; B's holds stay (no event of B).
        line("receipt", ts=T0 + MIN + 20, qty=4),
        line("release", ts=T0 + MIN + 21, reservation_id="R5"),  # expired: refused
        line("return", ts=T0 + MIN + 22, qty=2, sellable=False),
        line("return", ts=T0 + MIN + 23, qty=1),
        line("adjust", ts=T0 + MIN + 24, delta=-1),
        line("count", ts=T0 + MIN + 25, sku="C", qty=7),
        line(
            "transfer_out",
            ts=T0 + MIN + 26,
            qty=2,
            to_location_id="S2",
            eta=T0 + 86_400_000,
            supply_id="TO-1",
        ),
        line("inbound", ts=T0 + MIN + 27, location_id="S2", qty=6, eta=T0 + MIN, supply_id="PO-1"),
        line("receipt", ts=T0 + MIN + 28, location_id="S2", qty=1, supply_id="TO-1"),
        line("inbound_cancel", ts=T0 + MIN + 29, location_id="S2", supply_id="PO-1"),
        line("sale", ts=T0 + MIN + 30, location_id="S2", sku="D", qty=1),
    ]
    then = [
        line("fulfil", ts=T0 + 3 * MIN, sku="B", reservation_id="R7"),  # expired: refused
        line("sale", ts=T0 + 3 * MIN + 1, sku="B", qty=1),  # R6 and R7 expire first
    ]
    replay = Replay(ledger=True)
    fold = DictFold()
    replay.feed(first)
    out = fold_lines(fold, first)
    positions = peer_positions(fold)
    assert positions == engine_positions(replay)
    assert positions[("S1", "A")][:3] == (8, 4, 2)  # on_hand, reserved (R1 2, R4 2), atp
    assert positions[("S1", "B")][:2] == (3, 3)  # still held: B had no event since
    assert positions[("S2", "A")][0] == 1 and positions[("S2", "A")][5] == {"TO-1": 1}

    replay.feed(then)
    out += fold_lines(fold, then)
    positions = peer_positions(fold)
    assert positions == engine_positions(replay)
    assert positions[("S1", "B")][:2] == (2, 0)
    assert peer_ledger(out) == engine_ledger(replay)
    assert peer_ledger(out)["R5"] == ("expired", 0)
    assert (fold.duplicates, fold.dead) == (replay.duplicates, replay.dead_letters) == (1, 6)


def test_a_generated_log_folds_to_the_same_positions():
    """The benchmark's workload on the built-in network (few stores and skus, so reservations,
    expiries, transfers and duplicates meet often)."""
    from workload import WorkloadParams, generate, network_workload

    params, catalogue = network_workload(WorkloadParams(events=20_000, seed=5), stores=5, skus=300)
    lines = list(generate(params, catalogue))
    replay = Replay(ledger=True)
    replay.feed(lines)
    fold = DictFold()
    out = fold_lines(fold, lines)

    assert peer_positions(fold) == engine_positions(replay)
    assert peer_ledger(out) == engine_ledger(replay)
    assert (fold.duplicates, fold.dead) == (replay.duplicates, replay.dead_letters)
    assert fold.duplicates > 0 and fold.dead > 0
