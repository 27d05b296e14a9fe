"""The promise table's byte kernels (``table_kernels.rows_of``, ``gather``) against their
plain-Python twins: distinct rows told apart exactly, a digest per sku that changes with its
rows, and entries assembled byte for byte as a ``join`` would."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engine.promise import table_kernels as tk

# Few distinct values, so that rows (and skus) repeat often.
ROWS = st.tuples(st.integers(1, 6), st.integers(0, 5), st.integers(0, 4)).flatmap(
    lambda shape: hnp.arrays(np.int64, shape, elements=st.integers(-1, 2))
)


def twin_rows_of(rows: np.ndarray) -> tuple[list[list[int]], list[int]]:
    """Distinct rows in order of first appearance, as a dict does it."""
    seen: dict[bytes, int] = {}
    first: list[int] = []
    ids = []
    for s in range(rows.shape[0]):
        mine = []
        for r in range(rows.shape[1]):
            key = rows[s, r].tobytes()
            if key not in seen:
                seen[key] = len(first)
                first.append(s * rows.shape[1] + r)
            mine.append(seen[key])
        ids.append(mine)
    return ids, first


@settings(max_examples=300, deadline=None)
@given(ROWS)
def test_distinct_rows_are_told_apart_exactly_and_skus_digested_by_their_rows(rows):
    ids, first, digest = tk.rows_of(rows)
    want_ids, want_first = twin_rows_of(rows)
    assert ids.tolist() == want_ids and first.tolist() == want_first
    for a in range(rows.shape[0]):
        for b in range(rows.shape[0]):
            same = rows[a].tobytes() == rows[b].tobytes()
            assert (digest[a].tobytes() == digest[b].tobytes()) == same


def test_a_digest_is_the_same_in_every_process():
    """A recovered book compares its digests with a new process's: the hash is fixed (a
    change republishes every entry once after an upgrade; this says so)."""
    rows = np.arange(27, dtype=np.int64).reshape(1, 3, 9)
    assert tk.rows_of(rows)[2][0].tobytes().hex() == "ca012331236d260573bf7bc6ff4552b6"


def test_one_changed_word_anywhere_changes_the_digest():
    base = np.zeros((1, 100, 9), dtype=np.int64)
    seen = {tk.rows_of(base)[2][0].tobytes()}
    for r in range(100):
        for w in range(9):
            changed = base.copy()
            changed[0, r, w] = 1
            seen.add(tk.rows_of(changed)[2][0].tobytes())
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
