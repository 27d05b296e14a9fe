"""Timestamps: RFC 3339 (UTC or the store's offset), epoch milliseconds, or a mix of both.

A store's offset is fixed (drawn from ``UTC_OFFSETS_MIN``), or, when the catalogue names its
time zone, the zone's true UTC offset at that instant (``zoneinfo``, daylight saving included;
looked up once per zone and 15 minutes of UTC time, the step of every real transition).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from .params import EPOCH_SHARE_MIXED, LOCAL_TS_SHARE


def zone_offset_min(zone: ZoneInfo, ms: int) -> int:
    """The UTC offset of ``zone`` at the instant ``ms``, in minutes."""
    delta = datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone).utcoffset()
    return 0 if delta is None else int(delta.total_seconds()) // 60


class Stamp:
    """Timestamps: RFC 3339 (text cached per second), epoch ms, or a mix of both."""

    def __init__(
        self,
        mode: str,
        rng: random.Random,
        offsets: list[int],
        n_stores: int,
        zones: list[ZoneInfo] | None = None,
    ) -> None:
        self.mode, self.rng, self.offsets, self.n_stores = mode, rng, offsets, n_stores
        self.zones = zones  # per store, else the fixed ``offsets``
        self.zone_cache: dict[tuple[int, int], int] = {}  # (store, 15 minutes) -> offset
        self.cache: dict[int, str] = {}  # local second -> "YYYY-MM-DDTHH:MM:SS"
        self.suffix = {o: self._suffix(o) for o in offsets}

    def ts(self, ms: int, loc: int) -> str | int:
        rng, mode = self.rng, self.mode
        if mode == "epoch_ms" or (mode == "mixed" and rng.random() < EPOCH_SHARE_MIXED):
            return ms
        off = 0
        if loc < self.n_stores and rng.random() < LOCAL_TS_SHARE:
            off = self.offsets[loc] if self.zones is None else self._zone_offset(loc, ms)
        sec, milli = divmod(ms + off * 60_000, 1000)
        suffix = self.suffix.get(off) or self.suffix.setdefault(off, self._suffix(off))
        return f"{self.cache.get(sec) or self._second(sec)}.{milli:03d}{suffix}"

    def instant(self, ms: int) -> str | int:
        """An eta: whole seconds, UTC."""
        if self.mode == "epoch_ms" or (self.mode == "mixed" and self.rng.random() < 0.5):
            return ms
        return f"{self._second(ms // 1000)}Z"

    def _zone_offset(self, loc: int, ms: int) -> int:
        key = (loc, ms // 900_000)
        if (off := self.zone_cache.get(key)) is None:
            if len(self.zone_cache) > 4096:
                self.zone_cache.clear()
            assert self.zones is not None
            off = self.zone_cache[key] = zone_offset_min(self.zones[loc], ms)
        return off

    @staticmethod
    def _suffix(off: int) -> str:
        return "Z" if off == 0 else f"{'-+'[off > 0]}{abs(off) // 60:02d}:{abs(off) % 60:02d}"

    def _second(self, sec: int) -> str:
        if len(self.cache) > 4096:
            self.cache.clear()
        t = time.gmtime(sec)
        text = self.cache[sec] = (
            f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
            f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        )
        return text
