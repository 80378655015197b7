"""The figures of every run, the results table and BENCHMARKS.md.

Each figure is kept with the run that measured it (date, commit, quick or not), so that a partial
run (`--only`) updates its own rows and the table says which rows are older.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, NamedTuple

_START = "<!-- bench:results:start -->"
_END = "<!-- bench:results:end -->"


class Run(NamedTuple):
    """One `python -m bench` invocation."""

    date: str
    commit: str
    quick: bool

    def stamp(self) -> dict[str, Any]:
        """What each figure this run measured carries besides its value."""
        return {"date": self.date, "commit": self.commit, "quick": self.quick}


def load_figures(figures: Path, results: Path) -> dict[str, dict[str, Any]]:
    """Every figure measured so far, each as {value, date, commit, quick}. Without a figures
    file, the goal keys of results.json are taken, their run unknown."""
    if figures.exists():
        loaded: dict[str, dict[str, Any]] = json.loads(figures.read_text())
        return loaded
    if not results.exists():
        return {}
    old: dict[str, Any] = json.loads(results.read_text())
    return {
        key: {"value": value, "date": "earlier run", "commit": "unknown", "quick": False}
        for key, value in old.items()
        if value is not None
    }


def record(figures: dict[str, dict[str, Any]], measured: dict[str, Any], run: Run) -> None:
    """Keep what one measure returned, each figure stamped with this run."""
    for key, value in measured.items():
        figures[key] = {"value": value, **run.stamp()}


def _met(value: Any, goal: tuple[str, float]) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, dict):  # one figure per backend: each must meet the goal
        verdicts = {_met(v, goal) for v in value.values()}
        return "met" if verdicts == {"met"} else "NOT met"
    op, bound = goal
    ok = {">=": value >= bound, "<=": value <= bound, "==": value == bound}[op]
    return "met" if ok else "NOT met"


def _when(figure: dict[str, Any] | None) -> str:
    if figure is None:
        return ""
    quick = " (quick)" if figure.get("quick") else ""
    return f"{figure['date']}, {figure['commit']}{quick}"


def table(figures: dict[str, dict[str, Any]], goals: dict[str, tuple[str, float]]) -> str:
    """A Markdown table: key, measured value, goal, met or not, and the run it comes from."""
    rows = ["| key | measured | goal | | run |", "|---|---|---|---|---|"]
    for key, goal in goals.items():
        figure = figures.get(key)
        value = None if figure is None else figure["value"]
        rows.append(
            f"| `{key}` | {value} | {goal[0]} {goal[1]:g} | {_met(value, goal)} | {_when(figure)} |"
        )
    return "\n".join(rows)


def write_benchmarks_md(
    path: Path,
    *,
    table: str,
    figures: dict[str, dict[str, Any]],
    goals: dict[str, tuple[str, float]],
    machine: str,
    run: Run,
    command: str,
    seconds: float,
) -> None:
    """Replace the results section of BENCHMARKS.md (the prose around it is kept)."""
    detail_rows = "\n".join(
        f"| `{key}` | {figure['value']} | {_when(figure)} |"
        for key, figure in sorted(figures.items())
        if key not in goals
    )
    older = sorted({_when(f) for f in figures.values()} - {_when(run.stamp())})
    mixed = (
        f" Rows whose run column names another run were not re-measured by it: {', '.join(older)}."
        if older
        else ""
    )
    section = (
        f"{_START}\n"
        f"Last run {run.date} at commit {run.commit} on {machine} with `{command}`"
        f" ({seconds:.0f} s).{mixed}\n\n"
        f"{table}\n\n"
        "Raw figures behind the ratios:\n\n"
        f"| figure | value | run |\n|---|---|---|\n{detail_rows}\n"
        f"{_END}"
    )
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{_START}\n{_END}\n"
    if _START not in text:
        text += f"\n{_START}\n{_END}\n"
    pattern = re.compile(re.escape(_START) + ".*?" + re.escape(_END), re.S)
    path.write_text(pattern.sub(lambda _: section, text))
