"""Ingest: events/s from ``omnistock.events`` to ``omnistock.atp``, lag and freshness.

In one run, on a real broker (``OMNISTOCK_BOOTSTRAP``, else ``docker/kafka-local.sh``), with
the workload on the built-in network (``workload.network_workload``: 50 stores in
real cities, traffic by city population, the daily curve):

1. The ceiling: a bare confluent-kafka consumer that only reads and parses (``orjson.loads``)
   the same messages, once they are all on the topic and before the flow starts (nothing else
   runs then), clocked from its first message.
2. Throughput: a first marker event on every partition, the log, and a last marker on every
   partition are produced before ``omnistock run`` (1 worker) starts, so the producer does not
   share the two cores with it. The clock runs from the first markers showing on
   ``omnistock.atp`` (the flow is up) to the last ones (the probes, 0.4 % more messages, are
   not counted).
3. Source lag over time (``benchmarks/ingest_lag.py``): messages on the events topic not yet
   reflected on the atp topic, from probes among the messages, sampled every 0.25 s while the
   flow drains the backlog (``series.lag``) and while events arrive at the freshness rate
   (``series.lag_steady``; its peak is ``max_lag_events``).
4. Freshness (``benchmarks/freshness.py``): events produced at a steady rate, each stamped with
   its wall-clock ``ts``; for every position on ``omnistock.atp``, the time from that ``ts`` to
   its arrival, p50 and p99.
5. The flash sale (``benchmarks/flash_sale.py``) and its oversell audit.

    python -m benchmarks.ingest [--events 200000] [--rate 20000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from typing import Any

from confluent_kafka import Producer

from benchmarks.flash_sale import flash_sale
from benchmarks.freshness import freshness, probe_every
from benchmarks.ingest_lag import LagTracker
from benchmarks.kafka_io import (
    PARTITIONS,
    broker,
    ceiling,
    consumer,
    markers,
    produce,
    run_topics,
    start_flow,
    wait_for_keys,
)
from dataflows.kafka import ensure_topics
from workload import WorkloadParams, describe, generate, network_workload


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(
    bootstrap: str,
    events: int = 200_000,
    rate: int = 20_000,
    seconds: float = 10.0,
    stores: int = 50,
    skus: int = 20_000,
) -> dict[str, Any]:
    """Ceiling, throughput, source lag, freshness and the flash-sale audit, against one
    ``omnistock run``; the log is the workload on the built-in network (``stores``, ``skus``)."""
    topics = run_topics()
    ensure_topics(bootstrap, topics, PARTITIONS)
    start_ms = int(time.time() * 1000) + 3_600_000
    params = WorkloadParams(events=events, seed=3, start_ms=start_ms)
    params, catalogue = network_workload(params, stores=stores, skus=skus)
    lines = list(generate(params, catalogue))
    tracker = LagTracker(bootstrap, topics.events, PARTITIONS)
    warm = markers(bootstrap, topics.events, "warm")
    produce(bootstrap, topics.events, lines, tracker)
    end = markers(bootstrap, topics.events, "end")
    producer = Producer({"bootstrap.servers": bootstrap})
    last = tracker.probe(producer)  # after the end markers: the lag then drains to 0
    producer.flush(30)
    # The ceiling reads the same log before the flow starts: nothing else runs then.
    top = ceiling(bootstrap, topics.events, events)
    flow = start_flow(bootstrap, topics.prefix)
    atp = consumer(bootstrap, topics.atp, PARTITIONS)
    try:
        progress: list[tuple[float, int]] = []
        seen_at = wait_for_keys(atp, warm | end | last, 600, progress, tracker.observe)
        tracker.sample()
        started = max(seen_at[key] for key in warm)  # the flow is up and reading
        finished = max(seen_at[key] for key in end)
        progress = [(at - started, count) for at, count in progress if at >= started]
        backlog = tracker.series(started)
        through = events / (finished - started)
        lags, when, steady = freshness(bootstrap, topics, atp, rate, seconds, tracker)
        audit = flash_sale(bootstrap, topics)
    finally:
        atp.close()
        tracker.close()
        os.killpg(flow.pid, signal.SIGTERM)
        flow.wait(30)
    return {
        "events_per_s": through,
        "ceiling_per_s": top,
        "ratio": through / top,
        "events": events,
        "freshness_rate": rate,
        "freshness_p50_ms": percentile(lags, 0.5),
        "freshness_p99_ms": percentile(lags, 0.99),
        "freshness_p999_ms": percentile(lags, 0.999),
        "freshness_samples": len(lags),
        "max_lag_events": max((lag for _, lag, _ in steady), default=0),
        "lag_probe_every": tracker.every,
        "lag_steady_probe_every": probe_every(rate),
        "series": {
            "progress": progress,
            "freshness": list(zip(when, lags, strict=True)),
            "lag": backlog,
            "lag_steady": steady,
        },
        "flash_sale": audit,
        "workload": describe(params),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=20_000, help="freshness: events/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="freshness: duration")
    args = parser.parse_args(argv)

    r = measure(broker(), args.events, args.rate, args.seconds)
    print(f"bare consumer + parse ceiling  {r['ceiling_per_s']:>10,.0f} events/s")
    print(
        f"dataflow, 1 worker             {r['events_per_s']:>10,.0f} events/s "
        f"({r['ratio']:.2f} of the ceiling; targets 0.5 and 100,000)"
    )
    print(
        f"freshness at {args.rate:,} events/s: p50 {r['freshness_p50_ms']:.0f} ms, "
        f"p99 {r['freshness_p99_ms']:.0f} ms, p99.9 {r['freshness_p999_ms']:.0f} ms over "
        f"{r['freshness_samples']:,} positions (target p99 < 250 ms)"
    )
    print(
        f"source lag at {args.rate:,} events/s: at most {r['max_lag_events']:,} messages "
        f"(an upper bound, within {r['lag_steady_probe_every']:,})"
    )
    flash = r["flash_sale"]
    print(
        f"flash sale: {flash['buyers']:,} buyers for {flash['units']:,} units at "
        f"{flash['stores']} stores: {flash['confirmed_units']:,} confirmed, "
        f"{flash['rejected']:,} rejected, {flash['oversold_units']} units oversold"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
