"""The ``omnistock`` command: one subcommand per job (docs/api.md §8)."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence

from engine.errors import OmnistockError
from omnistock import bench_cmd, promise_cmd, replay_cmd, run_cmd, serve_cmd


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omnistock",
        description="Omnistock: real-time available-to-promise, reservations and delivery "
        "promises for omnichannel retail.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    replay_cmd.add_parser(commands)
    run_cmd.add_parser(commands)
    promise_cmd.add_parsers(commands)
    serve_cmd.add_parsers(commands)
    bench_cmd.add_parser(commands)
    return parser


# Every command holds a large, long-lived state (books, positions, reservations, the read model)
# that has no reference cycles: the cyclic collector never frees any of it, yet with Python's
# default thresholds (700, 10, 10) its passes over those live objects took a good share of a
# replay (docs/performance.md). Collect young objects every 100,000 allocations instead.
GC_THRESHOLDS = (100_000, 50, 100)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    gc.set_threshold(*GC_THRESHOLDS)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except OmnistockError as exc:
        print(f"omnistock {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader left (`| head`): stop quietly, as a Unix filter does
        _detach_stdout()
        return 141  # 128 + SIGPIPE
    return code


def _detach_stdout() -> None:
    """Point standard output at /dev/null, so that flushing what is left cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def entry() -> None:
    """The console script: ``main``, then leave without tearing the heap down.

    After a replay of tens of millions of events the interpreter would spend seconds freeing
    objects one by one at exit; every file is closed and every stream flushed by then.
    """
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _detach_stdout()
        code = code or 141
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
