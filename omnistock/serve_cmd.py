"""``omnistock serve`` and ``omnistock demo``: the HTTP API (docs/api.md §8).

``serve`` without ``--bootstrap`` runs the dataflow of ``omnistock run`` in this process
(embedded, starting empty, fed by ``POST /v1/events`` and reservations); with ``--bootstrap``
it serves from the topics ``omnistock run`` writes and sends writes to ``omnistock.events``.
``demo`` is ``serve`` embedded over the built-in network (``workload.builtin``: stores in real
US cities, real holidays, so promises answer too), its dataflow fed by a live synthetic event
stream on that network (``workload``: traffic by city population), nothing to configure. Under
its banner a live line (``omnistock.status``) says what the dataflow is doing.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec

from engine.errors import ConfigError
from engine.policy import Policy
from omnistock.settings import Settings, add_policy_argument

DEMO_URL = "http://127.0.0.1:8000"


def add_parsers(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="the HTTP API: the dataflow in-process, or Kafka with --bootstrap",
        description="Serve the HTTP API (docs/api.md §6). Without --bootstrap the dataflow "
        "runs in this process and starts empty; with it, positions and outcomes come from the "
        "topics of `omnistock run` and writes go to the events topic.",
    )
    serve.add_argument("--bootstrap", metavar="HOST:PORT", help="Kafka mode")
    serve.add_argument("--network", type=Path, metavar="FILE", help="delivery network (JSON)")
    serve.add_argument("--api-keys", type=Path, metavar="FILE", help="API keys (JSON)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument(
        "--topic-prefix",
        default=None,
        help="with --bootstrap: topic names start with this (default: OMNISTOCK_TOPIC_PREFIX, "
        "else omnistock.)",
    )
    add_policy_argument(serve)
    serve.set_defaults(run=run_serve)
    demo = commands.add_parser(
        "demo",
        help="everything on one machine, nothing to configure",
        description=f"The dataflow in this process, fed by a live synthetic event stream on a "
        f"built-in network, and the API on {DEMO_URL}. Ctrl-C stops it.",
    )
    demo.add_argument("--rate", type=float, default=50.0, help="events per second (default 50)")
    demo.add_argument(
        "--stores", type=int, default=20, help="stores of the built-in network (default 20)"
    )
    demo.add_argument("--skus", type=int, default=200, help="skus of the catalogue (default 200)")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    demo.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    demo.set_defaults(run=run_demo)


def build(
    args: argparse.Namespace,
    settings: Settings,
    network_text: bytes | None = None,
    policy: Policy | None = None,
) -> Any:
    """The app for ``serve``'s flags (imports stay here: ``omnistock --help`` stays fast);
    ``network_text``: a network file's text, instead of ``--network``; ``policy``: instead of
    ``--policy``."""
    from api.app import create_app  # noqa: PLC0415 - heavy imports only for this command
    from api.auth import Keys  # noqa: PLC0415
    from api.readmodel import ReadModel  # noqa: PLC0415

    keys = Keys.load(args.api_keys or settings.api_keys_path, settings.api_keys)
    promiser = None
    locations: tuple[str, ...] = ()
    if getattr(args, "network", None) is not None or network_text is not None:
        from api.promiser import load_promiser, promiser_of  # noqa: PLC0415

        if network_text is None:
            promiser = load_promiser(args.network)
        else:
            promiser = promiser_of(network_text)
        locations = tuple(promiser.location_ids)
    if policy is None:
        policy = settings.load_policy(getattr(args, "policy", None))
    web = policy.channel("web")  # what a product page promises: the web's ATP
    readmodel = ReadModel(
        locations,
        window=timedelta(seconds=settings.dedup_window_s),
        promise_channel="web" if web is None else web.name,
    )
    backend: Any
    if getattr(args, "bootstrap", None):
        from api.backends.kafka import KafkaBackend  # noqa: PLC0415
        from dataflows.kafka import Topics  # noqa: PLC0415

        prefix = args.topic_prefix if args.topic_prefix is not None else settings.topic_prefix
        backend = KafkaBackend(readmodel, args.bootstrap, Topics(prefix))
    else:
        from api.backends.embedded import EmbeddedBackend  # noqa: PLC0415

        maker = None  # the promise table runs in the dataflow when the network has regions
        if promiser is not None:
            from engine.promise.table import maker_of  # noqa: PLC0415

            maker = maker_of(promiser.network)  # type: ignore[attr-defined]
        backend = EmbeddedBackend(readmodel, settings.engine(policy), maker=maker)
    app = create_app(
        backend,
        keys=keys,
        promiser=promiser,
        timeout_s=settings.api_timeout_s,
        max_body=settings.api_max_body,
        max_future_s=settings.max_future_s,
        policy=policy,
    )
    return app, backend, keys


def run_serve(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    _port_free(args.host, args.port)
    app, _, keys = build(args, settings)
    mode = "kafka " + args.bootstrap if args.bootstrap else "embedded"
    auth = "open (no keys configured)" if not keys.enabled else f"{len(keys.scopes_by_key)} keys"
    print(f"omnistock serve: {mode}, auth {auth}, http://{args.host}:{args.port}", flush=True)
    _uvicorn(app, args.host, args.port)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """``omnistock demo``. Ctrl-C is how a demo stops, at any moment, before the API is up as
    well as after (uvicorn handles it once it runs): it stops what has started and exits 0."""
    with contextlib.suppress(KeyboardInterrupt):
        _demo(args)
    return 0


def _demo(args: argparse.Namespace) -> None:
    if args.rate <= 0:
        raise ConfigError("--rate must be above 0")
    settings = Settings.from_env()
    args.bootstrap = None
    args.api_keys = None
    args.network = None
    settings = msgspec.structs.replace(settings, api_keys=None, api_keys_file=None)
    import orjson  # noqa: PLC0415

    from engine.policy import load  # noqa: PLC0415
    from workload.builtin import generate_network, generate_policy  # noqa: PLC0415

    _port_free(args.host, args.port)
    print("omnistock demo: starting the dataflow and its event stream...", flush=True)
    built = generate_network(stores=args.stores)
    policy = load(orjson.dumps(generate_policy(built, skus=args.skus)))
    app, backend, _ = build(args, settings, orjson.dumps(built), policy)
    stop, seeded = threading.Event(), threading.Event()
    feeder = threading.Thread(
        target=_feed, args=(backend, args, stop, seeded), name="demo-events", daemon=True
    )
    status = None
    try:
        backend.start()  # the dataflow, before the stream: the app's start-up finds it running
        feeder.start()
        seeded.wait(30)
        print(_help(args, policy, backend), flush=True)
        from omnistock.status import DemoStatus  # noqa: PLC0415

        status = DemoStatus(backend.flow.metrics.figures, f"http://{args.host}:{args.port}/")
        status.start()
        _uvicorn(app, args.host, args.port)
    finally:
        if status is not None:
            status.stop()
        stop.set()
        if feeder.is_alive():
            feeder.join(5)
        backend.stop()


def _help(args: argparse.Namespace, policy: Policy, backend: Any) -> str:
    """What the demo prints once its stream runs: where to look, and what to try."""
    location_id, sku = _in_stock(backend.readmodel)
    return _DEMO_HELP.format(
        base=f"http://{args.host}:{args.port}",
        rate=args.rate,
        stores=args.stores,
        skus=args.skus,
        location_id=location_id,
        sku=sku,
        kit=next(iter(policy.kits), "KIT-0001"),
        kits=", ".join(policy.kits) or "none",
    )


_DEMO_HELP = """\
Omnistock demo: the dataflow in this process, built-in network ({stores} stores in US cities,
4 DCs, {skus} skus), {rate:g} synthetic events/s, API on {base}
  page     {base}/
  docs     {base}/docs
  health   {base}/v1/health
  metrics  {base}/metrics
Try:
  curl -s {base}/v1/atp/{location_id}/{sku}
  curl -s -X POST {base}/v1/promise -H 'content-type: application/json' \\
       -d '{{"items": [{{"sku": "{sku}", "qty": 1}}], "destination": {{"postal_code": "60601"}}}}'
  curl -s -X POST {base}/v1/promise/listing -H 'content-type: application/json' \\
       -d '{{"skus": ["{sku}", "SKU000002"], "destination": {{"postal_code": "94103"}}}}'
  curl -s -X POST {base}/v1/atp/query -H 'content-type: application/json' \\
       -d '{{"skus": ["{sku}"], "location_ids": ["S0001", "S0002", "DC01", "{location_id}"]}}'
  curl -s -X POST {base}/v1/reservations -H 'content-type: application/json' \\
       -d '{{"reservation_id": "demo-1", "location_id": "{location_id}", "sku": "{sku}", "qty": 1}}'
  curl -s {base}/v1/reservations/demo-1
  curl -s -X DELETE {base}/v1/reservations/demo-1
  curl -s '{base}/v1/atp/group/dcs/{sku}?channel=marketplace'
  curl -s -X POST {base}/v1/reservations -H 'content-type: application/json' \\
       -d '{{"reservation_id": "demo-2", "location_group": "east", "sku": "{sku}", "qty": 1}}'
  curl -s '{base}/v1/alerts?limit=5'
A cart (held whole) and a kit (its components' ATP):
  curl -s -X POST {base}/v1/reservations -H 'content-type: application/json' \\
       -d '{{"reservation_id": "demo-3", "location_id": "{location_id}",
            "lines": [{{"sku": "{sku}", "qty": 1}}, {{"sku": "{kit}", "qty": 1}}]}}'
  curl -s {base}/v1/atp/{location_id}/{kit}
Policy: channels web, app, call_centre (east stores and DCs), pos, marketplace (DCs, 20 % buffer);
groups dcs, east, west, east_and_dcs; kits {kits} (docs/policy.md).
Ctrl-C stops it."""


def _in_stock(readmodel: Any) -> tuple[str, str]:
    """A position with stock, for the examples."""
    for sku in readmodel.skus():
        for location_id, record in readmodel.positions_of(sku).items():
            if record.atp > 0:
                return location_id, sku
    return "S0001", "SKU000001"


def _feed(
    backend: Any, args: argparse.Namespace, stop: threading.Event, seeded: threading.Event
) -> None:
    """Apply the synthetic stream: its stock-seeding lines at once, then ``--rate`` events/s of
    wall-clock time, event time following the wall clock. A log that runs out starts over with a
    new seed (its first lines then add stock)."""
    from workload import (  # noqa: PLC0415
        CART_MIX,
        WorkloadParams,
        generate,
        network_workload,
        seeding_lines,
    )
    from workload.builtin import DEMO_KITS  # noqa: PLC0415

    rounds = 0
    while not stop.is_set():
        events = 50 * (args.stores + 4) * args.skus  # seeding: about one line per position
        seeding = seeding_lines(events)
        params, catalogue = network_workload(
            WorkloadParams(
                events=events,
                seed=int(time.time()) + rounds,
                start_ms=int((time.time() - seeding / args.rate) * 1000),
                events_per_s=args.rate,
                dup_rate=0.0,
                bad_rate=0.0,
                mix=CART_MIX,  # carts and kits too, at a small rate
                kits=DEMO_KITS if args.skus >= 2 else 0,  # the policy's (generate_policy)
            ),
            stores=args.stores,
            skus=args.skus,
            daily_curve=False,  # a steady stream to watch, whatever the hour
        )
        rounds += 1
        start = time.monotonic()
        for sent, line in enumerate(generate(params, catalogue)):
            if stop.is_set():
                return
            if sent == seeding:
                backend.load([line])  # the seeding is applied before the banner shows a position
                seeded.set()
                continue
            ahead = (sent - seeding) / args.rate - (time.monotonic() - start)
            if ahead > 0:
                stop.wait(ahead)
            backend.feed(line, f"demo:{sent + 1}")


def _port_free(host: str, port: int) -> None:
    """Fail before anything starts when the address is taken, naming the flag to change."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({exc.strerror}): is another omnistock "
                "running? Choose another port with --port"
            ) from None


def _uvicorn(app: Any, host: str, port: int) -> None:
    import uvicorn  # noqa: PLC0415

    from api.server import Protocol  # noqa: PLC0415

    uvicorn.run(
        app,
        host=host,
        port=port,
        http=Protocol,  # the server's own errors in the envelope, and a header timeout
        log_level="warning",
        access_log=False,
        timeout_keep_alive=75,  # longer than load balancers' idle timeouts (60 s)
        timeout_graceful_shutdown=5,
    )
