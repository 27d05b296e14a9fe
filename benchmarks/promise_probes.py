"""The load and the probes of ``benchmarks/promise_latency.py``: the network file, the seed
stock, the background workload, the probe skus, and the figures' percentiles."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from benchmarks.freshness import WARMUP_S
from engine.promise.network import load_network
from workload import WorkloadParams, generate, network_workload
from workload.builtin import stock_events

RESULTS = Path(__file__).resolve().parent / "results"
PROBE_QTY = 3  # units a probe sku holds at its one location
RESTOCK_AFTER_S = 0.5  # a probe sku is restocked this long after its stock-out entry came
LOST_AFTER_S = 10.0  # an awaited entry not come after this is counted missing


@dataclass
class Probe:
    """One probe sku: its location and what it waits for."""

    sku: str
    location: str
    stage: str = "ready"  # ready | out (stock-out sent) | restock_due | back (receipt sent)
    sent_at: float = 0.0  # perf_counter of the last produce
    atp_at: float = 0.0  # when the awaited position came (0: not yet)
    entry_at: float = 0.0  # when the awaited entry came (0: not yet)
    restock_at: float = 0.0  # when the restock is due
    counted: bool = False  # a stock-out of the counted seconds


@dataclass
class Figures:
    """Latencies (ms) and counts of one run."""

    out_entry_ms: list[float] = field(default_factory=list)
    out_when_s: list[float] = field(default_factory=list)  # each counted stock-out's send
    out_atp_ms: list[float] = field(default_factory=list)
    out_share_ms: list[float] = field(default_factory=list)  # entry - atp, per probe
    back_entry_ms: list[float] = field(default_factory=list)
    back_atp_ms: list[float] = field(default_factory=list)
    probes: int = 0
    skipped: int = 0  # a probe was due and no probe sku was ready
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # a probe sku's entries not awaited
    background_entries: int = 0
    background_entry_bytes: int = 0
    entries_by_second: dict[int, int] = field(default_factory=dict)  # every entry, by arrival


def network_file(directory: Path, stores: int) -> Path:
    """The network ``omnistock network --stores N`` writes (with its 100 regions)."""
    path = directory / "network.json"
    subprocess.run(
        [
            *(sys.executable, "-m", "omnistock.cli", "network"),
            *("--stores", str(stores), "--out", str(path)),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return path


def probes_of(path: Path, count: int) -> list[Probe]:
    """``count`` probe skus, each at one shipping location of the network, in turn."""
    network = load_network(path.read_bytes())
    shipping = [location.id for location in network.locations if location.ship]
    return [Probe(f"PROBE{n + 1:04d}", shipping[n % len(shipping)]) for n in range(count)]


def seed_lines(location_ids: list[str], skus: int, probes: list[Probe]) -> list[bytes]:
    now = int(time.time() * 1000)
    ts = datetime.fromtimestamp(now / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lines = [orjson.dumps(event) for event in stock_events(location_ids, skus, ts)]
    for probe in probes:
        body: dict[str, Any] = {"event_id": f"seed-{probe.sku}", "type": "receipt"}
        body["sku"] = probe.sku
        body |= {"location_id": probe.location, "ts": now, "qty": PROBE_QTY}
        lines.append(orjson.dumps(body))
    return lines


def background(rate: int, seconds: float, skus: int, stores: int) -> list[tuple[bytes, bytes]]:
    """The workload's lines for ``WARMUP_S + seconds`` at ``rate``, each with its key."""
    events = int(rate * (WARMUP_S + seconds)) + rate  # a second to spare
    params, catalogue = network_workload(
        WorkloadParams(
            events=events,
            seed=11,
            start_ms=int(time.time() * 1000),
            events_per_s=rate,
            dup_rate=0.0,
            bad_rate=0.0,
        ),
        stores=stores,
        skus=skus,
        daily_curve=False,
    )
    out = []
    for line in generate(params, catalogue):
        start = line.find(b'"location_id":"') + 15
        out.append((line, line[start : line.find(b'"', start)]))
    return out


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(values: list[float]) -> dict[str, float | int]:
    return {
        "count": len(values),
        "p50_ms": percentile(values, 0.5),
        "p90_ms": percentile(values, 0.9),
        "p99_ms": percentile(values, 0.99),
        "max_ms": max(values, default=float("nan")),
        "mean_ms": statistics.fmean(values) if values else float("nan"),
    }


LABELS = (
    ("stockout_entry", "stock-out -> its entry on promises"),
    ("stockout_atp", "stock-out -> its position on atp"),
    ("stockout_table_share", "  entry minus position, per probe"),
    ("restock_entry", "restock -> its entry on promises"),
    ("restock_atp", "restock -> its position on atp"),
)


def over_rounds(runs: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """Per figure, its p50 and p99 over the runs: ``[min, median, max]``."""
    out: dict[str, dict[str, list[float]]] = {}
    for name, _ in LABELS:
        for stat in ("p50_ms", "p99_ms", "max_ms"):
            values = [r[name][stat] for r in runs if r[name]["count"]]
            if values:
                out.setdefault(name, {})[stat] = [
                    min(values),
                    statistics.median(values),
                    max(values),
                ]
    return out
