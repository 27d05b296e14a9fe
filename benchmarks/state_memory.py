"""Memory per position, measured (docs/performance.md has the figures).

Builds N positions the way the engine does (distinct sku strings per location, as decoded
events leave them; realistic quantities and ``as_of`` instants) through the engine's own rules,
then reports what Python allocated for them (``tracemalloc``: objects, ints, key strings and
dict slots; the dedup memory of the events is dropped first) and the pickled size of a book
(what a snapshot writes).

    python -m benchmarks.state_memory [--positions 1000000] [--locations 100]
"""

from __future__ import annotations

import argparse
import gc
import pickle
import random
import tracemalloc

from engine.book import Book
from engine.dedup import Seen
from engine.events import parse
from engine.outputs import Rejected
from engine.rules import apply

T0 = 1_795_000_000_000


def build(positions: int, locations: int, seed: int) -> dict[str, Book]:
    rng = random.Random(seed)
    per_location = positions // locations
    books: dict[str, Book] = {}
    n = 0
    for loc in range(locations):
        location_id = f"S{loc:04d}"
        book = books[location_id] = Book(location_id)
        for k in range(per_location):
            n += 1
            line = (
                b'{"event_id":"e%d","type":"receipt","location_id":"%s","sku":"SKU-%06d",'
                b'"ts":%d,"qty":%d}'
                % (n, location_id.encode(), k, T0 + n * 37, rng.randint(1, 400))
            )
            event = parse(line)
            assert not isinstance(event, Rejected), event  # a well-formed receipt
            apply(book, event)
        book.seen = Seen(book.config.dedup_window_ms)  # dedup memory: benchmarks.dedup_memory
    return books


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--locations", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    build(20_000, 2, args.seed)  # warm up: numba's typing of the dedup kernels, parse caches
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    books = build(args.positions, args.locations, args.seed)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    count = sum(len(b.positions) for b in books.values())
    if count != args.positions // args.locations * args.locations:
        raise SystemExit(f"built {count} positions")
    per = (after - before) / count
    one = next(iter(books.values()))
    pickled = len(pickle.dumps(one, protocol=pickle.HIGHEST_PROTOCOL)) / len(one.positions)
    print(f"positions                 {count:>12,}")
    print(f"memory per position       {per:>12,.0f} bytes (target < 400)")
    print(f"total                     {(after - before) / 2**20:>12,.0f} MiB")
    print(f"5 million positions       {per * 5e6 / 2**30:>12,.2f} GiB")
    print(f"pickled per position      {pickled:>12,.0f} bytes (a book's snapshot)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
