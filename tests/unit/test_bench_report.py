"""The bench report: every figure lands in results.json (nested and dotted), report.md, plots."""

from __future__ import annotations

import orjson

from benchmarks.harness import report


def sections() -> dict:
    return {
        "replay": {"events_per_s": 150_000.0, "parse_ceiling_per_s": 1_200_000.0, "ratio": 0.125},
        "ingest": {
            "events_per_s": 90_000.0,
            "ceiling_per_s": 600_000.0,
            "ratio": 0.15,
            "freshness_p99_ms": 40.0,
            "series": {"progress": [(0.0, 0), (0.2, 5000), (0.4, 9000)], "freshness": [(0.1, 9.0)]},
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
    assert "series" not in results["ingest"]
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
