"""What a cart decision costs the rules (docs/performance.md §15; engine/carts.py, docs/events.md
§12).

Builds one location's book with realistic stock (``--skus`` positions, 20 to 200 units each,
and ``--holds`` standing one-sku reservations of a day, so the location's expiry heap is not
empty), then times ``engine.rules.apply`` of a ``reserve`` with lines (a cart of 2, 10 and 100
lines, every line confirmed) followed by the ``release`` that ends it, so that the book stays
as it was from one cart to the next. A one-sku ``reserve`` and its ``release`` are timed the
same way in the same run, interleaved round by round, as the baseline. Events are parsed
before the clock starts: only the rules are timed.

Prints, per case, microseconds per cart (reserve + release) as min/median/max over the rounds,
the median per line, and the ratio of the medians against the one-sku reserve.

    python -m benchmarks.cart_decision [--rounds 7] [--skus 20000] [--holds 2000]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from typing import Any

import orjson

from engine.book import Book, EngineConfig
from engine.events import parse
from engine.outputs import Rejected
from engine.rules import apply

T0 = 1_795_000_000_000  # 2026-11-18T10:06:40Z
LOCATION = "S0001"
SIZES = (2, 10, 100)
# carts per round for each size: about the same number of lines each round
CARTS = {1: 20_000, 2: 10_000, 10: 2_000, 100: 200}


def sku(i: int) -> str:
    return f"SKU-{i:06d}"


def stocked_book(skus: int, holds: int) -> Book:
    """The book of one location: every sku received (20-200 units), ``holds`` standing
    one-sku reservations that outlive the run."""
    book = Book(LOCATION, EngineConfig())
    for i in range(skus):
        qty = 20 + (i * 37) % 181
        receipt: dict[str, Any] = {"event_id": f"r{i}", "type": "receipt"}
        receipt["location_id"] = LOCATION
        receipt |= {"sku": sku(i), "ts": T0, "qty": qty}
        apply(book, event(receipt))
    for i in range(holds):
        hold: dict[str, Any] = {"event_id": f"h{i}", "type": "reserve", "location_id": LOCATION}
        hold |= {"sku": sku(i * 7 % skus), "ts": T0, "qty": 1, "ttl_s": 86_400}
        hold["reservation_id"] = f"hold-{i}"
        apply(book, event(hold))
    return book


def event(body: dict[str, Any]) -> Any:
    """A parsed event (an impossible one stops the run)."""
    parsed = parse(orjson.dumps(body))
    if isinstance(parsed, Rejected):
        raise SystemExit(f"{body}: {parsed.reason}")
    return parsed


class Clock:
    """Event times and ids that only move forward across rounds and cases (no duplicate)."""

    def __init__(self) -> None:
        self.ms = T0 + 1000
        self.n = 0

    def next(self) -> tuple[int, str]:
        self.ms += 1
        self.n += 1
        return self.ms, f"{self.n}"


def pairs_of(clock: Clock, lines: int, count: int, skus: int) -> list[tuple[Any, Any]]:
    """``count`` (reserve, release) pairs, parsed: a cart of ``lines`` lines (distinct skus,
    1 or 2 units each, spread over the catalogue), or one sku for ``lines == 1``."""
    pairs = []
    for c in range(count):
        ts, n = clock.next()
        first = (c * 101 * lines) % skus
        reserve: dict[str, Any] = {"event_id": f"c{n}", "type": "reserve", "ts": ts}
        reserve |= {"location_id": LOCATION, "reservation_id": f"cart-{n}", "ttl_s": 900}
        if lines == 1:
            reserve |= {"sku": sku(first), "qty": 1}
        else:
            reserve["lines"] = [
                {"sku": sku((first + j * 13) % skus), "qty": 1 + j % 2} for j in range(lines)
            ]
        release: dict[str, Any] = {
            "event_id": f"x{n}",
            "type": "release",
            "ts": ts,
            "location_id": LOCATION,
        }
        release["reservation_id"] = f"cart-{n}"
        pairs.append((event(reserve), event(release)))
    return pairs


def timed(book: Book, pairs: list[tuple[Any, Any]]) -> float:
    """Microseconds per (reserve, release) pair; checks each cart was held whole."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        for reserve, release in pairs:
            apply(book, reserve)
            apply(book, release)
        elapsed = time.perf_counter() - started
    finally:
        gc.enable()
    last = book.reservations[pairs[-1][0].reservation_id]
    if last.first_status != "confirmed" or last.status != "released":
        raise SystemExit(f"a cart was not held whole: {last.first_status} then {last.status}")
    return elapsed / len(pairs) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--holds", type=int, default=2_000)
    args = parser.parse_args()
    book = stocked_book(args.skus, args.holds)
    clock = Clock()
    cases = (1, *SIZES)
    # one warm-up round, not counted
    for lines in cases:
        timed(book, pairs_of(clock, lines, CARTS[lines] // 10, args.skus))
    micros: dict[int, list[float]] = {lines: [] for lines in cases}
    for _ in range(args.rounds):
        for lines in cases:
            micros[lines].append(timed(book, pairs_of(clock, lines, CARTS[lines], args.skus)))
    base = statistics.median(micros[1])
    print(
        f"one location: {args.skus:,} skus stocked, {args.holds:,} standing holds; "
        f"{args.rounds} rounds; a decision = apply(reserve) + apply(release)"
    )
    for lines in cases:
        found = micros[lines]
        median = statistics.median(found)
        name = "one sku" if lines == 1 else f"cart of {lines} lines"
        print(
            f"  {name:>18}: {median:8.2f} us per cart (min {min(found):.2f}, max "
            f"{max(found):.2f}), {median / lines:6.2f} us per line, {median / base:6.2f} x one sku"
        )


if __name__ == "__main__":
    main()
