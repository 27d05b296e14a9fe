"""``omnistock promise`` and ``omnistock network``: delivery promises from the command line.

``promise`` reads the network file and the event log (the engine's ``Replay``), then prints the
answer ``POST /v1/promise`` would give for one item (docs/api.md §8). Reservations that are
due by ``--at`` have expired (or by the log's last ``ts``, when that is later). ATP is today's
figure; expected supply does not count.

``network`` writes the built-in network file (and, with ``--events``, its stock as receipts),
then says on standard error what it wrote.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from engine.errors import InputError
from engine.timefmt import parse_instant
from omnistock.settings import add_policy_argument


def add_parsers(commands: Any) -> None:
    parser = commands.add_parser(
        "promise",
        help="one item's delivery promise, as POST /v1/promise answers it",
        description="Print, as JSON, the answer POST /v1/promise would give for one item: the "
        "best option per service level, the pickup stores, and the cart summary.",
    )
    parser.add_argument("--network", required=True, metavar="FILE", help="the network file")
    parser.add_argument("--events", required=True, metavar="EVENTS.jsonl", help="the event log")
    parser.add_argument("--sku", required=True, help="the item's sku")
    parser.add_argument("--qty", type=int, default=1, help="units wanted (default 1)")
    parser.add_argument(
        "--to", required=True, metavar="POSTAL_CODE|LAT,LON", help="the destination"
    )
    parser.add_argument("--at", required=True, metavar="TS", help="the order instant")
    add_policy_argument(parser)
    parser.set_defaults(run=run_promise)

    network = commands.add_parser(
        "network",
        help="write the built-in delivery network file (and its stock)",
        description="Write the built-in network (stores in real US cities, distribution "
        "centres, US holidays, standard/express/same_day) as a network file a user can edit.",
    )
    network.add_argument("--stores", type=int, default=200, help="stores (default 200)")
    network.add_argument(
        "--skus", type=int, default=1000, help="catalogue size for --events (default 1000)"
    )
    network.add_argument(
        "--seed", type=int, default=7, help="which cities the stores draw (default 7)"
    )
    network.add_argument(
        "--regions",
        type=int,
        default=100,
        metavar="N",
        help="the 3-digit ZIP regions of the N most populous US cities, the promise table's "
        "destinations (default 100, 0 for none)",
    )
    network.add_argument("--out", default="-", metavar="FILE", help="default: standard output")
    network.add_argument("--events", metavar="FILE", help="also write the stock as receipts")
    network.add_argument(
        "--at",
        default="2026-11-20T08:00:00Z",
        metavar="TS",
        help="the receipts' ts (default 2026-11-20T08:00:00Z)",
    )
    network.set_defaults(run=run_network)


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as source:
            return source.read()
    except OSError as exc:
        raise InputError(f"cannot read the {what} {path!r}: {exc.strerror}") from None


def run_promise(args: argparse.Namespace) -> int:
    from api.postal import zip_centroid  # noqa: PLC0415
    from engine.book import Book  # noqa: PLC0415
    from engine.carts import kit_atp  # noqa: PLC0415
    from engine.policy import ChannelAt  # noqa: PLC0415
    from engine.promise.answers import promise_answer  # noqa: PLC0415 - numba loads lazily
    from engine.promise.calculator import Calculator  # noqa: PLC0415
    from engine.promise.destination import parse_destination  # noqa: PLC0415
    from engine.promise.network import load_network  # noqa: PLC0415
    from engine.replay import Replay  # noqa: PLC0415
    from omnistock.settings import Settings  # noqa: PLC0415

    if args.qty < 1:
        raise InputError(f"--qty {args.qty} must be at least 1")
    at = parse_instant(args.at)
    destination = parse_destination(args.to, zip_centroid)
    network = load_network(_read(args.network, "network file"))
    settings = Settings.from_env()
    replay = Replay(settings.engine(settings.load_policy(args.policy)))
    try:
        with open(args.events, "rb") as lines:
            replay.feed(lines, args.events)
    except OSError as exc:
        raise InputError(f"cannot read the event log {args.events!r}: {exc.strerror}") from None
    latest = replay.max_ts
    replay.finish(at if latest is None or at > latest else latest)
    # A product page promises what the web may sell (docs/policy.md): its channel's ATP; a
    # kit's from its components' (docs/events.md §12).
    atp = {}
    parts = replay.config.policy.kits.get(args.sku)
    for location_id, book in replay.books.items():
        web = book.channel("web")

        def web_atp(sku: str, book: Book = book, web: ChannelAt | None = web) -> int | None:
            position = book.positions.get(sku)
            if position is None:
                return None
            return position.atp if web is None else position.atp_for(web)

        if parts is not None:
            if any(sku in book.positions for sku, _ in parts):
                atp[location_id] = kit_atp(parts, web_atp)
            continue
        found = web_atp(args.sku)
        if found is not None:
            atp[location_id] = found
    calculator = Calculator(network)
    cart = calculator.cart([(args.sku, args.qty)], [calculator.stock(atp)], destination, at)
    answer = promise_answer(network, cart, destination, at)
    sys.stdout.buffer.write(orjson.dumps(answer, option=orjson.OPT_INDENT_2) + b"\n")
    return 0


def run_network(args: argparse.Namespace) -> int:
    from workload.builtin import generate_network, stock_events  # noqa: PLC0415

    if args.stores < 1 or args.skus < 1:
        raise InputError("--stores and --skus must be at least 1")
    if args.regions < 0:
        raise InputError(f"--regions {args.regions} must be at least 0 (0 for none)")
    parse_instant(args.at)
    network = generate_network(args.stores, args.seed, regions=args.regions)
    text = orjson.dumps(network, option=orjson.OPT_INDENT_2) + b"\n"
    try:
        if args.out == "-":
            sys.stdout.buffer.write(text)
        else:
            with open(args.out, "wb") as sink:
                sink.write(text)
        receipts = 0
        if args.events:
            ids = sorted(loc["id"] for loc in network["locations"])
            with open(args.events, "wb") as sink:
                for event in stock_events(ids, args.skus, args.at, args.seed):
                    sink.write(orjson.dumps(event) + b"\n")
                    receipts += 1
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror} ({exc.filename})") from None
    print(_wrote(network, args, receipts), file=sys.stderr)
    return 0


def _wrote(network: dict[str, Any], args: argparse.Namespace, receipts: int = 0) -> str:
    """What ``omnistock network`` wrote, and how to use it, for standard error."""
    kinds = [loc["kind"] for loc in network["locations"]]
    where = "standard output" if args.out == "-" else args.out
    said = (
        f"omnistock network: wrote {where}: {kinds.count('store')} stores, "
        f"{kinds.count('dc')} distribution centres, {len(network['service_levels'])} service "
        f"levels ({', '.join(level['name'] for level in network['service_levels'])}), "
        f"{len(network['regions'])} regions"
    )
    if args.events:
        said += f"; {args.events}: {receipts} receipts, the stock of {args.skus} skus"
    if args.out != "-":
        said += f"\n  serve it: omnistock serve --network {args.out}"
        if args.events:
            said += (
                f"\n  promise from it: omnistock promise --network {args.out} --events "
                f"{args.events} --sku SKU000001 --to 10001 --at {args.at}"
            )
    return said
