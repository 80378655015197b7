"""P1: events/s through ``process()`` on the website mix ÷ events/s of plain ``orjson.loads``.

The profile snapshots come from an in-memory dict, as the processor gets them from its store
cache: this measures the pure pipeline, not the store.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import orjson

from bench.timing import slices, turns_on_slices
from bench.workload import records
from leadgate.domain.events import decode
from leadgate.domain.outcome import Drop
from leadgate.domain.profile import Profile
from leadgate.pipeline.identity import merge_profiles
from leadgate.pipeline.presets import load_preset
from leadgate.pipeline.process import process

PRESET = Path("presets/outreach-lead-capture.yaml")
SLICE = 2500  # events per turn (about 40 ms of process())


def run(count: int = 50_000, reps: int = 5) -> dict[str, Any]:
    """Measure P1 and return its figures (``reps`` rounds over every slice of the records)."""
    preset = load_preset(PRESET)
    recs = records(count)
    profiles: dict[str, Profile] = {}

    # Warm the profiles once (70% returning users find a profile), as a running processor has.
    # bench/p1_versus.py runs this same loop over two versions of leadgate: change both.
    def through_process(batch: list[bytes]) -> None:
        for rec in batch:
            head = decode(rec)  # once, as the processor does
            # The head's own field, as the processor reads it: ``identities_of`` would add a
            # Python call per event (~430 of ~57,500 instructions, cachegrind) that the
            # processor does not make.
            keys = () if type(head) is Drop else head.identities
            snapshot = merge_profiles([profiles[k] for k in keys if k in profiles])
            outcome = process(rec, snapshot, preset, head=head)
            if outcome.profile is not None:
                for key in outcome.identities:
                    profiles[key] = outcome.profile

    def through_loads(batch: list[bytes]) -> None:
        for rec in batch:
            with contextlib.suppress(orjson.JSONDecodeError):
                orjson.loads(rec)

    through_process(recs)
    # Both loops take turns on slices of ~40 ms, and each keeps its best time per slice.
    best, _ = turns_on_slices(
        slices(recs, SLICE), {"process": through_process, "loads": through_loads}, reps
    )
    process_eps, loads_eps = (count / sum(best[name]) for name in ("process", "loads"))
    return {
        "p1_process_vs_decode": round(process_eps / loads_eps, 3),
        "p1_process_eps": round(process_eps),
        "p1_loads_eps": round(loads_eps),
    }
