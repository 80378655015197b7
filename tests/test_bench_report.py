"""The bench's report: every figure keeps the run that measured it, so a partial run cannot pass
older figures off as its own."""

from __future__ import annotations

import json
from pathlib import Path

from bench import report

GOALS = {"p1_process_vs_decode": (">=", 0.3), "p5_p99_ms": ("<=", 50.0)}


def test_a_partial_run_updates_its_rows_and_names_the_run_of_the_others(tmp_path: Path) -> None:
    """After a full run and a partial one, p1 carries the partial run's stamp, p5 and the raw
    figures keep the full run's, and BENCHMARKS.md says that some rows are older."""
    full = report.Run(date="2026-11-30 21:12 UTC", commit="aaaaaaa", quick=False)
    partial = report.Run(date="2026-11-30 23:00 UTC", commit="bbbbbbb", quick=False)
    figures = report.load_figures(tmp_path / "figures.json", tmp_path / "results.json")
    report.record(figures, {"p1_process_vs_decode": 0.25, "p1_decode_eps": 1000}, full)
    report.record(figures, {"p5_p99_ms": 523.2, "p5_p50_ms": 112}, full)
    report.record(figures, {"p1_process_vs_decode": 0.31, "p1_decode_eps": 1200}, partial)

    assert figures["p1_process_vs_decode"]["commit"] == "bbbbbbb"
    assert figures["p5_p99_ms"] == {
        "value": 523.2,
        "date": full.date,
        "commit": "aaaaaaa",
        "quick": False,
    }
    md = tmp_path / "BENCHMARKS.md"
    md.write_text("# Benchmarks\n\nprose kept\n")
    report.write_benchmarks_md(
        md,
        table=report.table(figures, GOALS),
        figures=figures,
        goals=GOALS,
        machine="test",
        run=partial,
        command="python -m bench --only p1",
        seconds=1.0,
    )
    text = md.read_text()
    assert "prose kept" in text
    assert (
        "| `p1_process_vs_decode` | 0.31 | >= 0.3 | met | 2026-11-30 23:00 UTC, bbbbbbb |" in text
    )
    assert "| `p5_p99_ms` | 523.2 | <= 50 | NOT met | 2026-11-30 21:12 UTC, aaaaaaa |" in text
    assert "| `p5_p50_ms` | 112 | 2026-11-30 21:12 UTC, aaaaaaa |" in text
    assert "not re-measured by it: 2026-11-30 21:12 UTC, aaaaaaa." in text


def test_without_a_figures_file_the_old_results_are_kept_as_an_unknown_run(
    tmp_path: Path,
) -> None:
    """An old checkout with only results.json: its values are kept, stamped as an earlier run of
    unknown commit, and a never-measured key stays out."""
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"p1_process_vs_decode": 0.248, "p5_p99_ms": None}))
    figures = report.load_figures(tmp_path / "figures.json", results)
    assert figures == {
        "p1_process_vs_decode": {
            "value": 0.248,
            "date": "earlier run",
            "commit": "unknown",
            "quick": False,
        }
    }
    assert "| `p5_p99_ms` | None | <= 50 | not measured |  |" in report.table(figures, GOALS)
