"""``docker/grafana``'s dashboard asks only for series the code exports, and Prometheus scrapes
the processes that export them (``docker/prometheus.yml``, ``docker/compose.yaml``).

The names come from the real registries, made as the processes make them: the API's app over
the embedded backend (its ``/metrics`` includes the in-process dataflow's), and what
``omnistock run --metrics-port`` serves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from omnistock.cli import build_parser

DOCKER = Path(__file__).resolve().parents[2] / "docker"
DASHBOARD = DOCKER / "grafana" / "dashboards" / "omnistock.json"
# What a family of each type exposes (prometheus-client: a counter's family name lacks _total).
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count", ""),
    "gauge": ("",),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}
# PromQL words that look like names: functions (followed by "(") are dropped apart.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
KEYWORDS |= {"and", "or", "unless", "inf", "nan"}


def exported(registry: CollectorRegistry) -> set[str]:
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
        names.update(sample.name for sample in family.samples)
    return names


def every_exported_name() -> set[str]:
    from api.app import create_app
    from api.backends.embedded import EmbeddedBackend
    from api.readmodel import ReadModel
    from dataflows.progress import Progress
    from engine.book import EngineConfig
    from omnistock.run_cmd import process_metrics

    backend = EmbeddedBackend(ReadModel(), EngineConfig())
    app = create_app(backend)
    api = exported(app.state.omnistock.metrics.registry)
    run = exported(process_metrics(Progress()).registry)
    return api | run


def expressions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)


def metric_names(expr: str) -> set[str]:
    """The series an expression selects: every name but functions, keywords, label names
    and values, durations and grouping labels."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    text = re.sub(r"\{[^}]*\}", " ", text)  # matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", " ", text)  # grouping labels
    names = set()
    for found in re.finditer(r"(?<![\w:.])[A-Za-z_:][\w:]*", text):  # not in "5m", "1e3"
        rest = text[found.end() :].lstrip()
        word = found.group()
        if rest.startswith("(") or word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def test_the_name_parser_finds_series_not_functions_or_labels():
    expr = (
        "histogram_quantile(0.99, sum by (le, route) (rate(omnistock_api_request_seconds_bucket"
        '{status=~"4xx|5xx"}[5m]))) / sum(up{job="x"}) offset 5m'
    )
    assert metric_names(expr) == {"omnistock_api_request_seconds_bucket", "up"}


def test_every_expression_of_the_dashboard_names_a_series_the_code_exports():
    dashboard = json.loads(DASHBOARD.read_text())
    found = list(expressions(dashboard))
    assert len(found) >= 10
    known = every_exported_name()
    missing = {name for expr in found for name in metric_names(expr)} - known
    assert not missing, f"the dashboard asks for series nobody exports: {sorted(missing)}"


def test_the_dashboard_shows_every_dataflow_series():
    dashboard = json.loads(DASHBOARD.read_text())
    asked = {name for expr in expressions(dashboard) for name in metric_names(expr)}
    for name in (
        "omnistock_dataflow_events_total",
        "omnistock_dataflow_positions",
        "omnistock_dataflow_holds",
        "omnistock_dataflow_reservations_total",
        "omnistock_dataflow_alerts_total",
        "omnistock_dataflow_freshness_seconds_bucket",
        "omnistock_dataflow_input_lag_messages",
    ):
        assert name in asked


def test_every_panel_reads_the_provisioned_datasource():
    datasources = yaml.safe_load(
        (DOCKER / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    uids = {source["uid"] for source in datasources}
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] in uids, panel["title"]


def test_prometheus_scrapes_each_dataflow_process_on_its_metrics_port():
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    runs = {
        name: build_parser().parse_args(service["command"])
        for name, service in services.items()
        if service.get("image") == "omnistock:local"
        and "entrypoint" not in service
        and service["command"][0] == "run"
    }
    config = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {t for group in jobs["dataflow"]["static_configs"] for t in group["targets"]}
    assert targets == {f"{name}:{args.metrics_port}" for name, args in runs.items()}
    assert all(args.metrics_host == "0.0.0.0" for args in runs.values())  # reachable
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in services["prometheus"]["volumes"]
    api = jobs["api"]["dns_sd_configs"][0]
    assert api["names"] == ["api"] and api["port"] == 8000
