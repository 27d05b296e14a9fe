"""``omnistock run``: the dataflow against Kafka (docs/api.md §8).

One process runs ``--workers`` Bytewax workers (threads: they share the GIL, so for throughput
prefer more processes, ``-i``/``-a``, over more workers). With ``--recovery-dir`` the state is
snapshotted every ``--snapshot-s`` seconds; a restart after a crash resumes from the last
snapshot and replays the events after it (state exactly once, output at least once). With
``--metrics-port`` the process serves its dataflow's metrics (``dataflows.metrics``) at
``http://HOST:PORT/metrics``: each process of a cluster its own, for Prometheus to sum.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from omnistock.settings import Settings, add_policy_argument

RECOVERY_PARTITIONS = 16  # fixed once created: the most workers (all processes) ever run


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "run",
        help="the dataflow on Kafka: events in, positions and outcomes out",
        description="Consume the events topic, fold it into per-location positions, and "
        "write positions, reservation outcomes, alerts and dead letters to their topics.",
    )
    parser.add_argument(
        "--bootstrap", required=True, metavar="HOST:PORT", help="a Kafka broker to start from"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="workers in this process (default 1)"
    )
    parser.add_argument(
        "--recovery-dir",
        type=Path,
        metavar="DIR",
        help="snapshot the state here and resume from it after a crash (default: none)",
    )
    parser.add_argument(
        "--snapshot-s",
        type=float,
        default=5.0,
        help="seconds between snapshots with --recovery-dir (default 5)",
    )
    parser.add_argument(
        "--sku-shards",
        type=int,
        default=1,
        help="pickle each location's state in this many shards, each re-pickled only when "
        "something in it changed: snapshots of big stores cost what changed (default 1: whole)",
    )
    parser.add_argument(
        "--topic-prefix",
        default=None,
        help="topic names start with this (default: OMNISTOCK_TOPIC_PREFIX, else omnistock.)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=4,
        help="partitions of the topics when they are created (default 4)",
    )
    parser.add_argument(
        "-i", "--process-id", type=int, default=None, help="this process's index among --addresses"
    )
    parser.add_argument(
        "-a", "--addresses", default=None, help="host:port of every process, separated by ';'"
    )
    parser.add_argument(
        "--network",
        type=Path,
        metavar="FILE",
        help="delivery network (JSON) with regions: keep the promise table on "
        "omnistock.promises (docs/network.md §9)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        metavar="PORT",
        help="serve this process's dataflow metrics (Prometheus) on http://HOST:PORT/metrics "
        "(default 0: none)",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="the address --metrics-port listens on (default 127.0.0.1; 0.0.0.0 in a container)",
    )
    add_policy_argument(parser)
    parser.set_defaults(run=run)


def load_maker(path: Path | None) -> Any:
    """The promise table's maker (``engine.promise.table``) over the network in ``path``;
    ``None`` without a file, or when the file names no region.

    Raises:
        ConfigError: the file cannot be read or is invalid.
    """
    if path is None:
        return None
    from engine.promise.network import load_network  # noqa: PLC0415 - numba only with a network
    from engine.promise.table import maker_of  # noqa: PLC0415

    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the network file {path}: {exc.strerror}") from None
    return maker_of(load_network(text))


def run(args: argparse.Namespace) -> int:
    from bytewax.recovery import RecoveryConfig, init_db_dir  # noqa: PLC0415 - heavy import
    from bytewax.run import cli_main  # noqa: PLC0415

    from dataflows import kafka  # noqa: PLC0415
    from dataflows.flow import build_flow  # noqa: PLC0415
    from dataflows.progress import Progress  # noqa: PLC0415

    settings = Settings.from_env()
    config = settings.engine(settings.load_policy(args.policy))  # a bad file: exit 2, first
    prefix = args.topic_prefix if args.topic_prefix is not None else settings.topic_prefix
    if args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if args.sku_shards < 1:
        raise ConfigError("--sku-shards must be at least 1")
    if not 0 <= args.metrics_port <= 65535:
        raise ConfigError("--metrics-port must be a port number (0: no metrics)")
    maker = load_maker(args.network)  # a bad file: exit 2 before Kafka is touched
    topics = kafka.Topics(prefix)
    kafka.ensure_topics(args.bootstrap, topics, args.partitions)
    progress = Progress()  # expiry on the wall clock waits until the input has caught up
    metrics = serve_metrics(args.metrics_host, args.metrics_port, progress)
    source = kafka.source(args.bootstrap, topics, progress=progress)
    keying = source.keying()  # OMNISTOCK_KEYING: the books' keys (dataflows.keying)
    workers = args.workers * (len(args.addresses.split(";")) if args.addresses else 1)
    partitions = len(source.list_parts())
    if partitions % workers:
        print(
            f"omnistock run: warning: {partitions} partitions over {workers} workers: Bytewax 0.21 "
            "can stall a worker that reads fewer partitions than others (its PR 556); use a "
            "multiple of the workers",
            file=sys.stderr,
        )
    flow = build_flow(
        source,
        kafka.PublishSink(args.bootstrap, topics, flush_every_batch=args.recovery_dir is not None),
        config,
        args.sku_shards,
        progress=progress,
        maker=maker,
        metrics=metrics,
        keying=keying,
    )
    recovery = None
    epoch = None
    if args.recovery_dir is not None:
        args.recovery_dir.mkdir(parents=True, exist_ok=True)
        if not any(args.recovery_dir.iterdir()):
            init_db_dir(args.recovery_dir, RECOVERY_PARTITIONS)
        else:
            from dataflows.keying import stored_mismatch  # noqa: PLC0415

            stale = stored_mismatch(args.recovery_dir, keying)
            if stale is not None:
                raise ConfigError(
                    f"the recovery store {args.recovery_dir} holds a book keyed {stale!r}, which "
                    f"this run would never find ({topics.events} has {partitions} partitions): "
                    "a store written before issue #19 resumes with OMNISTOCK_KEYING=location"
                )
        recovery = RecoveryConfig(args.recovery_dir)
        epoch = timedelta(seconds=args.snapshot_s)
    addresses = args.addresses.split(";") if args.addresses else None
    cli_main(
        flow,
        workers_per_process=args.workers,
        process_id=args.process_id,
        addresses=addresses,
        epoch_interval=epoch,
        recovery_config=recovery,
    )
    return 0


def serve_metrics(host: str, port: int, progress: Any) -> Any:
    """The process's ``FlowMetrics``, served over HTTP on ``host:port`` (with the process's
    CPU and memory); ``None`` for port 0: nothing is counted.

    Raises:
        ConfigError: the address is taken.
    """
    if not port:
        return None
    from prometheus_client import start_http_server  # noqa: PLC0415

    metrics = process_metrics(progress)
    try:
        start_http_server(port, host, metrics.registry)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve metrics on {host}:{port} ({exc.strerror}): choose another --metrics-port"
        ) from None
    print(f"omnistock run: metrics on http://{host}:{port}/metrics", file=sys.stderr, flush=True)
    return metrics


def process_metrics(progress: Any) -> Any:
    """What ``--metrics-port`` serves: the dataflow's ``FlowMetrics`` over ``progress``, and the
    process's CPU, memory and open files (``process_*``), in one registry."""
    from prometheus_client import ProcessCollector  # noqa: PLC0415

    from dataflows.metrics import FlowMetrics  # noqa: PLC0415

    metrics = FlowMetrics(progress=progress)
    ProcessCollector(registry=metrics.registry)
    return metrics
