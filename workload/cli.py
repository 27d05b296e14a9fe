"""The command line: ``python -m workload --events N --out PATH [...]``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import fields

from . import __doc__ as package_doc
from .model import write_log
from .network import NETWORK_SEED, network_workload
from .params import TS_FORMATS, WorkloadParams


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m workload --events N --out PATH [...]``."""
    ap = argparse.ArgumentParser(
        prog="python -m workload",
        description=package_doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--out", required=True, help="output JSONL path")
    ap.add_argument(
        "--network",
        action="store_true",
        help="stores, DCs and skus of the built-in network (workload/builtin.py), store "
        "traffic by city population; --stores and --skus size it, its DCs are its own; the "
        "daily curve is on unless --no-daily-curve",
    )
    ap.add_argument("--network-seed", type=int, default=NETWORK_SEED, help="with --network")
    for f in fields(WorkloadParams):
        flag = f"--{f.name.replace('_', '-')}"
        if f.name == "mix":
            continue
        if f.name == "daily_curve":  # default: on with --network, else off
            ap.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
            continue
        choices = TS_FORMATS if f.name == "ts_format" else None
        ap.add_argument(flag, type=type(f.default), default=f.default, choices=choices)
    args = vars(ap.parse_args(argv))
    out, started = args.pop("out"), time.perf_counter()
    network, network_seed = args.pop("network"), args.pop("network_seed")
    curve = args["daily_curve"]
    args["daily_curve"] = bool(curve)
    try:
        params, cat = WorkloadParams(**args), None
        if network:
            params, cat = network_workload(
                params,
                stores=params.stores,
                skus=params.skus,
                network_seed=network_seed,
                daily_curve=curve is None or curve,
            )
        count = write_log(out, params, cat)
    except ValueError as exc:
        ap.error(str(exc))
    print(f"wrote {count} lines to {out} in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0
