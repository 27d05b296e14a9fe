"""What the claims step costs (docs/performance.md §8; engine/claims.py, docs/events.md §8.7).

Builds N claims the way the dataflow holds them (a bucket's ``engine.claims.Claims``, each
claim with its first outcome), reports what Python allocated for them (``tracemalloc``) and
what a snapshot of the bucket pickles per claim, then times ``engine.batch.claim_batch`` per
outcome: a first answer, the claiming location's later outcome, and a loser's answer (a repeat
and a revocation to encode).

    python -m benchmarks.claims_cost [--claims 200000]
"""

from __future__ import annotations

import argparse
import gc
import pickle
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from engine.batch import claim_batch
from engine.claims import Claims
from engine.outputs import ReservationChanged

WINDOW = timedelta(days=7)


def outcome(i: int, location: str = "S0001", status: str = "confirmed") -> ReservationChanged:
    at = datetime(2026, 11, 20, tzinfo=UTC) + timedelta(milliseconds=i)
    return ReservationChanged(
        f"cart-{i:09d}", location, f"SKU-{i % 20_000:06d}", status, 1, at + WINDOW, at, f"e{i}"
    )


def memory(claims: int) -> tuple[float, float]:
    """Bytes per claim held in one bucket (its first outcome included: the claim keeps it
    alive), and pickled per claim (what a snapshot of the bucket writes)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    bucket = Claims(WINDOW)
    for i in range(claims):
        claim_batch(bucket, [[outcome(i)]])
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return held / claims, len(pickle.dumps(bucket)) / claims


def speed(outcomes: int) -> dict[str, float]:
    """Microseconds per outcome through ``claim_batch``, in batches of 100."""
    cases: dict[str, float] = {}
    bucket = Claims(WINDOW)

    def timed(case: str, made: list[ReservationChanged]) -> None:
        batches = [[made[i : i + 100]] for i in range(0, len(made), 100)]
        started = time.perf_counter()
        for batch in batches:
            claim_batch(bucket, batch)
        cases[case] = (time.perf_counter() - started) / len(made) * 1e6

    timed("first answer", [outcome(i) for i in range(outcomes)])
    timed("the claimer's later outcome", [outcome(i, status="released") for i in range(outcomes)])
    timed("a loser: repeat + revoke", [outcome(i, "S0002") for i in range(outcomes)])
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=200_000)
    args = parser.parse_args()
    per_claim, pickled = memory(args.claims)
    print(f"claims held: {args.claims:,}")
    print(f"  memory per claim: {per_claim:,.0f} bytes")
    print(f"  snapshot per claim: {pickled:,.0f} bytes pickled")
    for case, micros in speed(min(args.claims, 100_000)).items():
        print(f"  claim_batch, {case}: {micros:.2f} us per outcome")


if __name__ == "__main__":
    main()
