"""`make bench`: run every measurement side by side with its baseline, print a table, write
bench/results.json (exactly the keys of issue 7) and BENCHMARKS.md.

Usage: python -m bench [--only p1,p2,...] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import subprocess  # git, to name the commit measured
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import report, rig

RESULTS = Path("bench/results.json")
# Every figure with the run it came from: a partial run (--only) keeps the others, and says so.
FIGURES = Path("bench/figures.json")

GOALS: dict[str, tuple[str, float]] = {
    "p1_process_vs_decode": (">=", 0.3),
    "p2_consume_vs_raw": (">=", 0.5),
    "p3_budget_share": (">=", 0.95),
    "p3_429s": ("==", 0),
    "p4_calls_per_lead": ("<=", 1.2),
    "p4_unchanged_lead_calls": ("==", 0),
    "p5_p99_ms": ("<=", 50),
    "p6_peak_rss_mb": ("<=", 200),
    "p7_collector_eps": (">=", 10_000),
    "routing_calls_per_lead": ("<=", 3.2),
    "routing_unchanged_lead_calls": ("==", 0),
    "routing_enrolments_per_prospect": ("==", 1),
    # Two-way sync (issue 11): webhook ingest next to the collector, edit-to-mirror, export.
    "s1_webhook_p99_ms": ("<=", 1000),
    "s2_edit_to_mirror_p99_ms": ("<=", 1000),
    "s3_export_share": (">=", 0.9),
    "s3_429s": ("==", 0),
    # Scale-out (issue 16): processes, the Redis store, one shared budget, state size.
    "p2_processes_speedup": (">=", 1.7),
    "p2_redis_vs_sqlite": (">=", 0.8),
    "p3_shared_budget_share": (">=", 0.95),
    "p3_shared_429s": ("==", 0),
    # per backend ({"sqlite": bytes, "redis": bytes}); each must meet the goal (64 MiB)
    "state_bytes_per_million_events": ("<=", 64 * 2**20),
    # Recovery after a 3-minute total Outreach outage (issue 15 §4).
    "outage_recovery_s": ("<=", 10),
    "outage_duplicates": ("==", 0),
    "outage_dead_letters": ("==", 0),
}


def _measures(quick: bool) -> dict[str, Callable[[], dict[str, Any]]]:
    from bench import (
        crm_import,
        outage,
        p1_process,
        p2_consume,
        p2_processes,
        p3_budget,
        p3_shared,
        p4_calls,
        p5_latency,
        p6_rss,
        p7_collector,
        routing,
        state_bytes,
        sync,
    )

    scale = 0.2 if quick else 1.0
    return {
        "p1": lambda: p1_process.run(count=int(50_000 * scale) or 1000, reps=5),
        # 20,000 events: the processor runs ~1,000/s here, and 5 reps of 50,000 would not fit
        # the 15 minutes.
        "p2": lambda: asyncio.run(p2_consume.run(count=int(20_000 * scale), reps=5)),
        # two whole 60 s budget windows (quick: one)
        "p3": lambda: asyncio.run(p3_budget.run(windows=1 if quick else 2)),
        "p4": lambda: asyncio.run(p4_calls.run()),
        "p5": lambda: asyncio.run(p5_latency.run(seconds=5 if quick else 15)),
        "p6": lambda: asyncio.run(
            p6_rss.run(backlog=int(200_000 * scale), seconds=30 if quick else 60)
        ),
        "p7": lambda: asyncio.run(p7_collector.run(seconds=3 if quick else 10, reps=5)),
        # issue 14: a 10,000-person CRM import through leadgate send (quick: 2,000)
        "crm": lambda: asyncio.run(crm_import.run(count=int(10_000 * scale))),
        "routing": lambda: asyncio.run(
            routing.run(new=int(200 * scale) or 20, kill_leads=int(150 * scale) or 20)
        ),
        "sync": lambda: sync.run(quick=quick),
        # 1 vs 2 processor processes (Redis) and 1 on SQLite draining a backlog, 5 interleaved
        # reps of 40,000 (quick: 2 of 20,000: fewer would leave a steady window of a second)
        "p2x": lambda: asyncio.run(
            p2_processes.run(count=20_000 if quick else 40_000, reps=2 if quick else 5)
        ),
        # three delivery processes, one budget in Redis, two whole 60 s windows (quick: one)
        "p3s": lambda: asyncio.run(p3_shared.run(windows=1 if quick else 2)),
        # 50,000 events from 10,000 visitors, scaled to 1,000,000 from 200,000
        "state": lambda: asyncio.run(state_bytes.run(count=int(50_000 * scale))),
        "outage": lambda: asyncio.run(outage.run(outage_s=30 if quick else 180)),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and write the results."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", help="comma-separated subset, e.g. p1,p4")
    parser.add_argument("--quick", action="store_true", help="smaller runs (not for the record)")
    args = parser.parse_args(argv)
    measures = _measures(args.quick)
    rig.production_logging("info")
    chosen = args.only.split(",") if args.only else list(measures)
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    run = report.Run(date=date, commit=_commit(), quick=args.quick)
    figures = report.load_figures(FIGURES, RESULTS)
    started = time.monotonic()
    for name in chosen:
        t0 = time.monotonic()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        measured = measures[name]()
        report.record(figures, measured, run)
        print(f"[bench] {name} done in {time.monotonic() - t0:.0f}s: {measured}", file=sys.stderr)
    results = {key: figures[key]["value"] if key in figures else None for key in GOALS}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    FIGURES.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    table = report.table(figures, GOALS)
    print(table)
    report.write_benchmarks_md(
        Path("BENCHMARKS.md"),
        table=table,
        figures=figures,
        goals=GOALS,
        machine=machine,
        run=run,
        command=_command(args.only, args.quick),
        seconds=time.monotonic() - started,
    )
    return 0


def _command(only: str | None, quick: bool) -> str:
    if not only and not quick:
        return "make bench"
    flags = (f" --only {only}" if only else "") + (" --quick" if quick else "")
    return f"python -m bench{flags}"


def _commit() -> str:
    """The commit measured (short id, "+dirty" when the tree has uncommitted changes)."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 -- git from PATH, fixed argv
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607 -- as above
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return (head or "unknown") + ("+dirty" if dirty else "")


if __name__ == "__main__":
    sys.exit(main())
