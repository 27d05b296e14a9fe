"""The promise table's latency through Kafka (docs/performance.md §17): a stock-out's new entry.

On a real broker (``OMNISTOCK_BOOTSTRAP``, else ``docker/kafka-local.sh``), with fresh topics
(``<prefix>promiselat<8 hex>.``) and ``omnistock run --network FILE`` (1 worker, the network
``omnistock network --stores 50`` writes: 50 stores, 4 DCs, 100 regions) as a subprocess:

1. **Seeding.** Receipts of the built-in stock (``workload.builtin.stock_events``) for
   ``--skus`` skus at the 54 locations, and ``--probe-skus`` probe skus (``PROBE0001``...),
   each stocked (``PROBE_QTY`` units) at exactly one shipping location, the locations taken in
   turn. Then the promises topic is read until every probe sku has an entry naming its location.
2. **Background load.** The workload on the built-in network (``workload.network_workload``,
   the same ``--skus`` skus, flat clock, no duplicates or malformed lines: sales, reservations,
   receipts, returns, counts, transfers...) produced at ``--rate`` events/s for ``WARMUP_S``
   and then ``--seconds``. Generated before the flow starts; its ``ts`` are those of the
   generation's clock (a minute or so behind the wall clock: nothing measured depends on them).
3. **Probes.** Every ``--probe-ms`` of the counted seconds, a ``sale`` of all ``PROBE_QTY``
   units of a ready probe sku at its one location (its own producer, the benchmarks' producer
   settings): a stock-out. The clock runs from just before that ``produce`` to the arrival, on
   a consumer tailing ``<prefix>promises``, of the sku's first entry that no longer names the
   location (all its regions ``{}``), and, for comparison, to the arrival of the position on
   ``<prefix>atp`` (its atp 0; ``benchmarks/freshness.py``'s measure). ``RESTOCK_AFTER_S`` after
   the stock-out entry a receipt restocks the sku, timed the same way (the entry naming the
   location again); the sku is ready again once that entry came.

One loop (no thread: two cores) produces, probes and reads both topics. The background rate is
measured at the producer and from the events topic's high watermarks. Also counted: the entries
the background's own stock changes caused (skus going out of stock or back somewhere), and the
CPU of the flow and of this process. Prints p50/p99/max; writes the figures as JSON (``--out``,
default ``benchmarks/results/promise_latency-<UTC timestamp>.json``). Stops the flow with
SIGTERM and waits for it (``omnistock run`` has no handler: it exits -15).

``--baseline`` runs, each round, the same again with the flow started without ``--network``
(no table: positions only), so what the table costs the positions themselves shows (the
table's step runs on the fold's worker); ``--rounds N`` repeats on fresh topics and prints
min/median/max of the percentiles.

    python -m benchmarks.promise_latency [--rate 20000] [--seconds 40] [--skus 2000]
        [--probe-skus 200] [--probe-ms 50] [--rounds 1] [--baseline] [--no-table]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from benchmarks.freshness import WARMUP_S
from benchmarks.harness.report import machine
from benchmarks.kafka_io import (
    FLOW_LOG,
    PARTITIONS,
    broker,
    consumer,
    markers,
    produce,
    run_topics,
    start_flow,
    wait_for_keys,
)
from benchmarks.loadgen import process_cpu_s
from benchmarks.promise_probes import (
    LABELS,
    LOST_AFTER_S,
    PROBE_QTY,
    RESTOCK_AFTER_S,
    RESULTS,
    Figures,
    Probe,
    background,
    network_file,
    over_rounds,
    probes_of,
    seed_lines,
    summary,
)
from dataflows.kafka import PRODUCER_DEFAULTS, Topics, ensure_topics
from engine.promise.network import load_network


def watermarks(reader: Consumer, topic: str) -> int:
    return sum(
        reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in range(PARTITIONS)
    )


class Run:
    """The probing loop's state: the probe skus by name and by atp key."""

    def __init__(self, topics: Topics, probes: list[Probe], bootstrap: str, tabled: bool) -> None:
        self.topics = topics
        self.tabled = tabled  # the flow keeps the table: a probe also waits for its entry
        self.t0 = time.perf_counter()  # the load's start, once it starts
        self.bootstrap = bootstrap
        self.probes = {probe.sku: probe for probe in probes}
        self.by_atp_key = {f"{p.location}:{p.sku}".encode(): p for p in probes}
        self.names = {
            probe.location: f'"location_id":"{probe.location}"'.encode() for probe in probes
        }
        self.producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
        self.figures = Figures()
        self.turn = 0
        self.sent = 0

    def send(self, probe: Probe, kind: str, counted: bool) -> None:
        self.sent += 1
        body: dict[str, Any] = {"event_id": f"{kind}-{self.sent}", "sku": probe.sku}
        body |= {"location_id": probe.location, "ts": int(time.time() * 1000), "qty": PROBE_QTY}
        body["type"] = "sale" if kind == "out" else "receipt"
        raw = orjson.dumps(body)
        probe.stage = kind
        probe.atp_at = probe.entry_at = 0.0
        probe.counted = counted
        probe.sent_at = time.perf_counter()
        self.producer.produce(self.topics.events, raw, probe.location)
        self.producer.poll(0)

    def stock_out(self, counted: bool) -> bool:
        """The next ready probe sku goes out of stock; False when none is ready."""
        skus = list(self.probes.values())
        for step in range(len(skus)):
            probe = skus[(self.turn + step) % len(skus)]
            if probe.stage == "ready":
                self.turn = (self.turn + step + 1) % len(skus)
                self.send(probe, "out", counted)
                self.figures.probes += counted
                return True
        return False

    def on_atp(self, batch: list[Message], now: float) -> None:
        for message in batch:
            probe = self.by_atp_key.get(message.key() or b"")
            if probe is None or message.error() or probe.stage not in ("out", "back"):
                continue
            atp = orjson.loads(message.value() or b"{}")["atp"]
            if probe.atp_at == 0.0 and (atp <= 0) == (probe.stage == "out"):
                probe.atp_at = now
                self._maybe_done(probe, now)

    def on_entry(self, batch: list[Message], now: float) -> None:
        figures = self.figures
        for message in batch:
            if message.error():
                continue
            sku = (message.key() or b"").decode()
            value = message.value() or b""
            second = int(now - self.t0)
            figures.entries_by_second[second] = figures.entries_by_second.get(second, 0) + 1
            probe = self.probes.get(sku)
            if probe is None:
                figures.background_entries += 1
                figures.background_entry_bytes += len(value)
                continue
            names = self.names[probe.location] in value
            if probe.stage == "out" and not names and probe.entry_at == 0.0:
                if b'"location_id"' in value:
                    figures.unexpected.append(f"{sku}: stock-out entry names another location")
                probe.entry_at = now
            elif probe.stage == "back" and names and probe.entry_at == 0.0:
                probe.entry_at = now
            else:
                figures.unexpected.append(f"{sku} ({probe.stage}): {value[:160]!r}")
                continue
            self._maybe_done(probe, now)

    def _maybe_done(self, probe: Probe, now: float) -> None:
        if not (probe.atp_at and (probe.entry_at or not self.tabled)):
            return
        entry = (probe.entry_at - probe.sent_at) * 1000
        atp = (probe.atp_at - probe.sent_at) * 1000
        figures = self.figures
        if probe.stage == "out":
            if probe.counted:
                figures.out_when_s.append(probe.sent_at - self.t0)
                figures.out_atp_ms.append(atp)
                if self.tabled:
                    figures.out_entry_ms.append(entry)
                    figures.out_share_ms.append(entry - atp)
            probe.stage = "restock_due"
            probe.restock_at = now + RESTOCK_AFTER_S
        else:
            if probe.counted:
                figures.back_atp_ms.append(atp)
                if self.tabled:
                    figures.back_entry_ms.append(entry)
            probe.stage = "ready"

    def tend(self, now: float, counting: bool) -> None:
        """Restock the probe skus due, and count the lost ones (and restock them)."""
        for probe in self.probes.values():
            if probe.stage == "restock_due" and now >= probe.restock_at:
                self.send(probe, "back", counting)
            elif probe.stage in ("out", "back") and now - probe.sent_at > LOST_AFTER_S:
                what = "position" if not probe.atp_at else "entry"
                self.figures.missing.append(f"{probe.sku} {probe.stage}: no {what}")
                self.send(probe, "back", False)


def measure(
    bootstrap: str,
    rate: int = 20_000,
    seconds: float = 40.0,
    skus: int = 2_000,
    probe_skus: int = 200,
    probe_ms: float = 50.0,
    stores: int = 50,
    tabled: bool = True,
) -> dict[str, Any]:
    """Seed, wait for the probe skus' entries, then load and probe (the module docstring).
    Without ``tabled`` the flow runs without ``--network`` (no table): the positions alone."""
    topics = run_topics("promiselat")
    ensure_topics(bootstrap, topics, PARTITIONS)
    directory = Path(tempfile.mkdtemp(prefix="omnistock-promise-latency-"))
    path = network_file(directory, stores)
    location_ids = [location.id for location in load_network(path.read_bytes()).locations]
    probes = probes_of(path, probe_skus)
    print(f"generating {rate * (WARMUP_S + seconds):,.0f} background events...", flush=True)
    load = background(rate, seconds, skus, stores)
    flow = start_flow(bootstrap, topics.prefix, *(("--network", str(path)) if tabled else ()))
    atp = consumer(bootstrap, topics.atp, PARTITIONS)
    entries = consumer(bootstrap, topics.promises, PARTITIONS)
    run = Run(topics, probes, bootstrap, tabled)
    try:
        started = time.perf_counter()
        wait_for_keys(atp, markers(bootstrap, topics.events, "warm"), 120)
        up_s = time.perf_counter() - started
        produce(bootstrap, topics.events, seed_lines(location_ids, skus, probes))
        print(f"flow up in {up_s:.1f} s; seeded; waiting for the probe skus' entries", flush=True)
        seeded_s = wait_for_seed(run, entries, atp)
        result = load_and_probe(run, flow.pid, atp, entries, load, rate, seconds, probe_ms)
        result |= {"flow_up_s": up_s, "seed_entries_s": seeded_s}
    finally:
        atp.close()
        entries.close()
        os.killpg(flow.pid, signal.SIGTERM)
        result_code = flow.wait(30)
        shutil.rmtree(directory, ignore_errors=True)
    result |= {
        "flow_exit_code": result_code,
        "topics_prefix": topics.prefix,
        "rate": rate,
        "seconds": seconds,
        "skus": skus,
        "probe_skus": probe_skus,
        "probe_ms": probe_ms,
        "stores": stores,
        "locations": len(location_ids),
        "tabled": tabled,
    }
    return result


def wait_for_seed(run: Run, entries: Consumer, atp: Consumer, timeout: float = 180) -> float:
    """Seconds until every probe sku has an entry naming its location (the rest of the seed's
    entries then come within a few seconds: read on until the topic is quiet for 2 s)."""
    started = time.perf_counter()
    waiting = set(run.probes)
    quiet_since = time.perf_counter()
    while time.perf_counter() - started < timeout:
        batch = entries.consume(1000, timeout=0.2)
        positions = atp.consume(100_000, timeout=0)
        now = time.perf_counter()
        if not run.tabled:  # the probe skus' positions instead
            batch = positions
            for message in positions:
                probe = run.by_atp_key.get(message.key() or b"")
                if probe is not None:
                    waiting.discard(probe.sku)
        for message in batch if run.tabled else ():
            sku = (message.key() or b"").decode()
            probe = run.probes.get(sku)
            if probe is not None and run.names[probe.location] in (message.value() or b""):
                waiting.discard(sku)
        if batch:
            quiet_since = now
        if not waiting and now - quiet_since > 2.0:
            while atp.consume(100_000, timeout=0.2):  # the seed's positions, drained
                pass
            return now - started
    raise SystemExit(f"{len(waiting)} probe skus had no entry after {timeout} s ({FLOW_LOG})")


def load_and_probe(
    run: Run,
    flow_pid: int,
    atp: Consumer,
    entries: Consumer,
    load: list[tuple[bytes, bytes]],
    rate: int,
    seconds: float,
    probe_ms: float,
) -> dict[str, Any]:
    topic = run.topics.events
    producer = Producer({"bootstrap.servers": run.bootstrap, **PRODUCER_DEFAULTS})
    counting_from = WARMUP_S
    every = probe_ms / 1000
    sent = 0
    high_start = watermarks(atp, topic)
    cpu_flow = process_cpu_s(flow_pid)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_self = usage.ru_utime + usage.ru_stime
    started = run.t0 = time.perf_counter()
    next_probe = started + counting_from
    end = started + WARMUP_S + seconds
    counted_entries = (0, 0)
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        due = min(len(load), int((now - started) * rate))
        while sent < due:
            line, key = load[sent]
            try:
                producer.produce(topic, line, key)
            except BufferError:
                producer.poll(0.01)
                continue
            sent += 1
        producer.poll(0)
        counting = now - started >= counting_from
        if counting and counted_entries == (0, 0):
            figures = run.figures
            counted_entries = (figures.background_entries, figures.background_entry_bytes)
        if now >= next_probe:
            if not run.stock_out(counted=True):
                run.figures.skipped += 1
            next_probe += every
        run.tend(now, counting)
        run.on_atp(atp.consume(10_000, timeout=0.001), time.perf_counter())
        run.on_entry(entries.consume(1000, timeout=0), time.perf_counter())
    elapsed = time.perf_counter() - started
    producer.flush(30)
    run.producer.flush(30)
    produced_s = time.perf_counter() - started
    figures = run.figures
    bg_entries = figures.background_entries - counted_entries[0]
    bg_bytes = figures.background_entry_bytes - counted_entries[1]
    cpu_flow = process_cpu_s(flow_pid) - cpu_flow
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_self = usage.ru_utime + usage.ru_stime - cpu_self
    # the last probes' answers, and the end markers through the flow (it kept up?)
    drain = time.perf_counter()
    end_keys = markers(run.bootstrap, topic, "end")
    seen: dict[str, float] = {}
    while time.perf_counter() - drain < LOST_AFTER_S and (
        len(seen) < len(end_keys) or any(p.stage in ("out", "back") for p in run.probes.values())
    ):
        now = time.perf_counter()
        batch = atp.consume(10_000, timeout=0.01)
        for message in batch:
            name = (message.key() or b"").decode()
            if name in end_keys:
                seen.setdefault(name, now)
        run.on_atp(batch, now)
        run.on_entry(entries.consume(1000, timeout=0), time.perf_counter())
    high_end = watermarks(atp, topic)
    counted_s = elapsed - WARMUP_S
    return {
        "stockout_entry": summary(figures.out_entry_ms),
        "stockout_atp": summary(figures.out_atp_ms),
        "stockout_table_share": summary(figures.out_share_ms),
        "restock_entry": summary(figures.back_entry_ms),
        "restock_atp": summary(figures.back_atp_ms),
        "probes": figures.probes,
        "probes_skipped": figures.skipped,
        "missing": figures.missing,
        "unexpected": figures.unexpected[:50],
        "unexpected_count": len(figures.unexpected),
        "background_sent": sent,
        "background_per_s_producer": sent / elapsed,
        "events_topic_per_s": (high_end - high_start) / produced_s,
        "events_on_topic": high_end - high_start,
        "background_entries_per_s": bg_entries / counted_s,
        "background_entry_mib_per_s": bg_bytes / counted_s / 2**20,
        "flow_cpu_share": cpu_flow / elapsed,
        "bench_cpu_share": cpu_self / elapsed,
        "end_markers_after_s": max(seen.values(), default=float("nan")) - drain
        if len(seen) == len(end_keys)
        else None,
        "entries_by_second": sorted(figures.entries_by_second.items()),
        "samples": {
            "stockout_sent_s": figures.out_when_s,
            "stockout_entry_ms": figures.out_entry_ms,
            "stockout_atp_ms": figures.out_atp_ms,
        },
    }


def report(r: dict[str, Any]) -> None:
    """One run's figures."""
    what = "with the table" if r["tabled"] else "baseline, no table (no --network)"
    print(
        f"[{what}] {r['stores']} stores + 4 DCs, 100 regions; {r['skus']:,} skus seeded, "
        f"{r['probe_skus']} probe skus at one location each; flow up in {r['flow_up_s']:.1f} s, "
        f"the seed's entries in {r['seed_entries_s']:.1f} s"
    )
    print(
        f"  background: {r['background_per_s_producer']:,.0f} events/s produced "
        f"({r['events_topic_per_s']:,.0f}/s on the events topic) for {r['seconds']:.0f} s "
        f"after {WARMUP_S:.0f} s of warm-up; it caused {r['background_entries_per_s']:,.0f} "
        f"entries/s ({r['background_entry_mib_per_s']:.1f} MiB/s) on the promises topic"
    )
    for name, label in LABELS:
        s = r[name]
        if s["count"]:
            print(
                f"  {label:<36} p50 {s['p50_ms']:6.1f} ms, p99 {s['p99_ms']:6.1f} ms, "
                f"max {s['max_ms']:6.1f} ms over {s['count']:,}"
            )
    print(
        f"  probes: {r['probes']:,} stock-outs counted, {r['probes_skipped']} skipped (none "
        f"ready), {len(r['missing'])} missing, {r['unexpected_count']} unexpected entries"
    )
    if r["missing"] or r["unexpected"]:
        print("    missing:", r["missing"][:10], "unexpected:", r["unexpected"][:5])
    print(
        f"  CPU: the flow {r['flow_cpu_share']:.2f} of a core, this process "
        f"{r['bench_cpu_share']:.2f}; end markers through the flow "
        f"{r['end_markers_after_s']} s after the load; load average "
        f"{r['load_before'][0]:.1f} -> {r['load_after'][0]:.1f}; flow exit {r['flow_exit_code']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=20_000, help="background events/s")
    parser.add_argument("--seconds", type=float, default=40.0, help="counted seconds of load")
    parser.add_argument("--skus", type=int, default=2_000, help="background skus")
    parser.add_argument("--probe-skus", type=int, default=200)
    parser.add_argument("--probe-ms", type=float, default=50.0, help="ms between stock-outs")
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1, help="runs, each on fresh topics")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="each round also runs the flow without --network (positions only, no table)",
    )
    parser.add_argument(
        "--no-table", action="store_true", help="only the baseline (no promise table)"
    )
    parser.add_argument("--out", type=Path, default=None, help="the JSON result's path")
    args = parser.parse_args(argv)

    bootstrap = broker()
    modes = [False] if args.no_table else [True, False] if args.baseline else [True]
    runs: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        for tabled in modes:
            load_before = os.getloadavg()
            r = measure(
                bootstrap,
                *(args.rate, args.seconds, args.skus, args.probe_skus, args.probe_ms),
                stores=args.stores,
                tabled=tabled,
            )
            r |= {"load_before": load_before, "load_after": os.getloadavg()}
            report(r)
            runs.append(r)
    summary = {
        "with_table": over_rounds([r for r in runs if r["tabled"]]),
        "baseline": over_rounds([r for r in runs if not r["tabled"]]),
    }
    for mode, figures in summary.items():
        for name, stats in figures.items():
            if len(runs) > len(modes):  # more than one round: min/median/max
                p50, p99 = stats["p50_ms"], stats["p99_ms"]
                print(
                    f"{mode:>10} {name:<22} p50 {p50[1]:6.1f} ms ({p50[0]:.1f}-{p50[2]:.1f}), "
                    f"p99 {p99[1]:6.1f} ms ({p99[0]:.1f}-{p99[2]:.1f}) over {args.rounds} rounds"
                )
    print("target: stock-out -> its entry on promises, p99 <= 100 ms")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS / f"promise_latency-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"machine": machine(), "parameters": vars(args) | {"out": None}}
    result |= {"summary": summary, "runs": runs}
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
