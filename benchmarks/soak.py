"""Soak: minutes of mixed load on the embedded API, its memory sampled, the slope printed.

Starts ``omnistock serve`` (embedded: the dataflow in its process) on a free port and drives it
for ``--minutes`` with a steady mix: sales and receipts through ``POST /v1/events`` (batches of
50, a fresh ``event_id`` each, so every one is remembered for the dedup window), reservations
that are then released, fulfilled or left to expire (a 30 s ttl), and reads of
``GET /v1/atp``. Every ``--sample-s`` it prints the server's resident memory (VmRSS) and how many
events it has taken; at the end, the slope of memory over the samples after the first
``--warmup-s`` (least squares), in MB per minute and in bytes per event taken.

Memory may grow only by what the contract asks to remember: each applied ``event_id`` for the
dedup window (7 days of event time) and each ended reservation for as long (docs/events.md §6,
§8.6). docs/performance.md holds the measured slope beside that bound.

    python -m benchmarks.soak [--minutes 5] [--rate 200] [--sample-s 30] [--warmup-s 60]

``--rate`` is events per second through ``POST /v1/events``; reservations run at a tenth of it
and reads at half.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.api_server import served

LOCATIONS = [f"S{n:03d}" for n in range(20)]
SKUS = [f"SKU{n:05d}" for n in range(500)]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB (``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def slope(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(x, y)`` samples (0 with fewer than two)."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_x = sum(x for x, _ in samples) / n
    mean_y = sum(y for _, y in samples) / n
    spread = sum((x - mean_x) ** 2 for x, _ in samples)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in samples) / spread


def _event(kind: str, number: int, rng: random.Random, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": f"soak-{kind}-{number}",
        "type": kind,
        "location_id": rng.choice(LOCATIONS),
        "sku": rng.choice(SKUS),
        "ts": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        **fields,
    }


async def _events(client: httpx.AsyncClient, rate: float, until: float, taken: list[int]) -> None:
    rng = random.Random(1)
    numbers = itertools.count()
    while time.monotonic() < until:
        batch = [
            _event("receipt", next(numbers), rng, qty=5)
            if rng.random() < 0.4
            else _event("sale", next(numbers), rng, qty=1)
            for _ in range(50)
        ]
        answer = await client.post("/v1/events", content=orjson.dumps(batch))
        taken[0] += answer.json().get("accepted", 0)
        await asyncio.sleep(50 / rate)


async def _reservations(client: httpx.AsyncClient, rate: float, until: float) -> None:
    rng = random.Random(2)
    for number in itertools.count():
        if time.monotonic() >= until:
            return
        rid = f"soak-r{number}"
        body = {
            "reservation_id": rid,
            "location_id": rng.choice(LOCATIONS),
            "sku": rng.choice(SKUS),
            "qty": 1,
            "ttl_s": 30,
        }
        made = await client.post("/v1/reservations", content=orjson.dumps(body))
        if made.status_code == 201:
            end = rng.random()
            if end < 0.4:
                await client.delete(f"/v1/reservations/{rid}")
            elif end < 0.8:
                await client.post(f"/v1/reservations/{rid}/fulfil", content=b"{}")
        await asyncio.sleep(1 / rate)


async def _reads(client: httpx.AsyncClient, rate: float, until: float) -> None:
    rng = random.Random(3)
    while time.monotonic() < until:
        await client.get(f"/v1/atp/{rng.choice(LOCATIONS)}/{rng.choice(SKUS)}")
        await asyncio.sleep(1 / rate)


async def _sampler(
    pid: int, every_s: float, until: float, taken: list[int], samples: list[dict[str, Any]]
) -> None:
    start = time.monotonic()
    while True:
        sample = {
            "t_s": round(time.monotonic() - start, 1),
            "rss_mb": round(rss_mb(pid), 1),
            "events": taken[0],
        }
        samples.append(sample)
        print(orjson.dumps(sample).decode(), flush=True)
        if time.monotonic() + every_s > until:
            return
        await asyncio.sleep(every_s)


async def _drive(url: str, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    until = time.monotonic() + args.minutes * 60
    taken = [0]
    samples: list[dict[str, Any]] = []
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        await asyncio.gather(
            _events(client, args.rate, until, taken),
            _reservations(client, args.rate / 10, until),
            _reads(client, args.rate / 2, until),
            _sampler(pid, args.sample_s, until, taken, samples),
        )
    steady = [s for s in samples if s["t_s"] >= args.warmup_s]
    per_s = slope([(s["t_s"], s["rss_mb"]) for s in steady])  # MB per second
    per_event = slope([(s["events"], s["rss_mb"] * 2**20) for s in steady])  # bytes per event
    return {
        "scenario": "soak (embedded API, mixed load)",
        "minutes": args.minutes,
        "events_per_s": args.rate,
        "events_taken": taken[0],
        "rss_first_mb": samples[0]["rss_mb"],
        "rss_last_mb": samples[-1]["rss_mb"],
        "slope_mb_per_min": round(per_s * 60, 3),
        "slope_bytes_per_event": round(per_event, 1),
        "steady_samples": len(steady),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="how long (default 5)")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s (default 200)")
    parser.add_argument("--sample-s", type=float, default=30.0, help="memory every (30 s)")
    parser.add_argument("--warmup-s", type=float, default=60.0, help="not in the slope (60 s)")
    args = parser.parse_args()
    with served() as where:
        assert where.server is not None
        result = asyncio.run(_drive(where.url, where.server.pid, args))
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
