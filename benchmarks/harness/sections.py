"""One function per section of ``omnistock bench``: each returns its figures as a dict.

Every section measures its ceiling in the same run (machine noise hits both alike) and reports
the ratio. ``quick`` sizes each to finish ``all`` within three minutes on a 2-core machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NETWORK_STORES = 50  # the built-in network's stores in the replay and ingest logs


@dataclass
class Context:
    """What the sections share: sizes, and where Kafka and the API are (started if absent).

    ``workloads`` gets each section's workload parameters, for ``results.json``'s parameters.
    """

    quick: bool
    bootstrap: str | None = None
    api_url: str | None = None
    workloads: dict[str, dict[str, Any]] = field(default_factory=dict)

    def broker(self) -> str:
        """The named broker, or the local one (``docker/kafka-local.sh``), started once."""
        if self.bootstrap is None:
            from benchmarks.kafka_io import broker  # noqa: PLC0415

            self.bootstrap = broker()
        return self.bootstrap


def replay(ctx: Context) -> dict[str, Any]:
    """The offline fold of a realistic log (the workload on the built-in network) against
    ``orjson.loads`` of its lines."""
    from benchmarks import replay_throughput  # noqa: PLC0415 - each section loads its own

    events = 200_000 if ctx.quick else 1_000_000
    figures = replay_throughput.measure(
        events, rounds=1 if ctx.quick else 3, network_stores=NETWORK_STORES
    )
    ctx.workloads["replay"] = figures.pop("workload")
    return figures


def ingest(ctx: Context) -> dict[str, Any]:
    """Kafka through the dataflow: throughput against a bare consumer, source lag over time,
    freshness, flash sale; the log is the workload on the built-in network."""
    from benchmarks import ingest as ingest_bench  # noqa: PLC0415

    if ctx.quick:
        sizes: dict[str, Any] = {"events": 100_000, "rate": 10_000, "seconds": 4}
    else:
        sizes = {"events": 300_000, "rate": 20_000, "seconds": 15}
    figures = ingest_bench.measure(ctx.broker(), stores=NETWORK_STORES, **sizes)
    ctx.workloads["ingest"] = figures.pop("workload")
    return figures


def promise(ctx: Context) -> dict[str, Any]:
    """The numba calculator against the plain-Python twin; listing page; cold start."""
    from benchmarks import promise_bench  # noqa: PLC0415

    return promise_bench.measure(quick=ctx.quick)


def api(ctx: Context) -> dict[str, Any]:
    """The HTTP routes at their target rates, open loop, generator in its own process."""
    from benchmarks import api_load  # noqa: PLC0415

    return api_load.measure(quick=ctx.quick, bootstrap=ctx.broker(), api_url=ctx.api_url)
