"""Writes a run's ``results.json``, its plots (matplotlib, PNG) and ``report.md``.

``results.json`` holds each section as an object (``{"replay": {"events_per_s": ...}}``) and,
for scripts that want one level, every number of a section again under a dotted key
(``"replay.events_per_s"``); plus the machine and the parameters (with each section's workload).
Of the time series only the short ones (``KEPT_SERIES``: the ingest lag, a few samples a second)
stay in the section's ``series``; none get dotted keys.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import orjson

from benchmarks.harness.plots import ingest_throughput_lag

KEPT_SERIES = ("lag", "lag_steady")  # [seconds, lag, reflected] a few times a second

# Per figure: (section, key, label, unit, target, better). Targets as the issues set them.
FIGURES = [
    ("replay", "events_per_s", "replay, end to end", "events/s", 250_000, "higher"),
    ("replay", "ratio", "replay / orjson.loads ceiling", "", 0.25, "higher"),
    ("ingest", "events_per_s", "dataflow, events to atp, 1 worker", "events/s", 100_000, "higher"),
    ("ingest", "ratio", "dataflow / bare consumer ceiling", "", 0.5, "higher"),
    ("ingest", "freshness_p50_ms", "freshness p50", "ms", None, "lower"),
    ("ingest", "freshness_p99_ms", "freshness p99", "ms", 250, "lower"),
    ("ingest", "freshness_p999_ms", "freshness p99.9", "ms", None, "lower"),
    ("ingest", "max_lag_events", "source lag, max, at the freshness rate", "events", None, "lower"),
    ("flash_sale", "oversold_units", "flash sale: units oversold", "units", 0, "lower"),
    ("promise", "median_us", "promise, 1 item x 1,000 locations, median", "us", 25, "lower"),
    ("promise", "python_median_us", "the same in plain Python, median", "us", None, "lower"),
    ("promise", "speedup", "kernel / plain Python speed-up", "x", 100, "higher"),
    ("promise", "listing_ms", "listing page, 100 skus", "ms", 1, "lower"),
    ("api", "atp_p99_ms", "GET /v1/atp p99", "ms", 5, "lower"),
    ("api", "promise_p99_ms", "POST /v1/promise p99", "ms", 10, "lower"),
    ("api", "listing_p99_ms", "POST /v1/promise/listing p99", "ms", 20, "lower"),
    ("api", "reserve_p99_ms", "reservation round trip p99", "ms", 50, "lower"),
    ("api", "reserve_embedded_p99_ms", "embedded reservation round trip p99", "ms", 5, "lower"),
]


def machine() -> dict[str, Any]:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(pages / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def flatten(sections: dict[str, dict[str, Any]]) -> dict[str, float]:
    flat: dict[str, float] = {}
    for name, figures in sections.items():
        for key, value in figures.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                flat[f"{name}.{key}"] = value
            elif isinstance(value, dict) and key != "series":
                flat.update(flatten({key: value}))
    return flat


def write(out: Path, sections: dict[str, dict[str, Any]], parameters: dict[str, Any]) -> Path:
    """Everything of one run into ``out``; returns the path of ``report.md``."""
    out.mkdir(parents=True, exist_ok=True)
    nested = {name: _without_series(figures) for name, figures in sections.items()}
    if "ingest" in nested and "flash_sale" in nested["ingest"]:  # a section of its own
        nested["flash_sale"] = nested["ingest"].pop("flash_sale")
    host = machine()
    results = {**nested, **flatten(nested), "machine": host, "parameters": parameters}
    (out / "results.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    plots = _plots(out, sections)
    (out / "report.md").write_text(_markdown(nested, host, parameters, plots))
    return out / "report.md"


def _without_series(figures: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in figures.items() if k not in ("series", "samples")}
    short = {k: v for k, v in figures.get("series", {}).items() if k in KEPT_SERIES}
    return kept | ({"series": short} if short else {})


def _markdown(
    nested: dict[str, dict[str, Any]],
    host: dict[str, Any],
    parameters: dict[str, Any],
    plots: list[str],
) -> str:
    lines = [
        "# Omnistock benchmark report",
        "",
        f"Machine: {host['cores']} cores, {host['memory_gib']} GiB, Python {host['python']}. "
        f"Parameters: "
        f"{', '.join(f'{k}={v}' for k, v in parameters.items() if k != 'workload')}.",
        "",
        *_workloads(parameters.get("workload", {})),
        "| figure | measured | target | met |",
        "|---|---|---|---|",
    ]
    for section, key, label, unit, target, better in FIGURES:
        value = nested.get(section, {}).get(key)
        if value is None:
            continue
        met = ""
        if target is not None:
            ok = value >= target if better == "higher" else value <= target
            met = "yes" if ok else "**no**"
        if isinstance(value, int):
            shown = f"{value:,}"
        else:
            shown = f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
        goal = "" if target is None else f"{'>=' if better == 'higher' else '<='} {target:,}"
        lines.append(f"| {label} | {shown} {unit} | {goal} {unit if goal else ''} | {met} |")
    lines += ["", "Ceilings measured in the same run:", ""]
    for section, key, label in (
        ("replay", "parse_ceiling_per_s", "`orjson.loads` over the replay log"),
        ("ingest", "ceiling_per_s", "a bare confluent-kafka consumer that reads and parses"),
        ("promise", "python_median_us", "the plain-Python promise (us, median)"),
    ):
        if key in nested.get(section, {}):
            lines.append(f"- {label}: {nested[section][key]:,.0f}")
    if "max_lag_events" in nested.get("ingest", {}):
        lines += [
            "",
            "Lag is the dataflow's source lag: messages on the events topic not yet reflected on "
            "the atp topic (the flow commits no consumer-group offsets; its offsets live in its "
            "recovery store), found from probe messages every "
            f"{nested['ingest'].get('lag_probe_every', '?')} messages in the backlog and every "
            f"{nested['ingest'].get('lag_steady_probe_every', '?')} at the freshness rate: an "
            "upper bound within one probe interval.",
        ]
    lines += ["", *(f"![{name}]({name})" for name in plots), ""]
    return "\n".join(lines)


def _workloads(workloads: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for section, w in workloads.items():
        where = "numbered ids"
        if w.get("catalogue") == "built-in network":
            where = f"the built-in network (seed {w['network_seed']})"
        lines.append(
            f"- {section} log: {w['events']:,} events (seed {w['seed']}) on {where}: "
            f"{w['stores']} stores, {w['dcs']} DCs, {w['skus']:,} skus; store traffic by "
            f"{w['store_weights']}; {w['events_per_s']:g} events/s of event time, "
            f"{'daily curve' if w['daily_curve'] else 'flat'}."
        )
    return ["Workloads:", "", *lines, ""] if lines else []


def _plots(out: Path, sections: dict[str, dict[str, Any]]) -> list[str]:
    import matplotlib  # noqa: PLC0415 - only a run with plots pays for it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    made: list[str] = []
    series = sections.get("ingest", {}).get("series", {})
    if series.get("lag"):
        rate = sections["ingest"].get("freshness_rate")
        made.append(_save(ingest_throughput_lag(series, rate), out, "ingest_throughput.png"))
    elif series.get("progress"):
        seconds = [t for t, _ in series["progress"]]
        counts = [n for _, n in series["progress"]]
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot(seconds, counts)
        ax.set(
            xlabel="seconds from the first markers",
            ylabel="messages read from atp",
            title="Dataflow output over time (slope = throughput)",
        )
        made.append(_save(fig, out, "ingest_throughput.png"))
    if series.get("freshness"):
        when, lags = zip(*series["freshness"], strict=True)
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
        left.hist(lags, bins=60)
        left.set(xlabel="ms from event to position", ylabel="positions", title="Freshness")
        right.plot(when, lags, ",", alpha=0.5)
        right.set(xlabel="seconds", ylabel="ms", title="Freshness over time")
        made.append(_save(fig, out, "ingest_freshness.png"))
    samples = sections.get("api", {}).get("samples", {})
    if samples:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for route, latencies in samples.items():
            ax.hist(latencies, bins=80, histtype="step", label=route)
        ax.set(xlabel="ms", ylabel="requests", title="API latency per route", yscale="log")
        ax.legend()
        made.append(_save(fig, out, "api_latency.png"))
    return made


def _save(fig: Any, out: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    import matplotlib.pyplot as plt  # noqa: PLC0415

    plt.close(fig)
    return name
