"""The promise table's rows, each once (docs/decisions.md D110).

A *row* is one region's best option per level for one sku (each level's location, absolute
day and ship-by: ``3 x levels`` int64 words). Of a sku's 100 regions most share a row, and of
a day's entries a few thousand rows are distinct. ``Rows`` keeps the rows it has met (an
open-addressed table in numba, ``table_kernels.intern``) with each one's JSON, packed, so a
make formats only rows it has never seen and assembles entries with one numba gather into a
buffer it keeps. A ``Rows`` is used by one thread at a time (``Maker`` keeps a spare list).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import Final

import numpy as np
import numpy.typing as npt

from engine.promise import table_kernels as tk

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
MAX_ROWS: Final = 200_000  # a registry this full is dropped for a new one (about 60 MB)


class Rows:
    """The rows met so far, their JSON, and a gather buffer.

    Args:
        words: int64 words a row (3 x the network's levels).
    """

    def __init__(self, words: int) -> None:
        self.words = words
        self.count = 0
        self.keys = np.empty((0, words), dtype=np.int64)
        self.slots = np.full(1, -1, dtype=np.int64)
        self.pool = np.empty(0, dtype=np.uint8)
        self.pool_off = np.zeros(1, dtype=np.int64)
        self.longest = 0
        self.buffer = np.empty(0, dtype=np.uint8)

    def intern(
        self, rows: I64, row_json: Callable[[bytes], bytes]
    ) -> tuple[I64, npt.NDArray[np.uint64]]:
        """Each row's id (``ids[sku, region]``) and each sku's 16-byte digest of its rows;
        ``row_json`` formats a row never met before (its words as bytes)."""
        self._room(rows.shape[0] * rows.shape[1])
        before = self.count
        ids, count, digest = tk.intern(rows, self.slots, self.keys, before)
        if count > before:
            self._add([row_json(self.keys[i].tobytes()) for i in range(before, count)])
        self.count = count
        return ids, digest

    def entries(self, ids: I64, heads: list[bytes], prefix: U8, prefix_off: I64) -> list[bytes]:
        """Per sku (``ids``' rows), its head, ``{``, each region's prefix and row JSON joined
        by ``,``, then ``}}``: one gather into the kept buffer, then a copy of each out."""
        head, head_off = packed(heads)
        regions = ids.shape[1]
        fixed = int(prefix_off[-1]) + max(regions - 1, 0) + 3  # prefixes, commas, "{" "}}"
        total = (fixed + regions * self.longest) * len(heads) + int(head_off[-1])  # at most
        if self.buffer.shape[0] < total:
            self.buffer = np.empty(max(total, 2 * self.buffer.shape[0]), dtype=np.uint8)
        n = self.count
        ends = tk.gather(
            self.buffer, ids, self.pool, self.pool_off[: n + 1], prefix, prefix_off, head, head_off
        )
        view = memoryview(self.buffer)  # type: ignore[arg-type]
        out, at = [], 0
        for end in ends.tolist():
            out.append(bytes(view[at:end]))
            at = end
        return out

    def _room(self, more: int) -> None:
        """Room in ``keys`` for ``more`` new rows, the slots at most half full."""
        need = self.count + more
        if need <= self.keys.shape[0]:
            return
        size = max(need, 2 * self.keys.shape[0], 1024)
        keys = np.empty((size, self.words), dtype=np.int64)
        keys[: self.count] = self.keys[: self.count]
        self.keys = keys
        slots = 1
        while slots < 2 * size:
            slots *= 2
        self.slots = tk.rehash(keys, self.count, slots)
        offsets = np.empty(size + 1, dtype=np.int64)
        offsets[: self.count + 1] = self.pool_off[: self.count + 1]
        self.pool_off = offsets

    def _add(self, pieces: list[bytes]) -> None:
        start = int(self.pool_off[self.count])
        added, off = packed(pieces)
        end = start + added.shape[0]
        if self.pool.shape[0] < end:
            pool = np.empty(max(end, 2 * self.pool.shape[0]), dtype=np.uint8)
            pool[:start] = self.pool[:start]
            self.pool = pool
        self.pool[start:end] = added
        self.pool_off[self.count + 1 : self.count + 1 + len(pieces)] = start + off[1:]
        self.longest = max(self.longest, *map(len, pieces))


def packed(pieces: Sequence[bytes]) -> tuple[U8, I64]:
    """Byte strings as one buffer and their ``[start, end)`` offsets."""
    off = np.fromiter(accumulate(map(len, pieces), initial=0), dtype=np.int64)
    return np.frombuffer(b"".join(pieces), dtype=np.uint8), off
