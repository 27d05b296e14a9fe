"""The bench report: every figure lands in results.json (nested and dotted), report.md, plots."""

from __future__ import annotations

from typing import Any

import orjson

from benchmarks.harness import report


def sections() -> dict[str, dict[str, Any]]:
    return {
        "replay": {"events_per_s": 150_000.0, "parse_ceiling_per_s": 1_200_000.0, "ratio": 0.125},
        "ingest": {
            "events_per_s": 90_000.0,
            "ceiling_per_s": 600_000.0,
            "ratio": 0.15,
            "freshness_p99_ms": 40.0,
            "max_lag_events": 1200,
            "lag_probe_every": 1000,
            "lag_steady_probe_every": 400,
            "series": {
                "progress": [(0.0, 0), (0.2, 5000), (0.4, 9000)],
                "freshness": [(0.1, 9.0)],
                "lag": [(0.0, 9000, 1000), (0.25, 4000, 6000), (0.5, 0, 10_000)],
                "lag_steady": [(0.25, 1200, 10_500), (0.5, 300, 12_000)],
            },
            "flash_sale": {"oversold_units": 0, "buyers": 3000},
        },
    }


def test_results_hold_each_figure_nested_and_dotted(tmp_path):
    report.write(tmp_path, sections(), {"what": "all", "quick": True})
    results = orjson.loads((tmp_path / "results.json").read_bytes())
    assert results["replay"]["events_per_s"] == 150_000.0
    assert results["replay.events_per_s"] == 150_000.0
    assert results["flash_sale"]["oversold_units"] == 0
    assert results["flash_sale.oversold_units"] == 0
    # only the short lag series stay (nested, never dotted); progress and freshness are plots
    assert results["ingest"]["series"] == {
        "lag": [[0.0, 9000, 1000], [0.25, 4000, 6000], [0.5, 0, 10_000]],
        "lag_steady": [[0.25, 1200, 10_500], [0.5, 300, 12_000]],
    }
    assert results["ingest.max_lag_events"] == 1200
    assert "ingest.series" not in str(list(results))
    assert results["machine"]["cores"] >= 1
    assert results["parameters"] == {"what": "all", "quick": True}


def test_report_tables_targets_and_links_plots(tmp_path):
    path = report.write(tmp_path, sections(), {"what": "all"})
    text = path.read_text()
    assert "| replay, end to end | 150,000 events/s | >= 250,000 events/s | **no** |" in text
    assert "| flash sale: units oversold | 0 units | <= 0 units | yes |" in text
    for plot in ("ingest_throughput.png", "ingest_freshness.png"):
        assert (tmp_path / plot).stat().st_size > 1000
        assert f"({plot})" in text


def test_report_names_each_sections_workload(tmp_path):
    workload = {
        "catalogue": "built-in network",
        "network_seed": 7,
        "store_weights": "city population",
        "events": 100_000,
        "stores": 50,
        "dcs": 4,
        "skus": 20_000,
        "seed": 3,
        "events_per_s": 200.0,
        "daily_curve": True,
    }
    parameters = {"what": "ingest", "workload": {"ingest": workload}}
    text = report.write(tmp_path, sections(), parameters).read_text()
    assert "- ingest log: 100,000 events (seed 3) on the built-in network (seed 7): 50 " in text
    assert "store traffic by city population; 200 events/s of event time, daily curve." in text
    assert "source lag, max, at the freshness rate | 1,200 events" in text
    assert "every 1000 messages in the backlog and every 400 at the freshness rate" in text
    results = orjson.loads((tmp_path / "results.json").read_bytes())
    assert results["parameters"]["workload"]["ingest"]["stores"] == 50


def test_throughput_plot_without_a_lag_series_is_the_cumulative_output(tmp_path):
    figures = sections()
    del figures["ingest"]["series"]["lag"]
    text = report.write(tmp_path, figures, {}).read_text()
    assert (tmp_path / "ingest_throughput.png").stat().st_size > 1000
    assert "(ingest_throughput.png)" in text
