"""Before and after: ``omnistock replay`` of two checkouts over one log, in alternate rounds.

A change's cost on the offline fold, measured where the machine's swings hit both sides alike:
one log on the built-in network (``python -m workload --network``) is written once, then each
checkout's own ``omnistock replay`` (its ``.venv``) folds it in turn, end to end as a process.
The positions both print must be the same. Prints each round, the medians and the ratio of
after over before (of rates: below 1 is slower).

    python -m benchmarks.replay_ab --before ../before [--events 1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parents[1]


def replay(checkout: Path, log: Path) -> tuple[float, bytes]:
    """Seconds for ``checkout``'s replay of ``log``, and what it printed."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(checkout / ".venv" / "bin" / "omnistock"), "replay", str(log)],
        capture_output=True,
        check=True,
        timeout=900,
    )
    return time.perf_counter() - started, done.stdout


def same_positions(before: bytes, after: bytes) -> bool:
    """Whether two replays printed the same positions, on the fields both print (a newer
    checkout may print more: v2's ``channels``, ``sold_7d``, ``stockout_eta``)."""
    old, new = before.splitlines(), after.splitlines()
    if len(old) != len(new):
        return False
    for a, b in zip(old, new, strict=True):
        x, y = orjson.loads(a), orjson.loads(b)
        if any(x[key] != y[key] for key in x.keys() & y.keys()):
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "events.jsonl"
        subprocess.run(
            [
                *(sys.executable, "-m", "workload", "--out", str(log), "--network"),
                *("--events", str(args.events), "--seed", "7"),
            ],
            check=True,
            capture_output=True,
        )
        sides = {"before": args.before.resolve(), "after": HERE}
        seconds: dict[str, list[float]] = {side: [] for side in sides}
        for round_ in range(1, args.rounds + 1):
            printed = []
            for side, checkout in sides.items():
                took, out = replay(checkout, log)
                seconds[side].append(took)
                printed.append(out)
            if not same_positions(printed[0], printed[1]):
                raise SystemExit("the two checkouts printed different positions")
            print(
                f"round {round_}: before {seconds['before'][-1]:.2f} s, "
                f"after {seconds['after'][-1]:.2f} s",
                file=sys.stderr,
            )
    before, after = (statistics.median(seconds[side]) for side in sides)
    ratios = [b / a for a, b in zip(seconds["after"], seconds["before"], strict=True)]
    print(
        f"before {args.events / before:,.0f} events/s, after {args.events / after:,.0f} "
        "events/s (medians, end to end)"
    )
    print(f"after/before: median of rounds {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
