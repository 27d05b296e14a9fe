"""What a snapshot costs per epoch, by the key the dataflow folds under.

Bytewax pickles the state of every key touched in an epoch. Keyed by location, a store of 20,000
skus that sold one item re-pickles all 20,000 positions; with ``--sku-shards S`` only the
touched shard (20,000 / S positions). This prints the pickle time and size of one book by its
number of positions, then the snapshot work of an epoch in which ``--touched`` positions
(spread over the stores by a Zipf-like popularity) changed, for 1 and for S shards.

    python -m benchmarks.snapshot_cost [--stores 500] [--skus 20000] [--touched 50000]
"""

from __future__ import annotations

import argparse
import pickle
import random
import time
from zlib import crc32

from benchmarks.state_memory import build


def pickle_us(positions: int) -> tuple[float, int]:
    book = next(iter(build(positions, 1, seed=5).values()))
    rounds = max(3, 200_000 // positions)
    started = time.perf_counter()
    for _ in range(rounds):
        size = len(pickle.dumps(book, protocol=pickle.HIGHEST_PROTOCOL))
    return (time.perf_counter() - started) / rounds * 1e6, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=500)
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--touched", type=int, default=50_000, help="positions changed per epoch")
    parser.add_argument("--shards", type=int, default=16)
    args = parser.parse_args(argv)

    print("positions in one book   pickle      size")
    per_position = 0.0
    for positions in (100, 1_000, 20_000):
        micros, size = pickle_us(positions)
        per_position = micros / positions
        print(f"{positions:>20,} {micros / 1000:>7.2f} ms {size / 1e6:>7.2f} MB")

    rng = random.Random(1)
    weights = [1 / (rank + 1) for rank in range(args.skus)]
    for touched in (args.touched // 10, args.touched):
        skus = rng.choices(range(args.skus), weights, k=touched)
        stores = rng.choices(range(args.stores), k=touched)
        for shards in (1, args.shards, args.shards * 16):
            keys = {
                (store, crc32(b"SKU-%06d" % sku) % shards)
                for store, sku in zip(stores, skus, strict=True)
            }
            pickled = len(keys) * args.skus / shards
            print(
                f"{touched:>7,} changes an epoch, --sku-shards {shards:<5}: {len(keys):>7,} books, "
                f"{pickled:>11,.0f} positions pickled, ~{pickled * per_position / 1e6:5.2f} s"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
