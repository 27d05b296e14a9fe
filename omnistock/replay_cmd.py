"""``omnistock replay``: fold a JSONL event log offline and print the positions it leaves.

Positions go to stdout as JSON lines sorted by ``location_id`` then ``sku``; the summary
(events applied, duplicates, dead letters, positions, elapsed, events/s) goes to stderr, and
while a big log is read, a bar of its progress when stderr is a terminal (``omnistock.status``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import time
from collections.abc import Iterable
from itertools import islice
from typing import IO, Any

import msgspec

from engine.claims import Losers
from engine.errors import InputError
from engine.outputs import Alert, alert_record
from engine.replay import Replay, revocations
from engine.timefmt import parse_instant
from omnistock.settings import Settings, add_policy_argument
from omnistock.status import ReadProgress

_BUFFER = 1 << 20
_BATCH = 4096  # records encoded in one call (``Encoder.encode_lines``)
# The last replay's state, kept once ``run`` returns: the command line leaves without tearing
# the heap down (``omnistock.cli.entry``), and dropping the state on return would first free
# its millions of objects one by one (0.2-0.6 s after a replay of a million events).
_kept: list[Replay] = []


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "replay",
        help="apply a JSONL event log offline; print the positions it leaves",
        description="Apply a JSONL event log with the engine's rules, expire what has expired "
        "as of --as-of, and print one JSON line per position, sorted by location_id then sku.",
    )
    parser.add_argument("events", help="the JSONL event log ('-' for standard input)")
    parser.add_argument(
        "--as-of",
        metavar="TS",
        help="expire reservations as of this instant (default: the largest ts applied)",
    )
    parser.add_argument(
        "--reservations",
        metavar="FILE",
        help="write one line per reservation: reservation_id, status, qty",
    )
    parser.add_argument(
        "--dead-letter",
        metavar="FILE",
        help="write invalid lines here (reason, raw, source); default: count them",
    )
    parser.add_argument(
        "--alerts",
        metavar="FILE",
        help="write the alerts the log fires here, one JSON line each, in order",
    )
    add_policy_argument(parser)
    parser.add_argument(
        "--now",
        metavar="TS",
        help="apply the live modes' clock rule with TS as the clock: an event dated more than "
        "OMNISTOCK_MAX_FUTURE_S (300) after it is a dead letter (default: no limit)",
    )
    parser.set_defaults(run=run)


def _losers(path: str) -> Losers | None:
    """The holds a live run's log revokes (``engine.claims``), from a first pass over a file:
    a replay then leaves what the live run left, whatever order its locations were written in.
    Standard input is read once: its revocations apply where they stand."""
    if path == "-" or not os.path.isfile(path) or not _mentions(path, b"revoke"):
        return None
    with contextlib.ExitStack() as stack:
        return revocations(_open_in(path, stack))


def _mentions(path: str, word: bytes) -> bool:
    """Whether the file holds ``word`` at all: a search of big blocks, much cheaper than a
    pass over its lines (a log without revocations is the common case)."""
    with open(path, "rb") as source:
        tail = b""
        while block := source.read(_BUFFER * 8):
            if word in tail + block[: len(word)] or word in block:
                return True
            tail = block[-len(word) :]
    return False


def run(args: argparse.Namespace) -> int:
    as_of = parse_instant(args.as_of) if args.as_of is not None else None
    now = parse_instant(args.now) if args.now is not None else None
    settings = Settings.from_env()
    config = settings.engine(settings.load_policy(args.policy))
    losers = _losers(args.events)
    encoder = msgspec.json.Encoder()
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        on_outputs = None
        if args.alerts:
            alerts = _open_out(args.alerts, stack)

            def on_outputs(outputs: list[Any]) -> None:
                for output in outputs:
                    if type(output) is Alert:
                        alerts.write(encoder.encode(alert_record(output)) + b"\n")

        replay = Replay(config, on_outputs, ledger=bool(args.reservations), now=now, losers=losers)
        source = _open_in(args.events, stack)
        on_dead_letter = None
        if args.dead_letter:
            sink = _open_out(args.dead_letter, stack)

            def on_dead_letter(record: dict[str, str]) -> None:
                sink.write(encoder.encode(record) + b"\n")

        # The engine's state holds no reference cycles: the cyclic collector would only rescan
        # millions of live positions on every allocation burst.
        gc.disable()
        try:
            with ReadProgress(source, args.events):
                replay.feed(source, args.events, on_dead_letter)
        finally:
            gc.enable()
        replay.finish(as_of)  # its expiries may fire alerts: the files are still open
    out = sys.stdout.buffer
    count = _write_lines(out, replay.records(), encoder)
    out.flush()
    if args.reservations:
        with open(args.reservations, "wb", buffering=_BUFFER) as sink:
            _write_lines(sink, replay.reservations(), encoder)
    _kept[:] = [replay]
    _summary(
        replay.applied,
        replay.duplicates,
        replay.dead_letters,
        count,
        time.perf_counter() - started,
    )
    return 0


def _write_lines(sink: IO[bytes], items: Iterable[Any], encoder: msgspec.json.Encoder) -> int:
    """Write each item as a JSON line, a batch per call; returns how many."""
    count = 0
    rows = iter(items)
    while batch := list(islice(rows, _BATCH)):
        sink.write(encoder.encode_lines(batch))
        count += len(batch)
    return count


def _open_in(path: str, stack: contextlib.ExitStack) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    try:
        return stack.enter_context(open(path, "rb", buffering=_BUFFER))
    except OSError as exc:
        raise InputError(f"cannot read the event log {path!r}: {exc.strerror}") from None


def _open_out(path: str, stack: contextlib.ExitStack) -> IO[bytes]:
    try:
        return stack.enter_context(open(path, "wb", buffering=_BUFFER))
    except OSError as exc:
        raise InputError(f"cannot write {path!r}: {exc.strerror}") from None


def _summary(applied: int, duplicates: int, dead: int, positions: int, elapsed: float) -> None:
    lines = applied + duplicates + dead
    rate = lines / elapsed if elapsed > 0 else 0.0
    print(
        f"replay: {applied} events applied, {duplicates} duplicates, {dead} dead letters, "
        f"{positions} positions, {elapsed:.3f} s, {rate:,.0f} events/s",
        file=sys.stderr,
    )
