"""Delivery-promise benchmark: the numba calculator against the plain-Python twin.

Figures (printed): one item over 1,000 candidate locations with three service levels and
pickup, median and p99 per answer, kernel alone and through the typed wrapper, against the
plain-Python twin in the same run; a listing page of 100 skus to one destination; cold start
(a new process, numba cache warm on disk, up to its first answer). Every answer is checked
against the twin before it is timed.

Run: ``python -m benchmarks.promise_bench`` (from the repository root).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from engine.promise import kernels
from engine.promise.answers import item_record
from engine.promise.calculator import Calculator, Stock, seconds_of, warm
from engine.promise.calendar import unit_vector
from engine.promise.destination import Destination
from engine.promise.network import load_network
from workload.builtin import generate_network, sku_names, stock_matrix


def _load_twin() -> Any:
    """The plain-Python twin of docs/network.md, from the tests (the benchmarks run from a checkout;
    ``tests`` is not an installed package)."""
    path = Path(__file__).resolve().parents[1] / "tests" / "property" / "promise_naive.py"
    spec = importlib.util.spec_from_file_location("omnistock_promise_twin", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.naive_item


naive_item = _load_twin()

AT = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
CHICAGO = Destination(41.8858, -87.6181, "60601")
COLD = """
import time, sys
started = time.perf_counter()
from datetime import datetime, UTC
from engine.promise.network import load_network
from engine.promise.calculator import Calculator
from engine.promise.destination import Destination
from engine.promise.answers import item_record
network = load_network(open(sys.argv[1], "rb").read())
calc = Calculator(network)
stock = calc.stock({loc.id: 5 for loc in network.locations})
at = datetime(2026, 11, 18, 15, tzinfo=UTC)
item_record(network, calc.promise("A", 1, stock, Destination(41.8858, -87.6181), at))
print(time.perf_counter() - started)
"""


def timed(call: Callable[[], object], repeat: int) -> npt.NDArray[np.float64]:
    out = np.empty(repeat)
    for r in range(repeat):
        started = time.perf_counter_ns()
        call()
        out[r] = time.perf_counter_ns() - started
    return out / 1000.0  # microseconds


def strip_km(record: dict[str, Any]) -> dict[str, Any]:
    for row in [*record["options"], *record["pickup"]]:
        row.pop("distance_km")
    return record


def measure(quick: bool = False) -> dict[str, float]:
    """Every figure of the module docstring, checked against the twin first."""
    scale = 5 if quick else 1
    raw = generate_network(stores=996, seed=7)
    network = load_network(raw)
    calc = Calculator(network)
    warm()
    count = len(network.locations)
    atp = {loc.id: 5 for loc in network.locations}
    stock = calc.stock(atp)
    print(f"network: {count} locations, levels {[lvl.name for lvl in network.service_levels]}")

    engine = item_record(network, calc.promise("A", 1, stock, CHICAGO, AT))
    naive = naive_item(network, "A", 1, atp, CHICAGO.lat, CHICAGO.lon, AT)
    assert strip_km(engine) == strip_km(naive), "the kernel and the twin disagree"

    tb = calc.tables(seconds_of(AT))
    dest = np.array(unit_vector(CHICAGO.lat, CHICAGO.lon))
    t = seconds_of(AT)
    kernel = timed(
        lambda: kernels.promise_item(tb, dest, t, 1, stock.loc, stock.atp, 50.0, 10), 5000 // scale
    )
    wrapper = timed(lambda: calc.promise("A", 1, stock, CHICAGO, AT), 3000 // scale)
    answer = timed(
        lambda: item_record(network, calc.promise("A", 1, stock, CHICAGO, AT)), 2000 // scale
    )
    python = timed(
        lambda: naive_item(network, "A", 1, atp, CHICAGO.lat, CHICAGO.lon, AT), 15 // scale + 2
    )
    print(f"one item, {count} candidates, 3 levels + pickup (us): median / p99")
    for name, xs in [
        ("kernel", kernel),
        ("typed wrapper", wrapper),
        ("wrapper + JSON-ready answer", answer),
        ("plain Python twin", python),
    ]:
        print(f"  {name:30s} {np.median(xs):12.1f} {np.percentile(xs, 99):12.1f}")
    print(f"  ratio, twin / kernel (median):  {np.median(python) / np.median(kernel):,.0f} x")
    print(f"  ratio, twin / wrapper (median): {np.median(python) / np.median(wrapper):,.0f} x")

    matrix = stock_matrix(count, 1000, seed=7)
    names = sku_names(1000)
    page = list(range(0, 1000, 10))  # 100 skus across the long tail
    stocks = [
        Stock(np.flatnonzero(matrix[s]).astype(np.int64), matrix[s][matrix[s] > 0]) for s in page
    ]
    skus = [names[s] for s in page]
    days = calc.listing(skus, stocks, CHICAGO, AT)
    for s, found in zip(page[:5], days[:5], strict=True):
        twin: dict[str, Any] = naive_item(
            network,
            names[s],
            1,
            {network.locations[i].id: int(matrix[s, i]) for i in np.flatnonzero(matrix[s])},
            CHICAGO.lat,
            CHICAGO.lon,
            AT,
        )
        assert {k: v.isoformat() for k, v in found.items()} == {
            o["service_level"]: o["deliver_by"] for o in twin["options"]
        }
    listing = timed(lambda: calc.listing(skus, stocks, CHICAGO, AT), 500 // scale)
    print(
        f"listing page, 100 skus ({sum(len(s.loc) for s in stocks)} positions) (us): "
        f"median {np.median(listing):.1f}, p99 {np.percentile(listing, 99):.1f}"
    )

    path = "/tmp/omnistock-bench-network.json"
    with open(path, "wb") as sink:
        sink.write(orjson.dumps(raw))
    colds = []
    for _ in range(1 if quick else 3):
        started = time.perf_counter()
        inner = subprocess.run(
            [sys.executable, "-c", COLD, path], capture_output=True, check=True, text=True
        )
        colds.append((time.perf_counter() - started, float(inner.stdout)))
    best = min(colds)
    print(
        f"cold start to first answer: {best[0]:.2f} s for the process "
        f"({best[1]:.2f} s of it from the first import; best of {len(colds)})"
    )
    return {
        "median_us": float(np.median(kernel)),
        "p99_us": float(np.percentile(kernel, 99)),
        "wrapper_median_us": float(np.median(wrapper)),
        "answer_median_us": float(np.median(answer)),
        "python_median_us": float(np.median(python)),
        "speedup": float(np.median(python) / np.median(kernel)),
        "listing_ms": float(np.median(listing)) / 1000,
        "listing_p99_ms": float(np.percentile(listing, 99)) / 1000,
        "cold_start_s": best[0],
        "candidates": count,
    }


def main() -> None:
    measure()


if __name__ == "__main__":
    main()
