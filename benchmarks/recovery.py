"""Recovery: time from restarting ``omnistock run`` after a ``kill -9`` to serving again.

On a real broker (``OMNISTOCK_BOOTSTRAP``, else ``docker/kafka-local.sh``):

1. Receipts for ``--locations`` x ``--skus`` positions (1,000,000 by default) are produced and
   folded by ``omnistock run --recovery-dir``; the run is given two snapshot intervals after the
   last position shows on ``omnistock.atp``, then killed with SIGKILL.
2. It is started again on the same recovery directory; the clock runs from the start of the
   process to the moment a new event's position shows on ``omnistock.atp``: loading the
   snapshots, rewinding the source, replaying what followed the last snapshot, and the new event.

Also prints the size of the recovery store and the first run's rate with snapshots on.

    python -m benchmarks.recovery [--locations 500] [--skus 2000]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
from confluent_kafka import Consumer, Producer

from benchmarks.kafka_io import (
    PARTITIONS,
    broker,
    consumer,
    markers,
    produce,
    run_topics,
    wait_for_keys,
)
from dataflows.kafka import PRODUCER_DEFAULTS, Topics, ensure_topics

SNAPSHOT_S = 5.0


def receipts(locations: int, skus: int, start_ms: int) -> list[bytes]:
    return [
        orjson.dumps(
            {
                "event_id": f"r{loc}-{sku}",
                "type": "receipt",
                "location_id": f"L{loc:04d}",
                "sku": f"SKU-{sku:06d}",
                "ts": start_ms + sku,
                "qty": 1 + (loc * 7 + sku) % 50,
            }
        )
        for loc in range(locations)
        for sku in range(skus)
    ]


def start(bootstrap: str, topics: Topics, recovery: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "omnistock.cli", "run", "--bootstrap", bootstrap),
            *("--topic-prefix", topics.prefix, "--recovery-dir", str(recovery)),
            *("--snapshot-s", str(SNAPSHOT_S)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def check_state(bootstrap: str, topics: Topics, atp: Consumer) -> None:
    """One more unit at the first position: its on_hand must be the folded figure plus one."""
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
    body = {"event_id": "check", "type": "receipt", "location_id": "L0000", "sku": "SKU-000000"}
    producer.produce(
        topics.events, orjson.dumps({**body, "ts": int(time.time() * 1000), "qty": 1}), b"L0000"
    )
    producer.flush(30)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for message in atp.consume(1000, timeout=0.2):
            if message.error() is None and message.key() == b"L0000:SKU-000000":
                on_hand = orjson.loads(message.value() or b"{}").get("on_hand")
                if on_hand != 2:  # 1 received before the kill, 1 now
                    raise SystemExit(f"recovered state is wrong: on_hand {on_hand}, expected 2")
                return
    raise SystemExit("the check event never showed on the atp topic")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=500)
    parser.add_argument("--skus", type=int, default=2000)
    args = parser.parse_args(argv)
    positions = args.locations * args.skus

    bootstrap = broker()
    topics = run_topics("recov")
    ensure_topics(bootstrap, topics, PARTITIONS)
    print(f"producing {positions:,} receipts...", flush=True)
    produce(bootstrap, topics.events, receipts(args.locations, args.skus, int(time.time() * 1000)))
    loaded = markers(bootstrap, topics.events, "loaded")
    atp = consumer(bootstrap, topics.atp, PARTITIONS)
    with tempfile.TemporaryDirectory(prefix="omnistock-recovery-") as folder:
        recovery = Path(folder)
        began = time.perf_counter()
        flow = start(bootstrap, topics, recovery)
        try:
            done = max(wait_for_keys(atp, loaded, 1800).values())
            print(
                f"first run: {positions:,} positions folded at "
                f"{positions / (done - began):,.0f} events/s with snapshots every {SNAPSHOT_S:g} s",
                flush=True,
            )
            time.sleep(2 * SNAPSHOT_S + 1)  # the last positions are in a snapshot
        finally:
            os.killpg(flow.pid, signal.SIGKILL)
            flow.wait(30)
        size = sum(path.stat().st_size for path in recovery.rglob("*") if path.is_file())
        print(f"recovery store: {size / 1e6:,.1f} MB ({size / positions:,.0f} bytes/position)")

        atp.consume(1_000_000, timeout=2.0)  # what came before the restart
        began = time.perf_counter()
        flow = start(bootstrap, topics, recovery)
        try:
            after = markers(bootstrap, topics.events, "after")
            back = max(wait_for_keys(atp, after, 600).values())
            check_state(bootstrap, topics, atp)
        finally:
            os.killpg(flow.pid, signal.SIGTERM)
            flow.wait(30)
            atp.close()
    print(
        f"recovery after kill -9 with {positions:,} positions in state: "
        f"{back - began:.1f} s from process start to a new event's position (target < 30 s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
