"""The promise table's rows (``table_rows.Rows`` over ``table_kernels.intern``, ``rehash``,
``gather``) against plain-Python twins: rows told apart exactly across calls, a digest per
sku that changes with its rows, and entries assembled byte for byte as a ``join`` would."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engine.promise import table_kernels as tk
from engine.promise.table_rows import Rows

# Few distinct values, so that rows (and skus) repeat often; up to 300 rows a call, so that a
# registry grows past its first 1,024 rows over a few calls.
ROWS_OF_9 = st.tuples(st.integers(1, 12), st.integers(0, 25)).flatmap(
    lambda shape: hnp.arrays(np.int64, (*shape, 9), elements=st.integers(-1, 2))
)


def digest_of(rows: np.ndarray) -> np.ndarray:
    return Rows(rows.shape[2]).intern(rows, lambda key: b"{}")[1]


@settings(max_examples=300, deadline=None)
@given(st.lists(ROWS_OF_9, min_size=1, max_size=4))
def test_rows_are_told_apart_exactly_across_calls_and_skus_digested_by_their_rows(calls):
    """One registry over several makes (it grows and rehashes on the way): a row has one id
    for good, its JSON is made once, and equal skus have equal digests, others not."""
    registry, seen, made = Rows(9), dict[bytes, int](), list[bytes]()

    def row_json(key: bytes) -> bytes:
        made.append(key)
        return key.hex().encode()

    for rows in calls:
        ids, digest = registry.intern(rows, row_json)
        for s in range(rows.shape[0]):
            for r in range(rows.shape[1]):
                assert seen.setdefault(rows[s, r].tobytes(), ids[s, r]) == ids[s, r]
        for a in range(rows.shape[0]):
            for b in range(rows.shape[0]):
                same = rows[a].tobytes() == rows[b].tobytes()
                assert (digest[a].tobytes() == digest[b].tobytes()) == same
    assert sorted(made) == sorted(seen) and len(made) == len(set(made)) == registry.count
    pool = registry.pool.tobytes()
    for key, i in seen.items():  # each id's JSON is its row's
        assert pool[registry.pool_off[i] : registry.pool_off[i + 1]] == key.hex().encode()


def test_a_digest_is_the_same_in_every_process():
    """A recovered book compares its digests with a new process's: the hash is fixed (a
    change republishes every entry once after an upgrade; this says so)."""
    rows = np.arange(27, dtype=np.int64).reshape(1, 3, 9)
    assert digest_of(rows)[0].tobytes().hex() == "ca012331236d260573bf7bc6ff4552b6"


def test_one_changed_word_anywhere_changes_the_digest():
    base = np.zeros((1, 100, 9), dtype=np.int64)
    seen = {digest_of(base)[0].tobytes()}
    for r in range(100):
        for w in range(9):
            changed = base.copy()
            changed[0, r, w] = 1
            seen.add(digest_of(changed)[0].tobytes())
    assert len(seen) == 1 + 100 * 9


def packed(pieces: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    off = np.zeros(len(pieces) + 1, dtype=np.int64)
    off[1:] = np.cumsum([len(p) for p in pieces])
    return np.frombuffer(b"".join(pieces) or b"\0", dtype=np.uint8)[: off[-1]], off


PIECES = st.lists(st.binary(min_size=0, max_size=12), min_size=1, max_size=5)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_gather_assembles_each_entry_as_a_join_would(data):
    rows = data.draw(PIECES)
    regions = data.draw(st.lists(st.binary(min_size=1, max_size=6), min_size=0, max_size=4))
    skus = data.draw(st.integers(1, 4))
    ids = np.array(
        [[data.draw(st.integers(0, len(rows) - 1)) for _ in regions] for _ in range(skus)],
        dtype=np.int64,
    ).reshape(skus, len(regions))
    heads = [data.draw(st.binary(min_size=1, max_size=8)) for _ in range(skus)]
    want = [
        head + b"{" + b",".join(p + rows[u] for p, u in zip(regions, ids[s], strict=True)) + b"}}"
        for s, head in enumerate(heads)
    ]
    out = np.zeros(sum(map(len, want)) + 7, dtype=np.uint8)
    pool, pool_off = packed(rows)
    prefix, prefix_off = packed(regions or [b""])
    head, head_off = packed(heads)
    ends = tk.gather(
        out, ids, pool, pool_off, prefix, prefix_off[: len(regions) + 1], head, head_off
    )
    got, at = [], 0
    for end in ends.tolist():
        got.append(out[at:end].tobytes())
        at = end
    assert got == want


def test_a_registry_grows_and_keeps_every_id():
    registry = Rows(9)
    rows = np.arange(3 * 2000 * 9, dtype=np.int64).reshape(3, 2000, 9)
    first, _ = registry.intern(rows[:1], lambda key: b"x")
    later, _ = registry.intern(rows, lambda key: b"y")  # 2,000 known, 4,000 new: it grows
    assert registry.count == 6000 and registry.keys.shape[0] >= 6000
    assert (later[0] == first[0]).all() and len(set(later.ravel().tolist())) == 6000
