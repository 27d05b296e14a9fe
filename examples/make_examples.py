"""Regenerate ``examples/events.jsonl``: a small, readable event log made by the workload generator.

Three stores and one DC, eight skus with readable names, 300 lines over about 50 minutes of
20 November 2026 (RFC 3339 times), every event type at least once, one exact duplicate line and
three malformed ones. Run ``python examples/make_examples.py``; the output is byte-for-byte the
same every time.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workload import (  # noqa: E402
    DEFAULT_MIX,
    Catalogue,
    WorkloadParams,
    generate,
    write_log,
)

CATALOGUE = Catalogue(
    stores=("S001", "S002", "S003"),
    dcs=("DC01",),
    skus=(
        "TSHIRT-M-BLU",
        "TSHIRT-L-BLK",
        "JEANS-32-IND",
        "MUG-WHT",
        "CANDLE-VAN",
        "SNEAKER-42-WHT",
        "BACKPACK-GRY",
        "SOCKS-3PK",
    ),
)
# The rare types get more weight so that a short log still shows each of them.
MIX = tuple((t, max(w, 0.02)) for t, w in DEFAULT_MIX)
EVENTS = 300


def params(seed: int) -> WorkloadParams:
    return WorkloadParams(
        events=EVENTS,
        stores=3,
        dcs=1,
        skus=8,
        seed=seed,
        start_ms=1_795_183_200_000,  # 2026-11-20T14:00:00Z
        events_per_s=0.1,
        dup_rate=1 / EVENTS,
        bad_rate=3 / EVENTS,
        ts_format="rfc3339",
        mix=MIX,
    )


def shows_every_type(seed: int) -> bool:
    text = b"\n".join(generate(params(seed), CATALOGUE))
    return all(f'"type":"{t}"'.encode() in text for t, _ in DEFAULT_MIX)


def write_example(path: Path = ROOT / "examples" / "events.jsonl") -> int:
    """Write the example log to ``path``; returns its number of lines."""
    seed = next(s for s in range(1, 1000) if shows_every_type(s))  # the first seed that does
    return write_log(path, params(seed), CATALOGUE)


def main() -> int:
    print(f"wrote {write_example()} lines to examples/events.jsonl")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
