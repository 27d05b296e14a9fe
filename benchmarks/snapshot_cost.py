"""What a snapshot of one big store costs per epoch, whole or pickled in sku shards.

Bytewax pickles the state of every key touched in an epoch, and a key is a location: its book.
Pickled whole, a store of 20,000 skus that sold one item re-pickles all 20,000 positions. With
``--sku-shards S`` (``EngineConfig.sku_shards``) the book pickles its positions in S shards and
re-pickles only those whose positions changed since the last snapshot, the others from their
cached bytes. This builds one such book for each S, then times real snapshots
(``pickle.dumps`` of the book, as Bytewax takes them) after epochs of 1, 10 and 100 sales,
median of ``--rounds``. ``--seen`` adds that many remembered event ids (a week of a store's
events), which are pickled whole at every snapshot.

    python -m benchmarks.snapshot_cost [--skus 20000] [--seen 0] [--rounds 15]
"""

from __future__ import annotations

import argparse
import pickle
import random
import statistics
import time

import msgspec

from benchmarks.state_memory import build
from engine.book import DEFAULT_CONFIG, Book
from engine.events import parse
from engine.rules import apply

T0 = 1_795_000_000_000


def book_of(skus: int, shards: int, seen: int) -> Book:
    book = next(iter(build(skus, 1, seed=5).values()))
    book.configure(msgspec.structs.replace(DEFAULT_CONFIG, sku_shards=shards))
    for n in range(seen):
        book.seen.recent[f"old-{n:09d}"] = T0 + 10**9 - n  # within the window
    book.seen.flush(book.watermark)  # into the table, as the next batch would
    return book


def epoch(book: Book, sales: int, rng: random.Random, made: list[int], skus: int) -> None:
    for _ in range(sales):
        made[0] += 1
        sku = rng.randrange(skus)
        raw = (
            b'{"event_id":"s%d","type":"sale","location_id":"%s","sku":"SKU-%06d","ts":%d,"qty":1}'
            % (made[0], book.location_id.encode(), sku, T0 + 10**9 + made[0])
        )
        apply(book, parse(raw))  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--seen", type=int, default=0, help="remembered event ids in the book")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)

    print(f"one book of {args.skus:,} positions, {args.seen:,} remembered event ids")
    print("--sku-shards   first snapshot        after 1 sale   after 10 sales  after 100 sales")
    whole: dict[int, float] = {}
    for shards in (1, 16, 256):
        book = book_of(args.skus, shards, args.seen)
        rng, made = random.Random(3), [0]
        started = time.perf_counter()
        first = pickle.dumps(book, pickle.HIGHEST_PROTOCOL)
        cells = [f"{(time.perf_counter() - started) * 1e3:7.2f} ms {len(first) / 1e6:5.2f} MB"]
        for sales in (1, 10, 100):
            times = []
            for _ in range(args.rounds):
                epoch(book, sales, rng, made, args.skus)
                started = time.perf_counter()
                pickle.dumps(book, pickle.HIGHEST_PROTOCOL)
                times.append(time.perf_counter() - started)
            median = statistics.median(times) * 1e3
            if shards == 1:
                whole[sales] = median
            cells.append(f"{median:7.2f} ms ({whole[sales] / median:5.1f} x)")
        print(f"{shards:>12}   " + "  ".join(cells))
    print("(x: how many times cheaper than the book pickled whole, same epoch)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
