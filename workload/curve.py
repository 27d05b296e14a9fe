"""The daily curve: traffic by local hour, and an event clock whose rate follows it.

Each store's traffic at an instant is its weight times ``DAILY_CURVE`` at the store's local hour.
The day is cut into 96 buckets of 15 minutes of UTC time (every real UTC offset is a multiple
of 15 minutes, so a store's local hour is constant within a bucket); a bucket's rate is the sum
over stores of weight x curve, weights summing to 1. Each store cycles through all 24 local
hours in a day, so the rate's mean over a day is the curve's mean, 1: ``events_per_s`` stays
the mean rate. Offsets are taken at the start of the log (a daylight-saving change during a
long log does not move the curve; timestamps still use the true offset, ``stamps.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .draws import draws, late_ms

# Local hour 0..23: weight (mean 1). Quiet at night, a ramp from 6:00, a lunch peak at 12:00,
# an afternoon dip, an early-evening peak at 18:00, a tail to midnight.
DAILY_CURVE: tuple[float, ...] = (
    0.16, 0.08, 0.05, 0.04, 0.04, 0.08, 0.25, 0.55, 0.90, 1.20, 1.45, 1.75,
    2.05, 1.90, 1.50, 1.40, 1.50, 1.80, 2.05, 1.90, 1.45, 1.00, 0.60, 0.30,
)  # fmt: skip
BUCKET_MS, BUCKETS, DAY_MS = 900_000, 96, 86_400_000
_BATCH = 1 << 14


class DayProfile:
    """The retailer's day, per 15-minute bucket of UTC time: the event rate (mean 1) and each
    store's share of it.

    Args:
        weights: each store's traffic weight (any positive scale).
        offsets_min: each store's UTC offset in minutes (a multiple of 15).
        curve: the weight of each local hour, 24 values of mean 1.
    """

    def __init__(
        self,
        weights: Sequence[float] | Any,
        offsets_min: Sequence[int],
        curve: Sequence[float] = DAILY_CURVE,
    ) -> None:
        w = np.asarray(weights, dtype=np.float64)
        off = np.asarray(offsets_min, dtype=np.int64)
        if len(curve) != 24 or min(curve) <= 0 or abs(sum(curve) - 24) > 1e-9:
            raise ValueError("a daily curve is 24 positive weights of mean 1")
        if len(w) != len(off) or not len(w) or (w <= 0).any() or (off % 15).any():
            raise ValueError("one positive weight and one offset (multiple of 15 min) per store")
        minutes = np.arange(BUCKETS)[:, None] * 15 + off[None, :]  # local minute of the day
        hours = (minutes % 1440) // 60
        #: ``[bucket, store]``: the store's weight times the curve at its local hour
        self.store_rates = np.asarray(curve)[hours] * (w / w.sum())
        #: per bucket: the rate relative to the mean (mean 1 over the day)
        self.rate = self.store_rates.sum(axis=1)

    def bucket(self, ms: int) -> int:
        """The bucket of the UTC day that holds the instant ``ms``."""
        return ms % DAY_MS // BUCKET_MS

    def clock(
        self, gen: np.random.Generator, start_ms: int, events_per_s: float
    ) -> Callable[[], int]:
        """Endless event times from ``start_ms``: a Poisson process of rate
        ``events_per_s * rate[bucket]``, by time rescaling (unit exponential gaps in expected
        events, mapped back through the integrated rate), 2 % of them late by < 3 s."""
        per_bucket = self.rate * events_per_s * (BUCKET_MS / 1000)  # expected events per bucket
        cum = np.concatenate(([0.0], np.cumsum(per_bucket)))
        per_day = float(cum[-1])
        day0 = start_ms - start_ms % DAY_MS
        j = self.bucket(start_ms)
        into = (start_ms - day0 - j * BUCKET_MS) / BUCKET_MS
        first = float(cum[j] + per_bucket[j] * into)  # expected events from day0 to start_ms

        def batches() -> Iterator[int]:
            base = first
            while True:
                g = base - np.cumsum(np.log1p(-gen.random(_BATCH)))
                late = late_ms(gen, _BATCH)
                base = float(g[-1])
                days, rest = np.divmod(g, per_day)
                k = np.minimum(np.searchsorted(cum, rest, side="right") - 1, BUCKETS - 1)
                frac = (rest - cum[k]) / per_bucket[k]
                times = day0 + (days * BUCKETS + k + frac) * BUCKET_MS
                yield from (times - late).astype(np.int64).tolist()

        return batches().__next__

    def store_draw(self, gen: np.random.Generator) -> Callable[[int], int]:
        """A store index for an instant: drawn by the stores' shares in its bucket."""
        by_bucket: list[Callable[[], int] | None] = [None] * BUCKETS

        def draw(ms: int) -> int:
            j = ms % DAY_MS // BUCKET_MS
            if (pick := by_bucket[j]) is None:
                pick = by_bucket[j] = draws(gen, self.store_rates[j], batch=1024)
            return pick()

        return draw
