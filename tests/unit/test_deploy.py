"""``docker/compose.yaml``: every Omnistock service runs a command our CLI takes, and the
dataflow's processes form one cluster (this machine has no Docker daemon to start it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from omnistock.cli import build_parser

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def services() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    return found


def commands() -> dict[str, Any]:
    """The parsed command of every service that runs ``omnistock`` (the image's entrypoint)."""
    return {
        name: build_parser().parse_args(service["command"])
        for name, service in services().items()
        if service.get("image") == "omnistock:local" and "entrypoint" not in service
    }


def test_every_omnistock_service_runs_a_command_the_cli_takes():
    assert {args.command for args in commands().values()} == {"run", "serve"}
    assert 'ENTRYPOINT ["omnistock"]' in (DOCKER / "Dockerfile").read_text()


def test_the_dataflow_processes_form_one_cluster_over_a_multiple_of_the_workers():
    runs = {name: args for name, args in commands().items() if args.command == "run"}
    addresses = {args.addresses for args in runs.values()}
    assert len(addresses) == 1  # every process lists the same cluster
    hosts = [address.split(":")[0] for address in addresses.pop().split(";")]
    assert sorted(hosts) == sorted(runs)
    assert sorted(args.process_id for args in runs.values()) == list(range(len(runs)))
    for name, args in runs.items():
        assert hosts[args.process_id] == name  # -i names this process's own address
        assert args.partitions % (args.workers * len(runs)) == 0
        assert args.recovery_dir is not None


def test_the_api_replicas_read_kafka():
    serve = [args for args in commands().values() if args.command == "serve"]
    assert serve and all(args.bootstrap == "kafka:9092" for args in serve)
