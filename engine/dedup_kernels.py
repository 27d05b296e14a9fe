"""The numba kernels of the dedup memory (``engine.dedup``): hashing ids, and a Robin Hood table.

A remembered id is 16 bytes in two ``uint64`` arrays: ``hi`` is the first 64-bit hash of the
id with its lowest bit set (0 marks an empty slot), ``lo`` the second hash with its low 16 bits
replaced by the id's time bucket (``engine.dedup``). Two ids are the same when both hashes
agree on the 111 bits kept. The hashes are XXH64 of the id's UTF-8 bytes under two seeds.

Slots are found by linear probing from ``home = (hi >> 32) * capacity >> 32`` (any capacity,
not only powers of two: the table grows by a quarter, so it stays between 70 % and 87.5 %
full), kept in Robin Hood order: an entry never sits further from its home than the one
before it would, so a search for an absent id stops early. Deletion shifts the entries after
it back (no tombstones). ``tests/unit/test_dedup.py`` holds the plain-Python twins.
"""

from __future__ import annotations

import numpy as np
from numba import njit

U64 = np.uint64
P1 = U64(0x9E3779B185EBCA87)
P2 = U64(0xC2B2AE3D27D4EB4F)
P3 = U64(0x165667B19E3779F9)
P4 = U64(0x85EBCA77C2B2AE63)
P5 = U64(0x27D4EB2F165667C5)
SEED_A = U64(0)
SEED_B = U64(0x6F6D6E6973746F63)  # "omnistoc"
TAG = U64(0xFFFF)
KEY = ~TAG  # the bits of ``lo`` that are the hash
HALF = 0x8000  # tags within half the tag space after the horizon are live


@njit(cache=True, inline="always")
def _rotl(x, r):  # type: ignore[no-untyped-def]
    return (x << U64(r)) | (x >> U64(64 - r))


@njit(cache=True, inline="always")
def _round(acc, lane):  # type: ignore[no-untyped-def]
    acc = acc + lane * P2
    return _rotl(acc, 31) * P1


@njit(cache=True, inline="always")
def _read64(buf, i):  # type: ignore[no-untyped-def]
    v = U64(0)
    for k in range(8):
        v |= U64(buf[i + k]) << U64(8 * k)
    return v


@njit(cache=True, inline="always")
def _read32(buf, i):  # type: ignore[no-untyped-def]
    v = U64(0)
    for k in range(4):
        v |= U64(buf[i + k]) << U64(8 * k)
    return v


@njit(cache=True)
def xxh64(buf, start, end, seed):  # type: ignore[no-untyped-def]
    """XXH64 of ``buf[start:end]`` (uint8) under ``seed`` (uint64)."""
    length = end - start
    i = start
    if length >= 32:
        v1 = seed + P1 + P2
        v2 = seed + P2
        v3 = seed
        v4 = seed - P1
        while i + 32 <= end:
            v1 = _round(v1, _read64(buf, i))
            v2 = _round(v2, _read64(buf, i + 8))
            v3 = _round(v3, _read64(buf, i + 16))
            v4 = _round(v4, _read64(buf, i + 24))
            i += 32
        h = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        for v in (v1, v2, v3, v4):
            h = (h ^ _round(U64(0), v)) * P1 + P4
    else:
        h = seed + P5
    h = h + U64(length)
    while i + 8 <= end:
        h ^= _round(U64(0), _read64(buf, i))
        h = _rotl(h, 27) * P1 + P4
        i += 8
    if i + 4 <= end:
        h ^= _read32(buf, i) * P1
        h = _rotl(h, 23) * P2 + P3
        i += 4
    while i < end:
        h ^= U64(buf[i]) * P5
        h = _rotl(h, 11) * P1
        i += 1
    h ^= h >> U64(33)
    h *= P2
    h ^= h >> U64(29)
    h *= P3
    h ^= h >> U64(32)
    return h


@njit(cache=True)
def hash_ids(buf, count):  # type: ignore[no-untyped-def]
    """The two hashes (``hi`` with its low bit set, ``lo`` without its tag bits) of each of
    the ``count`` ids in ``buf``, separated by zero bytes."""
    his = np.empty(count, np.uint64)
    los = np.empty(count, np.uint64)
    start = 0
    n = 0
    size = buf.shape[0]
    for end in range(size + 1):
        if end == size or buf[end] == 0:
            his[n] = xxh64(buf, start, end, SEED_A) | U64(1)
            los[n] = xxh64(buf, start, end, SEED_B) & KEY
            n += 1
            start = end + 1
    return his, los


@njit(cache=True, inline="always")
def _home(h, cap):  # type: ignore[no-untyped-def]
    return np.int64(((h >> U64(32)) * U64(cap)) >> U64(32))


@njit(cache=True, inline="always")
def _distance(hi, i, cap):  # type: ignore[no-untyped-def]
    d = i - _home(hi[i], cap)
    return d + cap if d < 0 else d


@njit(cache=True)
def find(hi, lo, a, b):  # type: ignore[no-untyped-def]
    """The slot of the id hashed ``(a, b)``, or -1."""
    cap = hi.shape[0]
    i = _home(a, cap)
    d = 0
    while True:
        h = hi[i]
        if h == 0 or _distance(hi, i, cap) < d:
            return -1
        if h == a and (lo[i] & KEY) == b:
            return i
        i += 1
        d += 1
        if i == cap:
            i = 0


@njit(cache=True)
def _place(hi, lo, a, v):  # type: ignore[no-untyped-def]
    """Put an absent entry ``(a, v)`` in Robin Hood order."""
    cap = hi.shape[0]
    i = _home(a, cap)
    d = 0
    while True:
        if hi[i] == 0:
            hi[i] = a
            lo[i] = v
            return
        di = _distance(hi, i, cap)
        if di < d:
            a, hi[i] = hi[i], a
            v, lo[i] = lo[i], v
            d = di
        i += 1
        d += 1
        if i == cap:
            i = 0


@njit(cache=True)
def insert(hi, lo, his, los, tags):  # type: ignore[no-untyped-def]
    """Remember each id with its tag (a known one takes the new tag): how many are new."""
    added = 0
    for n in range(his.shape[0]):
        a = his[n]
        b = los[n]
        v = b | U64(tags[n])
        i = find(hi, lo, a, b)
        if i >= 0:
            lo[i] = v
        else:
            _place(hi, lo, a, v)
            added += 1
    return added


@njit(cache=True)
def lookup(hi, lo, his, los, horizon):  # type: ignore[no-untyped-def]
    """The bucket each id was remembered in (``horizon`` or later, from its tag: the table
    holds nothing older), or -1 where it is not remembered."""
    out = np.full(his.shape[0], -1, np.int64)
    if hi.shape[0] == 0:
        return out
    low = horizon & 0xFFFF
    for n in range(his.shape[0]):
        i = find(hi, lo, his[n], los[n])
        if i >= 0:
            out[n] = horizon + ((np.int64(lo[i] & TAG) - low) & 0xFFFF)
    return out


@njit(cache=True)
def _delete_at(hi, lo, i):  # type: ignore[no-untyped-def]
    cap = hi.shape[0]
    while True:
        j = i + 1
        if j == cap:
            j = 0
        if hi[j] == 0 or _distance(hi, j, cap) == 0:
            hi[i] = 0
            lo[i] = 0
            return
        hi[i] = hi[j]
        lo[i] = lo[j]
        i = j


@njit(cache=True)
def sweep(hi, lo, horizon):  # type: ignore[no-untyped-def]
    """Forget every id of a bucket before ``horizon``: how many."""
    low = horizon & 0xFFFF
    removed = 0
    for i in range(hi.shape[0]):
        while hi[i] != 0 and ((np.int64(lo[i] & TAG) - low) & 0xFFFF) >= HALF:
            _delete_at(hi, lo, i)
            removed += 1
    return removed


@njit(cache=True)
def rebuild(hi, lo, cap):  # type: ignore[no-untyped-def]
    """The table's entries in a table of ``cap`` slots."""
    new_hi = np.zeros(cap, np.uint64)
    new_lo = np.zeros(cap, np.uint64)
    for i in range(hi.shape[0]):
        if hi[i] != 0:
            _place(new_hi, new_lo, hi[i], lo[i])
    return new_hi, new_lo
