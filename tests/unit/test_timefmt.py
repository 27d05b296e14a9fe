"""Instants at the edges (docs/events.md §1.3): epoch milliseconds to the UTC instant."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from engine.timefmt import MAX_MS, from_ms, to_ms

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T0 = 1_795_000_000_000


def reference(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def test_from_ms_is_the_millisecond_after_the_epoch_in_utc():
    draw = random.Random(7)
    values = [0, 1, 999, 1_000, 1_001, MAX_MS - 999, MAX_MS, -1, -999, -1_000, -1_001]
    values += [draw.randrange(0, MAX_MS + 1) for _ in range(5_000)]
    # a stream's stamps: mostly in order, now and then a few seconds late, each second again
    values += [T0 + n * 7 - draw.choice((0, 0, 0, 2_500)) for n in range(5_000)]
    for ms in values:
        instant = from_ms(ms)
        assert instant == reference(ms), ms
        assert instant.tzinfo is UTC
        if ms >= 0:
            assert to_ms(instant) == ms


def test_from_ms_stays_right_past_the_seconds_it_remembers():
    for second in range(70_000):  # more distinct seconds than are kept: forgotten, remade
        ms = T0 + second * 1_000 + second % 1_000
        assert from_ms(ms) == reference(ms)
    assert from_ms(T0) == reference(T0)


@pytest.mark.parametrize("ms", [MAX_MS + 1_000 * 86_400 * 400, -62_135_596_800_001])
def test_from_ms_past_the_dates_raises_as_the_datetime_sum_does(ms):
    with pytest.raises(OverflowError):
        reference(ms)
    with pytest.raises(OverflowError):
        from_ms(ms)
