"""A book's dedup memory: the event ids applied here, 16 bytes each, in time buckets.

The rule (docs/events.md §3): an event whose id was applied at this location is a duplicate
while that first application is within the dedup window of the location's clock (the largest
``ts`` applied here, ``watermark``). Event time is cut in buckets of a sixteenth of the window
(``granule``), counted from the epoch; an id is remembered by the bucket of its ``ts``, and
is a duplicate while that bucket is not before the bucket of ``watermark - window``. So an id
is remembered for the whole window, and for at most one bucket (a sixteenth) more; memory is
dropped a bucket at a time (docs/decisions.md D111).

Two tiers:

- ``recent``: ``id -> ts`` (epoch milliseconds, converted once per event by the rules) of the
  ids applied in the batch under way, a plain dict, what the rules read and write per event
  (and undo, for an impossible event);
- the table: every older id (but one dated far ahead of the clock, ``AHEAD``) as two 64-bit
  hashes with its bucket's low 16 bits in place of 16 hash bits (111 bits of hash: a false
  duplicate is about one in 10^33 per lookup), in a Robin Hood table kept 70-87.5 % full:
  18-23 bytes an id (``engine.dedup_kernels``).

At the start of a batch (``prefetch``) the batch's ids are looked up in the table in one call,
and at its end (``flush``, ``engine.batch.fold_batch``) the recent ids move into it, so a book
that goes quiet keeps none in the dict; an id not looked up that way (a caller applying messages one
by one) is looked up alone. An id is a ``str`` (an event's) or a pair ``(from_location_id,
event_id)`` (a transfer's supply arriving here), hashed as the two joined by ``\\x01``; ids
are printable ASCII, so neither byte can be in one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import numpy as np

from engine import dedup_kernels as k
from engine.timefmt import to_ms

Key = str | tuple[str, str]
GRANULES: Final = 16  # buckets in a window
MAX_LOAD: Final = 0.875
GROWN_LOAD: Final = 0.70
RECENT_MAX: Final = 4096
# The table holds buckets from its sweep's horizon to AHEAD after it (16-bit tags tell them
# apart); an id dated further ahead of the book's clock (a transfer's supply at a destination
# whose clock is behind, or has not started) waits in ``recent``.
AHEAD: Final = 2**14
_EMPTY: Final = np.zeros(0, np.uint64)


def granule_of(window_ms: int) -> int:
    """The bucket length, in milliseconds, of a window."""
    return max(1, -(-window_ms // GRANULES))


def _text(key: Key) -> str:
    return key if isinstance(key, str) else key[0] + "\x01" + key[1]


def hashes(keys: list[Key]) -> tuple[Any, Any]:
    """The table's two hashes of each id."""
    texts = [_text(key) for key in keys]
    joined = "\x00".join(texts).encode()
    if joined.count(b"\x00") != len(texts) - 1:  # not a valid id: never an event's
        raise ValueError("an id holds a zero byte")
    found: tuple[Any, Any] = k.hash_ids(np.frombuffer(joined, np.uint8), len(texts))
    return found


class Seen:
    """The ids applied at one book (the module docstring)."""

    __slots__ = ("count", "granule", "hi", "lo", "probed", "recent", "swept", "window_ms")

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.granule = granule_of(window_ms)
        self.recent: dict[Key, int] = {}  # id -> epoch ms of its ts
        self.probed: dict[Key, int] = {}  # the batch's ids the table knows: their bucket
        self.hi: Any = _EMPTY
        self.lo: Any = _EMPTY
        self.count = 0  # ids in the table
        self.swept = -(2**62)  # the horizon the table was last swept to

    # -- the rule --------------------------------------------------------------------------

    def bucket(self, ts: datetime) -> int:
        return to_ms(ts) // self.granule

    def horizon(self, watermark: datetime) -> int:
        """The first bucket still remembered when the clock reads ``watermark``."""
        return (to_ms(watermark) - self.window_ms) // self.granule

    def applied_in_window(self, first_ms: int, watermark: datetime) -> bool:
        """Whether an id first applied at ``first_ms`` (epoch ms) is a duplicate at
        ``watermark``."""
        return first_ms // self.granule >= self.horizon(watermark)

    def known(self, key: Key, watermark: datetime) -> bool:
        """Whether the table holds ``key`` within the window (``recent`` aside)."""
        if self.count == 0:
            return False
        found = self.probed.get(key)
        if found is None:
            found = int(self._lookup([key], watermark)[0])
        return found >= 0 and found >= self.horizon(watermark)

    def __len__(self) -> int:
        return self.count + len(self.recent)

    def __contains__(self, key: object) -> bool:
        if key in self.recent:
            return True
        if self.count == 0 or not isinstance(key, (str, tuple)):
            return False
        his, los = hashes([key])
        return bool(k.find(self.hi, self.lo, his[0], los[0]) >= 0)

    # -- batches ---------------------------------------------------------------------------

    def prefetch(self, keys: list[Key], watermark: datetime) -> None:
        """A batch begins: the recent ids go into the table, and the table is asked once for
        ``keys``, the ids of the batch's messages."""
        self.flush(watermark)
        if self.count == 0 or not keys:
            self.probed = {}
            return
        self.probed = dict(zip(keys, self._lookup(keys, watermark).tolist(), strict=True))

    def forget(self, watermark: datetime) -> None:
        """The clock moved: drop the buckets that left the window (a caller that applies
        messages one by one, never in batches, has its recent ids moved into the table once
        they are many)."""
        if len(self.recent) > RECENT_MAX:
            self.flush(watermark)
            return
        self._sweep(watermark)
        horizon = self.swept
        granule = self.granule
        old: list[Key] = []
        for key, ms in self.recent.items():  # in about the order of time: the old first
            if ms // granule >= horizon:
                break
            old.append(key)
        for key in old:
            del self.recent[key]

    def flush(self, watermark: datetime) -> None:
        """Move the recent ids into the table, dropping what left the window."""
        self.probed = {}
        self._sweep(watermark)
        recent = self.recent
        if not recent:
            return
        horizon = self.swept
        ahead = horizon + AHEAD
        keys: list[Key] = []
        tags: list[int] = []
        kept: dict[Key, int] = {}
        granule = self.granule
        for key, ms in recent.items():
            bucket = ms // granule
            if bucket > ahead:  # far ahead of this clock (a supply): its tag would not tell
                kept[key] = ms
            elif bucket >= horizon:
                keys.append(key)
                tags.append(bucket & 0xFFFF)
        self.recent = kept
        if not keys:
            return
        self._reserve(len(keys))
        his, los = hashes(keys)
        self.count += k.insert(self.hi, self.lo, his, los, np.array(tags, np.uint64))

    # -- the table -------------------------------------------------------------------------

    def _lookup(self, keys: list[Key], watermark: datetime) -> Any:
        self._sweep(watermark)
        his, los = hashes(keys)
        return k.lookup(self.hi, self.lo, his, los, self.swept)

    def _sweep(self, watermark: datetime) -> None:
        horizon = self.horizon(watermark)
        if horizon <= self.swept:
            return
        if self.count:
            if horizon - self.swept > AHEAD:  # the table holds nothing as recent
                self.hi = self.lo = _EMPTY
                self.count = 0
            else:
                self.count -= k.sweep(self.hi, self.lo, horizon)
                if self.count < self.hi.shape[0] * GROWN_LOAD / 2:
                    self._resize(self.count)
        self.swept = horizon

    def _reserve(self, more: int) -> None:
        if self.count + more > self.hi.shape[0] * MAX_LOAD:
            self._resize(self.count + more)

    def _resize(self, count: int) -> None:
        cap = int(count / GROWN_LOAD) + 8 if count else 0
        if cap == 0:
            self.hi = self.lo = _EMPTY
            return
        self.hi, self.lo = k.rebuild(self.hi, self.lo, cap)

    # -- snapshots -------------------------------------------------------------------------

    def state(self) -> tuple[Any, ...]:
        """What is remembered, comparable across tables of any size (for tests)."""
        used = self.hi != 0
        table = sorted(zip(self.hi[used].tolist(), self.lo[used].tolist(), strict=True))
        return (self.window_ms, sorted(self.recent.items(), key=repr), table, self.swept)

    def nbytes(self) -> int:
        """Bytes the table holds (``recent`` aside)."""
        return int(self.hi.nbytes + self.lo.nbytes)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Seen, (self.window_ms,), self.__getstate__())

    def __getstate__(self) -> tuple[Any, ...]:
        return (
            self.recent,
            self.hi.tobytes(),
            self.lo.tobytes(),
            self.count,
            self.swept,
        )

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        recent, hi, lo, self.count, self.swept = state
        # a store written before the ids' times were milliseconds holds datetimes
        self.recent = {k: v if type(v) is int else to_ms(v) for k, v in recent.items()}
        self.probed = {}
        self.hi = np.frombuffer(hi, np.uint64).copy()
        self.lo = np.frombuffer(lo, np.uint64).copy()
