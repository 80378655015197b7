"""P1: events/s through ``process()`` on the website mix ÷ events/s of plain ``orjson.loads``.

The profile snapshots come from an in-memory dict, as the processor gets them from its store
cache: this measures the pure pipeline, not the store. ``bench/p1_versus.py`` runs the same
loop (``p1_loop``) over an older commit's modules beside this checkout's.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.timing import slices, turns_on_slices
from bench.workload import records

PRESET = Path("presets/outreach-lead-capture.yaml")
SLICE = 2500  # events per turn (about 40 ms of process())


def p1_loop(package: str, recs: list[bytes]) -> Callable[[list[bytes]], None]:
    """P1's loop over ``package``'s modules (``leadgate``, or an older version imported under
    another name), its profiles warmed once with ``recs`` as a running processor's are (70% of
    events come from returning visitors)."""
    decode = importlib.import_module(f"{package}.domain.events").decode
    drop_type = importlib.import_module(f"{package}.domain.outcome").Drop
    merge_profiles = importlib.import_module(f"{package}.pipeline.identity").merge_profiles
    process = importlib.import_module(f"{package}.pipeline.process").process
    preset = importlib.import_module(f"{package}.pipeline.presets").load_preset(PRESET)
    profiles: dict[str, Any] = {}

    def loop(batch: list[bytes]) -> None:
        for rec in batch:
            head = decode(rec)  # once, as the processor does
            # The head's own field, as the processor reads it: ``identities_of`` would add a
            # Python call per event (~430 of ~57,500 instructions, cachegrind) that the
            # processor does not make.
            keys = () if type(head) is drop_type else head.identities
            snapshot = merge_profiles([profiles[k] for k in keys if k in profiles])
            outcome = process(rec, snapshot, preset, head=head)
            if outcome.profile is not None:
                for key in outcome.identities:
                    profiles[key] = outcome.profile

    loop(recs)
    return loop


def loads_loop(batch: list[bytes]) -> None:
    """P1's baseline: ``orjson.loads`` of every record."""
    for rec in batch:
        with contextlib.suppress(orjson.JSONDecodeError):
            orjson.loads(rec)


def run(count: int = 50_000, reps: int = 5) -> dict[str, Any]:
    """Measure P1 and return its figures (``reps`` rounds over every slice of the records)."""
    recs = records(count)
    # Both loops take turns on slices of ~40 ms, and each keeps its best time per slice.
    loops = {"process": p1_loop("leadgate", recs), "loads": loads_loop}
    best, _ = turns_on_slices(slices(recs, SLICE), loops, reps)
    process_eps, loads_eps = (count / sum(best[name]) for name in ("process", "loads"))
    return {
        "p1_process_vs_decode": round(process_eps / loads_eps, 3),
        "p1_process_eps": round(process_eps),
        "p1_loads_eps": round(loads_eps),
    }
