"""A replay split into partitions by location applies and counts exactly what one replay does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.partition import UNSURE, Owner
from engine.replay import Replay
from tests.property.strategies import event_logs
from tests.property.test_rules_agree import engine_figures, engine_statuses


def loosen(raw: bytes, how: int) -> bytes:
    """The same event in a form the fast location scan must not trust."""
    if how == 1:
        return raw.replace(b'":"', b'": "')
    if how == 2:
        return raw.replace(b'"sku":"A"', b'"sku":"\\u0041"')
    if how == 3:
        return b'{"note":"location_id",' + raw[1:] if raw.startswith(b"{") else raw
    return raw


@settings(max_examples=200, deadline=None)
@given(event_logs(), st.integers(2, 3), st.data())
def test_partitions_together_equal_one_replay(lines, parts, data):
    lines = [loosen(raw, data.draw(st.integers(0, 6))) for raw in lines]
    whole = Replay()
    whole.feed(lines)
    pieces = []
    for part in range(parts):
        piece = Replay()
        piece.feed_part(lines, part, parts)
        pieces.append(piece)
    figures, statuses = {}, {}
    for piece in pieces:
        assert not set(figures) & set(engine_figures(piece))  # each location in one partition
        figures.update(engine_figures(piece))
        statuses.update(engine_statuses(piece))
    assert figures == engine_figures(whole)
    assert statuses == engine_statuses(whole)
    assert sum(p.applied for p in pieces) == whole.applied
    assert sum(p.duplicates for p in pieces) == whole.duplicates
    assert sum(p.dead_letters for p in pieces) == whole.dead_letters


def test_scan_trusts_only_the_canonical_form():
    owner = Owner(4)
    canonical = b'{"event_id":"e","type":"sale","location_id":"S1","sku":"A","ts":1,"qty":1}'
    assert owner.scan(canonical) == owner.of("S1")
    assert owner.scan(canonical.replace(b'"location_id":"S1"', b'"location_id": "S1"')) == UNSURE
    assert owner.scan(canonical.replace(b'"S1"', b'"S\\u0031"')) == UNSURE
    assert owner.scan(b'{"a":"location_id",' + canonical[1:]) == UNSURE
    assert owner.scan(canonical.replace(b'"S1"', b'"S 1"')) == UNSURE
    assert owner.scan(b"not json") == UNSURE
