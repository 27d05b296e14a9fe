"""Dedup memory per remembered event id, and what remembering costs, in one run.

Feeds N event ids to books' dedup memory (``engine.dedup.Seen``) exactly as the rules and the
batch paths do (a batch's ids looked up at its start, applied ids recorded in ``recent``,
moved into the table at the next batch), then reports what Python allocated for it
(``tracemalloc``, numpy's arrays included) per id remembered. Beside it, the same ids in the
structure the engine kept before (``dict`` of ``event_id -> ts``, each ``ts`` its own
datetime, as decoded events leave them): the "before" of docs/performance.md §8.

Then a steady state: ids arriving at a constant event-time rate for three windows, a window
being 16 buckets: the ids remembered (the window and at most one bucket more) and bytes per
remembered id, after each window. Every mode (replay, the dataflow, the embedded API) holds
its dedup memory in these objects.

    python -m benchmarks.dedup_memory [--ids 1000000] [--books 10] [--batch 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc
from datetime import datetime

from engine.dedup import Seen
from engine.timefmt import from_ms

T0 = 1_795_000_000_000
WINDOW_MS = 7 * 86_400_000


def ids_of(book: int, count: int) -> list[str]:
    """Realistic ids: 24 characters, unique per location."""
    return [f"evt-{book:04d}-{n:014d}" for n in range(count)]


def fill(seen: Seen, ids: list[str], start_ms: int, step_ms: int, batch: int) -> datetime:
    """Apply ``ids`` in batches the way ``engine.batch.fold_batch`` does: the batch's ids
    looked up at its start, then each recorded (``rules._apply``) as the clock moves."""
    watermark = from_ms(start_ms)
    ms = start_ms
    for first in range(0, len(ids), batch):
        chunk = ids[first : first + batch]
        seen.prefetch(chunk, watermark)  # type: ignore[arg-type]
        recent = seen.recent
        for key in chunk:
            ts = from_ms(ms)
            recent.setdefault(key, ms)
            if seen.count:
                seen.known(key, watermark)
            ms += step_ms
            watermark = ts
        seen.forget(watermark)
    seen.flush(watermark)
    return watermark


def measured(books: int, per_book: int, batch: int) -> tuple[float, float, float]:
    """Bytes per id of the new memory and the old dict, and ns per id of the new one."""
    ids = [ids_of(b, per_book) for b in range(books)]
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    seens = []
    for b in range(books):
        seen = Seen(WINDOW_MS)
        fill(seen, ids[b], T0, 10, batch)
        seens.append(seen)
    elapsed = time.perf_counter() - started
    gc.collect()
    new = tracemalloc.get_traced_memory()[0] - base
    if sum(len(seen) for seen in seens) != books * per_book:
        raise SystemExit("ids were lost")
    del seens
    gc.collect()
    base = tracemalloc.get_traced_memory()[0]
    # the old memory kept each event's id string alive: made anew here, so they count
    old = [
        {f"{key} "[:-1]: from_ms(T0 + 10 * n) for n, key in enumerate(ids[b])} for b in range(books)
    ]
    gc.collect()
    before = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del old
    count = books * per_book
    return new / count, before / count, elapsed / count * 1e9


def steady(batch: int) -> list[tuple[int, float]]:
    """Ids at a steady event-time rate over three windows of one book (a one-hour window):
    remembered ids and bytes per remembered id at the end of each window."""
    window_ms = 3_600_000
    per_window = 400_000
    step = window_ms // per_window
    out = []
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    seen = Seen(window_ms)
    for w in range(3):
        ids = [f"evt-{w}-{n:014d}" for n in range(per_window)]
        fill(seen, ids, T0 + w * window_ms, step, batch)
        del ids
        gc.collect()
        out.append((len(seen), (tracemalloc.get_traced_memory()[0] - base) / len(seen)))
    tracemalloc.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--books", type=int, default=10)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    fill(Seen(WINDOW_MS), ids_of(0, 1000), T0, 10, 100)  # compile the kernels first
    news, olds, costs = [], [], []
    for round_ in range(1, args.rounds + 1):
        new, old, ns = measured(args.books, args.ids // args.books, args.batch)
        news.append(new)
        olds.append(old)
        costs.append(ns)
        print(
            f"round {round_}: {new:6.1f} B an id (before: {old:6.1f} B, {old / new:4.1f} x), "
            f"{ns:5.0f} ns an id to remember and look up"
        )
    print(f"ids                       {args.ids:>12,} in {args.books} books")
    print(
        f"bytes per remembered id   {statistics.median(news):>12.1f} "
        f"(min {min(news):.1f}, max {max(news):.1f}; goal <= 24)"
    )
    print(
        f"before (dict of id -> ts) {statistics.median(olds):>12.1f} "
        f"(min {min(olds):.1f}, max {max(olds):.1f})"
    )
    print(f"ns per id                 {statistics.median(costs):>12.0f}")
    for n, (count, per) in enumerate(steady(args.batch), 1):
        print(f"steady state, window {n}:  {count:>10,} ids remembered, {per:5.1f} B an id")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
