"""What a five-channel policy costs ``omnistock replay`` (issue #15: at most 1.25 x without one).

Generates (once, cached under ``benchmarks/results/cache/``) a log on the built-in network with
the generator the other replay benchmarks use (``workload``), with its reserves spread over five
channels: the generator draws ``web``, ``app``, ``pos`` and ``call_centre`` (a log cached before
it did spelt ``call_center``: renamed here), and half of the ``web`` and ``app`` reserves at a DC
become ``marketplace`` (chosen by the reservation id, so a duplicate
line stays the duplicate of its original). Then it writes a policy on the log's own ids
(docs/policy.md §2):

- channels ``web``, ``app``, ``call_centre`` (only at the group ``east``: the stores in the
  ``America/New_York`` zone and the DCs), ``pos`` (no safety stock held back) and
  ``marketplace`` (only at the group ``dcs``, the DCs; ``buffer_pct`` 20, ``protect_units`` 1);
  ``default_channel`` ``web``;
- safety stock 2 for the most reserved skus (``SAFETY_SKUS`` of them), 0 for the rest.

The generator does not know the policy: the reserves it rejects (``call_centre`` outside
``east``, ``marketplace`` short of its buffer) are ones the generator later releases or
fulfils, which are dead letters (``reservation_ended``) under the policy only, about 3,200
more in 1,000,000 lines. Both runs must still account for every line.

It checks both runs (exit 0, every line accounted for, the default's positions carry the four
default channels and the policy's the five), then times ``omnistock replay LOG`` and
``omnistock replay --policy FILE LOG`` end to end as processes, in alternate rounds (which goes
first alternates too), and prints the median of each, the events/s of each and the ratio of
the medians of the wall times, policy over default, against 1.25; also the median of each
round's own ratio, the ratio of the medians of the processes' CPU seconds (user and system:
less moved by other processes on a busy machine than wall time) and of the fold rate ``replay``
reports. Exits 1 when the wall-time ratio is over 1.25.

With ``--callgrind``, instead of timing, it runs each replay once under ``valgrind
--tool=callgrind`` and compares the instructions each process executes: a ratio no other
process on the machine moves (about 60 times slower than a plain run: take a smaller log).

    python -m benchmarks.policy_cost [--events 1000000] [--rounds 5]
    python -m benchmarks.policy_cost --events 200000 --callgrind
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from engine.policy import load
from workload import MODEL_VERSION, Catalogue, WorkloadParams, generate, network_workload
from workload.builtin import five_channels as contract_channels

CACHE = Path(__file__).resolve().parent / "results" / "cache"
LIMIT = 1.25
DEFAULT_CHANNELS = ("web", "app", "call_centre", "pos")
POLICY_CHANNELS = ("web", "app", "call_centre", "pos", "marketplace")
EAST_ZONE = "America/New_York"
MARKETPLACE_SHARE = 50  # percent of the web and app reserves at a DC
SAFETY_SKUS = 500
_RESERVE = b'"type":"reserve"'


def workload(events: int, seed: int, stores: int) -> tuple[WorkloadParams, Catalogue]:
    return network_workload(WorkloadParams(events=events, seed=seed), stores=stores)


def five_channels(line: bytes, dcs: frozenset[str]) -> bytes:
    """The generator's line with its reserve on one of the five channels (a pure function of
    the line: a duplicate line becomes the same line as its original)."""
    if _RESERVE not in line:
        return line
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return line
    if not isinstance(event, dict) or event.get("type") != "reserve":
        return line
    channel = event.get("channel", "web")
    if channel == "call_center":
        event["channel"] = "call_centre"
    elif (
        channel in ("web", "app")
        and event.get("location_id") in dcs
        and zlib.crc32(str(event.get("reservation_id")).encode()) % 100 < MARKETPLACE_SHARE
    ):
        event["channel"] = "marketplace"
    else:
        return line
    return orjson.dumps(event)


def event_log(events: int, seed: int, stores: int) -> Path:
    """The five-channel log for these parameters, made once."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"policy-v{MODEL_VERSION}-net{stores}-{events}-{seed}.jsonl"
    if not path.exists():
        started = time.perf_counter()
        params, cat = workload(events, seed, stores)
        dcs = frozenset(cat.dcs)
        lines: Iterator[bytes] = (five_channels(line, dcs) for line in generate(params, cat))
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as out:
            while chunk := list(islice(lines, 8192)):
                out.write(b"\n".join(chunk) + b"\n")
        tmp.rename(path)
        print(f"generated {path.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


def scan(path: Path) -> tuple[int, set[str], Counter[str], Counter[str]]:
    """The log's lines, the locations it names, its reserves by channel and by sku."""
    lines = 0
    locations: set[str] = set()
    channels: Counter[str] = Counter()
    skus: Counter[str] = Counter()
    with path.open("rb", buffering=1 << 20) as log:
        for line in log:
            lines += 1
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(event, dict) or not isinstance(event.get("location_id"), str):
                continue
            locations.add(event["location_id"])
            if event.get("type") == "reserve":
                channels[str(event.get("channel", "web"))] += 1
                skus[str(event.get("sku"))] += 1
    return lines, locations, channels, skus


def policy(cat: Catalogue, locations: set[str], skus: Counter[str]) -> dict[str, Any]:
    """The five-channel policy on the log's location ids."""
    dcs = sorted(loc for loc in locations if loc in set(cat.dcs))
    zones = dict(zip(cat.stores, cat.store_zones or (), strict=True))
    east = sorted(loc for loc in locations if zones.get(loc) == EAST_ZONE)
    if not dcs or not east:
        raise SystemExit(f"the log names {len(dcs)} DCs and {len(east)} stores in {EAST_ZONE}")
    return {
        "channels": contract_channels("east", "dcs"),
        "default_channel": "web",
        "groups": [
            {"id": "dcs", "locations": dcs},
            {"id": "east", "locations": [*east, "group:dcs"]},
        ],
        "safety_stock": {
            "default": 0,
            "skus": {sku: 2 for sku, _ in skus.most_common(SAFETY_SKUS)},
        },
    }


def replay_command(log: Path, policy_file: Path | None) -> list[str]:
    flags = [] if policy_file is None else ["--policy", str(policy_file)]
    return [sys.executable, "-m", "omnistock.cli", "replay", *flags, str(log)]


def summary_figures(summary: str) -> dict[str, float]:
    """The figures of ``replay``'s summary on stderr."""
    return {
        name: float(value.replace(",", ""))
        for value, name in re.findall(
            r"([\d.,]+) (events applied|duplicates|dead letters|positions|s|events/s)\b",
            summary,
        )
    }


def children_cpu() -> float:
    """CPU seconds (user and system) of the children reaped so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def replay_once(
    log: Path, policy_file: Path | None, stdout: Any = subprocess.DEVNULL
) -> tuple[float, float, dict[str, float]]:
    """Wall and CPU seconds of one ``omnistock replay`` process and its summary's figures;
    exits unless it exits 0."""
    cpu = children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        replay_command(log, policy_file), stdout=stdout, stderr=subprocess.PIPE, check=False
    )
    took = time.perf_counter() - started
    cpu = children_cpu() - cpu
    if done.returncode != 0:
        side = "default" if policy_file is None else "policy"
        raise SystemExit(f"{side} replay exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return took, cpu, summary_figures(done.stderr.decode())


def check(log: Path, policy_file: Path | None, lines: int, channels: tuple[str, ...]) -> str:
    """One replay, its positions read: exit 0, every line accounted for, every position's
    ``channels`` exactly ``channels``. A line saying so (and where marketplace sells)."""
    with tempfile.TemporaryFile() as out:
        _, _, figures = replay_once(log, policy_file, out)
        out.seek(0)
        positions = wrong = 0
        marketplace: Counter[str] = Counter()
        for line in out:
            record = orjson.loads(line)
            positions += 1
            if tuple(record["channels"]) != channels:
                wrong += 1
            if record["channels"].get("marketplace", 0) > 0:
                marketplace[record["location_id"]] += 1
    side = "default" if policy_file is None else "policy"
    accounted = figures["events applied"] + figures["duplicates"] + figures["dead letters"]
    if accounted != lines:
        raise SystemExit(f"{side} replay accounted for {accounted:.0f} of {lines} lines")
    if wrong or positions != figures["positions"]:
        raise SystemExit(f"{side} replay: {wrong} of {positions} positions lack {channels}")
    where = ""
    if "marketplace" in channels:
        at = ", ".join(sorted(marketplace))
        where = f"; marketplace sells at {sum(marketplace.values()):,} positions, at {at}"
    return (
        f"{side} replay: exit 0, {figures['events applied']:,.0f} applied, "
        f"{figures['duplicates']:,.0f} duplicates, {figures['dead letters']:,.0f} dead letters "
        f"(all {lines:,} lines), {positions:,} positions, each with {len(channels)} channels "
        f"({', '.join(channels)}){where}"
    )


def measure(
    log: Path, policy_file: Path, rounds: int, lines: int
) -> dict[str, dict[str, list[float]]]:
    """``rounds`` of both, alternating (odd rounds default first, even rounds policy first):
    wall and CPU seconds and the in-process events/s ``replay`` reports, per side."""
    sides: dict[str, Path | None] = {"default": None, "policy": policy_file}
    runs: dict[str, dict[str, list[float]]] = {
        side: {"s": [], "cpu": [], "fold": []} for side in sides
    }
    for round_ in range(1, rounds + 1):
        order = list(sides) if round_ % 2 else list(reversed(sides))
        for side in order:
            took, cpu, figures = replay_once(log, sides[side])
            runs[side]["s"].append(took)
            runs[side]["cpu"].append(cpu)
            runs[side]["fold"].append(figures["events/s"])
        default, with_policy = runs["default"]["s"][-1], runs["policy"]["s"][-1]
        print(
            f"round {round_} ({order[0]} first): default {default:.2f} s "
            f"({lines / default:,.0f} events/s), policy {with_policy:.2f} s "
            f"({lines / with_policy:,.0f} events/s): {with_policy / default:.3f}; CPU "
            f"{runs['default']['cpu'][-1]:.2f} and {runs['policy']['cpu'][-1]:.2f} s",
            file=sys.stderr,
        )
    return runs


def instructions(log: Path, policy_file: Path | None, out: Path) -> int:
    """Instructions one ``omnistock replay`` process executes, counted by callgrind."""
    done = subprocess.run(
        [
            *("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"),
            *replay_command(log, policy_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    found = re.search(rb"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"callgrind of replay failed: {done.stderr.decode()[-2000:]}")
    return int(found.group(1).replace(b",", b""))


def count(log: Path, policy_file: Path, tmp: Path) -> int:
    """Both replays once under callgrind: their instructions and the ratio (not moved by
    other processes; about 60 times slower than a run, a minute for 200,000 events)."""
    default = instructions(log, None, tmp / "callgrind.default")
    with_policy = instructions(log, policy_file, tmp / "callgrind.policy")
    ratio = with_policy / default
    print(
        f"instructions (callgrind, the whole process): default {default:,}, policy {with_policy:,}"
    )
    verdict = "pass" if ratio <= LIMIT else "FAIL"
    print(f"policy/default: {ratio:.4f} of the instructions: {verdict} (at most {LIMIT})")
    return 0 if ratio <= LIMIT else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--network-stores", type=int, default=50)
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="instead of timing, count both replays' instructions once under valgrind "
        "(take --events 200000: a minute each)",
    )
    args = parser.parse_args(argv)

    log = event_log(args.events, args.seed, args.network_stores)
    lines, locations, by_channel, by_sku = scan(log)
    reserves = sum(by_channel.values())
    mix = ", ".join(f"{name} {n / reserves:.0%}" for name, n in by_channel.most_common())
    print(
        f"log: {log.name}, {lines:,} lines, {log.stat().st_size / 1e6:.0f} MB, "
        f"{len(locations)} locations; {reserves:,} reserves: {mix}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        policy_file = Path(tmp) / "policy.json"
        spec = policy(workload(args.events, args.seed, args.network_stores)[1], locations, by_sku)
        policy_file.write_bytes(orjson.dumps(spec, option=orjson.OPT_INDENT_2))
        loaded = load(policy_file.read_bytes())
        if tuple(c.name for c in loaded.channels) != POLICY_CHANNELS:
            raise SystemExit(f"the policy's channels: {[c.name for c in loaded.channels]}")
        print(
            f"policy: channels {', '.join(POLICY_CHANNELS)}; groups "
            + "; ".join(f"{gid} {len(members)} locations" for gid, members in loaded.groups.items())
            + f"; safety stock 2 for {len(loaded.safety_skus)} skus; default_channel web"
        )
        print(check(log, None, lines, DEFAULT_CHANNELS))
        print(check(log, policy_file, lines, POLICY_CHANNELS))
        if args.callgrind:
            return count(log, policy_file, Path(tmp))
        runs = measure(log, policy_file, args.rounds, lines)

    default, with_policy = (statistics.median(runs[side]["s"]) for side in runs)
    ratio = with_policy / default
    paired = statistics.median(
        p / d for d, p in zip(runs["default"]["s"], runs["policy"]["s"], strict=True)
    )
    fold = {side: statistics.median(runs[side]["fold"]) for side in runs}
    cpu = {side: statistics.median(runs[side]["cpu"]) for side in runs}
    print(f"medians of {args.rounds} alternate rounds, end to end (the process, start-up included)")
    print(
        f"  default policy  {lines / default:>10,.0f} events/s  {default:.2f} s  "
        f"(CPU {cpu['default']:.2f} s; fold in process {fold['default']:,.0f} events/s)"
    )
    print(
        f"  five channels   {lines / with_policy:>10,.0f} events/s  {with_policy:.2f} s  "
        f"(CPU {cpu['policy']:.2f} s; fold in process {fold['policy']:,.0f} events/s)"
    )
    verdict = "pass" if ratio <= LIMIT else "FAIL"
    print(
        f"policy/default: {ratio:.3f} of the time (median of the rounds' own ratios "
        f"{paired:.3f}; CPU {cpu['policy'] / cpu['default']:.3f}; in-process fold "
        f"{fold['default'] / fold['policy']:.3f}): "
        f"{verdict} (at most {LIMIT})"
    )
    return 0 if ratio <= LIMIT else 1


if __name__ == "__main__":
    raise SystemExit(main())
