"""The dedup memory (``engine.dedup``): its kernels against plain-Python twins, and the memory
against a naive dict of every id with its first instant, over random batches."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import dedup_kernels as k
from engine.dedup import Seen, granule_of, hashes
from engine.timefmt import from_ms

M64 = 2**64 - 1
P1, P2, P3, P4, P5 = (
    0x9E3779B185EBCA87,
    0xC2B2AE3D27D4EB4F,
    0x165667B19E3779F9,
    0x85EBCA77C2B2AE63,
    0x27D4EB2F165667C5,
)


def rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & M64


def round_(acc: int, lane: int) -> int:
    return rotl((acc + lane * P2) & M64, 31) * P1 & M64


def xxh64(data: bytes, seed: int) -> int:
    """XXH64, plainly (the kernel's twin)."""
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + P1 + P2) & M64, (seed + P2) & M64, seed, (seed - P1) & M64]
        while i + 32 <= n:
            for j in range(4):
                v[j] = round_(v[j], int.from_bytes(data[i + 8 * j : i + 8 * j + 8], "little"))
            i += 32
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M64
        for lane in v:
            h = ((h ^ round_(0, lane)) * P1 + P4) & M64
    else:
        h = (seed + P5) & M64
    h = (h + n) & M64
    while i + 8 <= n:
        h ^= round_(0, int.from_bytes(data[i : i + 8], "little"))
        h = (rotl(h, 27) * P1 + P4) & M64
        i += 8
    if i + 4 <= n:
        h ^= int.from_bytes(data[i : i + 4], "little") * P1 & M64
        h = (rotl(h, 23) * P2 + P3) & M64
        i += 4
    while i < n:
        h ^= data[i] * P5 & M64
        h = rotl(h, 11) * P1 & M64
        i += 1
    h ^= h >> 33
    h = h * P2 & M64
    h ^= h >> 29
    h = h * P3 & M64
    return h ^ (h >> 32)


def test_xxh64_gives_the_published_digests():
    # The reference implementation's (the xxhash package): empty, "a", "abc", 42 bytes.
    assert xxh64(b"", 0) == 0xEF46DB3751D8E999
    assert xxh64(b"a", 0) == 0xD24EC4F1A98C6E5B
    assert xxh64(b"abc", 0) == 0x44BC2CF5AD770999
    assert xxh64(b"0123456789abcdef0123456789abcdef0123456789", 0) == 0xA76190C3ACF08A1C
    assert xxh64(b"evt-0001-00000000000042", 0x6F6D6E6973746F63) == 0x1289F59F9F8B4B75


@settings(deadline=None)
@given(st.lists(st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80)))
def test_the_hash_kernel_is_its_twin(ids):
    if not ids:
        return
    his, los = hashes(ids)
    for n, text in enumerate(ids):
        raw = text.encode()
        assert int(his[n]) == xxh64(raw, 0) | 1
        assert int(los[n]) == xxh64(raw, int(k.SEED_B)) & ~0xFFFF & M64


def test_a_pair_is_hashed_apart_from_its_event_id():
    (a,), (b,) = hashes(["e1"])
    (c,), (d,) = hashes([("S1", "e1")])
    assert (a, b) != (c, d)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 5000),
    st.lists(
        st.lists(st.tuples(st.integers(0, 40), st.integers(0, 400)), max_size=30),
        max_size=25,
    ),
)
def test_the_memory_is_the_naive_rule(window, batches):
    """Batches of ``(id, ms ahead)``, the clock moving to each applied id's instant: a duplicate
    iff the naive dict's first instant is in the window, to the bucket; memory never holds an
    id after its bucket left the window."""
    seen = Seen(window)
    granule = granule_of(window)
    naive: dict[str, int] = {}
    clock = 1_795_000_000_000
    watermark = from_ms(clock)
    for batch in batches:
        keys = [f"e{n}" for n, _ in batch]
        seen.prefetch(keys, watermark)  # type: ignore[arg-type]
        for (_, ahead), key in zip(batch, keys, strict=True):
            clock += ahead
            ts = from_ms(clock)
            first = naive.get(key)
            expected = first is not None and first // granule >= (clock - window) // granule
            recent = seen.recent.get(key)
            if recent is not None:
                found = seen.applied_in_window(recent, ts)
            else:
                found = seen.known(key, ts)
            assert found == expected, (key, first, clock)
            if not found:
                naive[key] = clock
                seen.recent[key] = clock
            watermark = ts
    seen.flush(watermark)
    live = {key for key, ms in naive.items() if ms // granule >= (clock - window) // granule}
    assert len(seen) == len(live)
    assert all(key in seen for key in live)


def test_the_table_grows_and_shrinks_with_the_window():
    seen = Seen(16_000)  # 1 s buckets
    base = 1_795_000_000_000
    for second in range(40):
        ids = [f"s{second}-{n}" for n in range(500)]
        seen.prefetch(ids, from_ms(base + second * 1000))  # type: ignore[arg-type]
        for key in ids:
            seen.recent[key] = base + second * 1000
    seen.flush(from_ms(base + 39_000))
    assert 8_000 <= len(seen) <= 8_500  # the window's 16 buckets and at most one more
    assert seen.nbytes() / len(seen) <= 24
    seen.flush(from_ms(base + 39_000) + timedelta(hours=1))
    assert len(seen) == 0 and seen.nbytes() == 0


def test_the_robin_hood_table_finds_what_it_holds_and_forgets_by_tag():
    rng = np.random.default_rng(7)
    his = rng.integers(1, 2**63, 3000, dtype=np.uint64) | np.uint64(1)
    los = rng.integers(0, 2**63, 3000, dtype=np.uint64) & k.KEY
    tags = np.array([n % 3 + 10 for n in range(3000)], np.uint64)
    hi = np.zeros(3500, np.uint64)
    lo = np.zeros(3500, np.uint64)
    assert k.insert(hi, lo, his, los, tags) == 3000
    assert (k.lookup(hi, lo, his, los, 10) == tags.astype(np.int64)).all()
    assert k.sweep(hi, lo, 11) == 1000  # tag 10 left
    found = k.lookup(hi, lo, his, los, 11)
    assert ((found == -1) == (tags == 10)).all()
    assert (found[tags != 10] == tags[tags != 10].astype(np.int64)).all()
