"""The side-by-side P1 loop (``bench/p1_versus.py``) runs an older commit beside this checkout."""

from __future__ import annotations

import re
from pathlib import Path

from bench.p1_versus import compare, extract


def test_the_older_commit_is_its_own_package(tmp_path: Path) -> None:
    """The extracted tree is importable under its own name: none of its modules imports this
    checkout's ``leadgate`` any more (so the two versions cannot mix)."""
    name = extract("HEAD", tmp_path)
    assert name == "leadgate_HEAD"
    sources = list((tmp_path / name).rglob("*.py"))
    assert (tmp_path / name / "pipeline" / "process.py") in sources
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\b(from|import) leadgate\b", text), path


def test_both_versions_run_the_loop_and_give_rates() -> None:
    """Comparing this checkout with itself gives a rate for each, their ratio and the per-slice
    ratios' median (page views only, a few hundred events in slices of 100: this checks the
    harness, not speed)."""
    result = compare("HEAD", kind="page", rounds=2, count=400, chunk=100)
    assert result["kind"] == "page"
    assert 0 < result["events"] < 400
    assert result["this_eps"] > 0
    assert result["HEAD_eps"] > 0
    assert result["ratio_best"] == round(result["this_eps"] / result["HEAD_eps"], 3)
    assert result["ratio_median"] > 0
    low, high = result["ratio_quartiles"]
    assert low <= result["ratio_median"] <= high
