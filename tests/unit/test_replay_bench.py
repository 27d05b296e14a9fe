"""The replay benchmark's short-line log (``benchmarks.replay_throughput --short``) and its
figures: what the log holds, not how fast anything runs."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest

from benchmarks import replay_throughput as bench
from engine.replay import Replay
from workload import WorkloadParams

EVENTS = 20_000


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return list(bench.short_lines(EVENTS, 7))


def test_the_same_seed_writes_the_same_log(lines):
    assert list(bench.short_lines(EVENTS, 7)) == lines
    assert list(bench.short_lines(EVENTS, 8)) != lines


def test_lines_are_short_with_integer_epoch_ms_ts(lines):
    assert len(lines) == EVENTS
    for raw in lines:
        event = orjson.loads(raw)
        assert len(raw) <= 130
        assert list(event)[:4] == ["event_id", "type", "location_id", "sku"]
        assert list(event)[-1] == "ts" and type(event["ts"]) is int
        assert WorkloadParams().start_ms - 5_000 <= event["ts"]
        assert 0 <= int(event["location_id"][1:]) < bench.SHORT_LOCATIONS
        assert 0 <= int(event["sku"][1:]) < bench.SHORT_SKUS


def test_the_mix_and_the_duplicates(lines):
    distinct = set(lines)
    repeats = len(lines) - len(distinct)
    assert 0.5 * bench.SHORT_DUP_RATE * EVENTS < repeats < 2 * bench.SHORT_DUP_RATE * EVENTS
    shares = Counter(orjson.loads(raw)["type"] for raw in distinct)
    for kind, share in bench.SHORT_MIX:
        assert abs(shares[kind] / len(distinct) - share) < 0.02, kind


def test_the_log_replays_without_dead_letters(lines):
    replay = Replay()
    replay.feed(lines)
    assert replay.dead_letters == 0  # every release names a reservation held
    assert replay.duplicates == len(lines) - len(set(lines))
    assert replay.applied == len(set(lines))


@pytest.mark.slow
def test_measure_reports_the_rounds_of_the_ratio(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "CACHE", tmp_path)
    figures = bench.measure(2_000, rounds=2, short=True)
    assert len(figures["ratios"]) == 2
    assert figures["ratio_min"] <= figures["ratio"] <= figures["ratio_max"]
    assert figures["lines"] == 2_000 and figures["dead_letters"] == 0
    assert figures["workload"]["catalogue"] == "short"
    assert (tmp_path / "short-v1-2000-7.jsonl").exists()
