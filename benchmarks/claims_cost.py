"""What the claims step costs (docs/performance.md §8; engine/claims.py, docs/events.md §8.7).

Builds N claims the way the dataflow holds them (one ``ClaimLogic`` per reservation id, each
with its ``Claim`` of a first outcome and the instant it is forgotten), reports what Python
allocated for them (``tracemalloc``) and what a snapshot pickles per claim, then times
``engine.batch.claim_batch`` per outcome: a first answer, a repeat at the claiming location,
and a loser's answer (a repeat and a revocation to encode).

    python -m benchmarks.claims_cost [--claims 200000]
"""

from __future__ import annotations

import argparse
import gc
import pickle
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from dataflows.flow import ClaimLogic
from engine.batch import claim_batch
from engine.outputs import ReservationChanged

WINDOW = timedelta(days=7)


def outcome(i: int, location: str = "S0001", status: str = "confirmed") -> ReservationChanged:
    at = datetime(2026, 11, 20, tzinfo=UTC) + timedelta(milliseconds=i)
    return ReservationChanged(
        f"cart-{i:09d}", location, f"SKU-{i % 20_000:06d}", status, 1, at + WINDOW, at, f"e{i}"
    )


def memory(claims: int) -> tuple[float, float]:
    """Bytes per claim held (its first outcome included: the claim keeps it alive), and
    pickled per claim."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    logics = []
    for i in range(claims):
        logic = ClaimLogic(None, WINDOW)
        logic.on_batch([[outcome(i)]])
        logics.append(logic)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    pickled = sum(len(pickle.dumps(logic.snapshot())) for logic in logics[:10_000])
    return held / claims, pickled / min(claims, 10_000)


def speed(outcomes: int) -> dict[str, float]:
    """Microseconds per outcome through ``claim_batch``."""
    cases: dict[str, float] = {}
    firsts = [[[outcome(i)]] for i in range(outcomes)]
    started = time.perf_counter()
    claims = [claim_batch(None, batch)[0] for batch in firsts]
    cases["first answer"] = (time.perf_counter() - started) / outcomes * 1e6
    again = [[[outcome(i, status="released")]] for i in range(outcomes)]
    started = time.perf_counter()
    for claim, batch in zip(claims, again, strict=True):
        claim_batch(claim, batch)
    cases["the claimer's later outcome"] = (time.perf_counter() - started) / outcomes * 1e6
    losers = [[[outcome(i, location="S0002")]] for i in range(outcomes)]
    started = time.perf_counter()
    for claim, batch in zip(claims, losers, strict=True):
        claim_batch(claim, batch)
    cases["a loser: repeat + revoke"] = (time.perf_counter() - started) / outcomes * 1e6
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=200_000)
    args = parser.parse_args()
    per_claim, pickled = memory(args.claims)
    print(f"claims held: {args.claims:,}")
    print(f"  memory per claim: {per_claim:,.0f} bytes (Bytewax's key not counted)")
    print(f"  snapshot per claim: {pickled:,.0f} bytes pickled")
    for case, micros in speed(min(args.claims, 100_000)).items():
        print(f"  claim_batch, {case}: {micros:.2f} us per outcome")


if __name__ == "__main__":
    main()
