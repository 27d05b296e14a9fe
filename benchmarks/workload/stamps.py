"""Timestamp formatting: RFC 3339 (UTC or the store's offset), epoch milliseconds, or a mix."""

from __future__ import annotations

import random
import time

from .params import EPOCH_SHARE_MIXED, LOCAL_TS_SHARE


class Stamp:
    """Timestamps: RFC 3339 (text cached per second), epoch ms, or a mix of both."""

    def __init__(self, mode: str, rng: random.Random, offsets: list[int], n_stores: int) -> None:
        self.mode, self.rng, self.offsets, self.n_stores = mode, rng, offsets, n_stores
        self.cache: dict[int, str] = {}  # local second -> "YYYY-MM-DDTHH:MM:SS"
        self.suffix = {o: f"{'-+'[o > 0]}{abs(o) // 60:02d}:{abs(o) % 60:02d}" for o in offsets}
        self.suffix[0] = "Z"

    def ts(self, ms: int, loc: int) -> str | int:
        rng, mode = self.rng, self.mode
        if mode == "epoch_ms" or (mode == "mixed" and rng.random() < EPOCH_SHARE_MIXED):
            return ms
        off = self.offsets[loc] if loc < self.n_stores and rng.random() < LOCAL_TS_SHARE else 0
        sec, milli = divmod(ms + off * 60_000, 1000)
        return f"{self.cache.get(sec) or self._second(sec)}.{milli:03d}{self.suffix[off]}"

    def instant(self, ms: int) -> str | int:
        """An eta: whole seconds, UTC."""
        if self.mode == "epoch_ms" or (self.mode == "mixed" and self.rng.random() < 0.5):
            return ms
        return f"{self._second(ms // 1000)}Z"

    def _second(self, sec: int) -> str:
        if len(self.cache) > 4096:
            self.cache.clear()
        t = time.gmtime(sec)
        text = self.cache[sec] = (
            f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
            f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        )
        return text
