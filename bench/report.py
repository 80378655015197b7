"""The results table and BENCHMARKS.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_START = "<!-- bench:results:start -->"
_END = "<!-- bench:results:end -->"


def _met(value: Any, goal: tuple[str, float]) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, dict):  # one figure per backend: each must meet the goal
        verdicts = {_met(v, goal) for v in value.values()}
        return "met" if verdicts == {"met"} else "NOT met"
    op, bound = goal
    ok = {">=": value >= bound, "<=": value <= bound, "==": value == bound}[op]
    return "met" if ok else "NOT met"


def table(results: dict[str, Any], goals: dict[str, tuple[str, float]]) -> str:
    """A Markdown table: key, measured value, goal, met or not."""
    rows = ["| key | measured | goal | |", "|---|---|---|---|"]
    for key, goal in goals.items():
        value = results.get(key)
        rows.append(f"| `{key}` | {value} | {goal[0]} {goal[1]:g} | {_met(value, goal)} |")
    return "\n".join(rows)


def write_benchmarks_md(
    path: Path,
    *,
    table: str,
    details: dict[str, Any],
    machine: str,
    date: str,
    command: str,
    seconds: float,
) -> None:
    """Replace the results section of BENCHMARKS.md (the prose around it is kept)."""
    detail_rows = "\n".join(f"| `{k}` | {v} |" for k, v in sorted(details.items()))
    section = (
        f"{_START}\n"
        f"Measured {date} on {machine} with `{command}` ({seconds:.0f} s).\n\n"
        f"{table}\n\n"
        "Raw figures behind the ratios (same run):\n\n"
        f"| figure | value |\n|---|---|\n{detail_rows}\n"
        f"{_END}"
    )
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{_START}\n{_END}\n"
    if _START not in text:
        text += f"\n{_START}\n{_END}\n"
    pattern = re.compile(re.escape(_START) + ".*?" + re.escape(_END), re.S)
    path.write_text(pattern.sub(lambda _: section, text))
