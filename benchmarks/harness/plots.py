"""Plots of the report that take more than a few lines (matplotlib; the caller sets a backend)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any


def ingest_throughput_lag(series: dict[str, Any], rate: float | None) -> Any:
    """Throughput and source lag over time: the backlog drain (``series.lag``, its throughput
    from the messages reflected between samples) and the steady phase (``series.lag_steady``,
    events arriving at ``rate``). Each sample is ``[seconds, lag, reflected]``."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    panels = [(series["lag"], "Backlog drain: throughput and source lag")]
    if series.get("lag_steady"):
        panels.append((series["lag_steady"], f"Events arriving at {rate or 0:,.0f}/s"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels) + 1, 3.8), squeeze=False)
    for ax, (samples, title) in zip(axes[0], panels, strict=True):
        seconds = [t for t, _, _ in samples]
        through = [0.0] + [
            (b[2] - a[2]) / (b[0] - a[0]) if b[0] > a[0] else 0.0 for a, b in pairwise(samples)
        ]
        ax.step(seconds, through, where="pre", color="tab:blue")
        ax.set(xlabel="seconds", title=title)
        ax.set_ylabel("messages/s reflected on atp", color="tab:blue")
        ax.set_ylim(bottom=0)
        twin = ax.twinx()
        twin.plot(seconds, [n for _, n, _ in samples], color="tab:red", marker=".")
        twin.set_ylabel("source lag (messages)", color="tab:red")
        twin.set_ylim(bottom=0)
    return fig
