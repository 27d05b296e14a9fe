"""``omnistock bench ingest|api|promise|replay|all [--quick] [--out DIR]``.

Each section starts what it needs (the local broker, the dataflow, the API) and stops it after;
the figures, their ceilings and plots go to ``--out`` (``results.json``, ``report.md``, PNGs).
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omnistock.settings import Settings, add_policy_argument

SECTIONS = ("replay", "ingest", "promise", "api")


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "bench",
        help="load-test harness: throughput, freshness, latency, oversell",
        description="Run benchmarks against their ceilings and write results.json, report.md "
        "and plots.",
    )
    parser.add_argument("what", choices=(*SECTIONS, "all"), help="which benchmark, or all")
    parser.add_argument("--quick", action="store_true", help="small sizes: all within 3 minutes")
    parser.add_argument("--out", type=Path, default=None, help="default benchmarks/results/<UTC>")
    parser.add_argument("--bootstrap", default=None, metavar="HOST:PORT", help="a running Kafka")
    parser.add_argument("--api-url", default=None, help="a running API (default: start one)")
    parser.add_argument(
        "--topic-prefix",
        default=None,
        help="each run makes fresh topics, named under this prefix (default: "
        "OMNISTOCK_TOPIC_PREFIX, else omnistock.)",
    )
    add_policy_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console  # noqa: PLC0415 - heavy imports stay off other commands
    from rich.progress import (  # noqa: PLC0415
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from benchmarks.harness import report, sections  # noqa: PLC0415

    if args.topic_prefix is not None:  # the benchmarks and the commands they start read it
        os.environ["OMNISTOCK_TOPIC_PREFIX"] = args.topic_prefix
    # The policy (--policy, else OMNISTOCK_POLICY) is checked here, exit 2, then read by what
    # the benchmarks start.
    Settings.from_env().load_policy(args.policy)
    if args.policy is not None:
        os.environ["OMNISTOCK_POLICY"] = str(Path(args.policy).resolve())
    chosen = SECTIONS if args.what == "all" else (args.what,)
    out = args.out or Path("benchmarks") / "results" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    ctx = sections.Context(quick=args.quick, bootstrap=args.bootstrap, api_url=args.api_url)
    console = Console(stderr=True)
    results: dict[str, dict[str, Any]] = {}
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        overall = progress.add_task(f"bench {args.what}", total=len(chosen))
        for name in chosen:
            task = progress.add_task(f"  {name}", total=None)
            results[name] = getattr(sections, name)(ctx)
            progress.update(task, total=1, completed=1)
            progress.advance(overall)
    parameters: dict[str, Any] = {
        "what": args.what,
        "quick": args.quick,
        "bootstrap": ctx.bootstrap or "none",
    }
    if ctx.workloads:  # each section's generated log: catalogue (the built-in network), sizes
        parameters["workload"] = ctx.workloads
    written = report.write(out, results, parameters)
    console.print(written.read_text(), markup=False)
    console.print(f"report: {written}")
    return 0
