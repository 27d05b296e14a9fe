"""The command line: ``python -m benchmarks.workload --events N --out PATH [...]``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import fields

from . import __doc__ as package_doc
from .model import write_log
from .params import TS_FORMATS, WorkloadParams


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.workload --events N --out PATH [...]``."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.workload", description=package_doc)
    ap.add_argument("--out", required=True, help="output JSONL path")
    for f in fields(WorkloadParams):
        if f.name == "mix":
            continue
        choices = TS_FORMATS if f.name == "ts_format" else None
        flag = f"--{f.name.replace('_', '-')}"
        ap.add_argument(flag, type=type(f.default), default=f.default, choices=choices)
    args = vars(ap.parse_args(argv))
    out, started = args.pop("out"), time.perf_counter()
    try:
        count = write_log(out, WorkloadParams(**args))
    except ValueError as exc:
        ap.error(str(exc))
    print(f"wrote {count} lines to {out} in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0
