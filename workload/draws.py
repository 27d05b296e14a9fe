"""Random draws made in numpy batches: Zipf weights, weighted picks and the flat event clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .params import LATE_SHARE, MAX_LATE_MS

_BATCH = 1 << 14


def zipf(n: int, exponent: float) -> Any:
    """Weights of ranks 1..n."""
    return 1.0 / np.arange(1, n + 1) ** exponent


def draws(
    gen: np.random.Generator, weights: Any, values: Any = None, batch: int = _BATCH
) -> Callable[[], int]:
    """Endless weighted draws (of an index, or of ``values[index]``), made in numpy batches."""
    cum = np.cumsum(weights)

    def batches() -> Iterator[int]:
        while True:
            idx = np.searchsorted(cum, gen.random(batch) * cum[-1], side="right")
            np.minimum(idx, len(cum) - 1, out=idx)
            yield from (idx if values is None else values[idx]).tolist()

    return batches().__next__


def late_ms(gen: np.random.Generator, n: int) -> Any:
    """How late each of ``n`` events is: 0, or for 2 % of them 1..MAX_LATE_MS ms."""
    late = gen.random(n)  # uniform in [0, 1): late by 1..MAX_LATE_MS ms, or not
    return np.where(late < LATE_SHARE, 1 + late / LATE_SHARE * (MAX_LATE_MS - 1), 0)


def event_clock(gen: np.random.Generator, start_ms: int, events_per_s: float) -> Callable[[], int]:
    """Endless event times: exponential gaps from ``start_ms``, 2 % of them late by < 3 s."""

    def batches() -> Iterator[int]:
        base = float(start_ms)
        while True:
            times = base - np.cumsum(np.log1p(-gen.random(_BATCH))) * (1000.0 / events_per_s)
            late = late_ms(gen, _BATCH)
            base = times[-1]
            yield from (times - late).astype(np.int64).tolist()

    return batches().__next__
