"""P1's loop for this checkout and an older commit of leadgate, side by side in one process.

Two ``make bench`` runs in separate processes differ by more than their code: on a shared
machine the load drifts between them by more than the few percent being looked for. Here the
older commit's ``src/leadgate`` is extracted with ``git archive`` and imported under another
name (``leadgate_<rev>``, its absolute imports rewritten), both versions run the very same loop
over the same records, and they take turns on short slices of the records (``--chunk`` events,
about 40 ms): each slice is timed for both within a few tens of milliseconds, so a swing in
the machine's speed (here the same loop ran at 50,000 and at 90,000 events/s a second apart)
hits both. Two figures come out: the ratio of the best time each version took over every slice
(the speed of each when nothing interfered, as ``timeit`` reports it) and the median of the
per-slice ratios. ``orjson.loads`` takes its turn on the same slices, so each version's P1 (as
``make bench`` defines it) comes out too.

    python -m bench.p1_versus --rev bde6b9a [--kind page] [--rounds 10] [--chunk 2500]

The older commit must have ``domain.events.decode`` and ``process(..., head=...)`` (bde6b9a
has both). ``--kind`` keeps only one event type of the mix (page, track, identify) to show where
a difference lies.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from bench.p1_process import loads_loop, p1_loop
from bench.timing import slices, turns_on_slices
from bench.workload import records

_IMPORT = re.compile(r"\b(from|import) leadgate\b")


def extract(rev: str, into: Path) -> str:
    """``src/leadgate`` of ``rev`` as the package ``leadgate_<rev>`` under ``into``; its name."""
    name = "leadgate_" + re.sub(r"\W", "_", rev)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, "src/leadgate"],  # noqa: S607 (git from PATH)
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "src" / "leadgate").rename(into / name)
    for path in (into / name).rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        path.write_text(_IMPORT.sub(rf"\1 {name}", text), encoding="utf-8")
    return name


def compare(
    rev: str, *, kind: str = "all", rounds: int = 10, count: int = 50_000, chunk: int = 2500
) -> dict[str, Any]:
    """Each version's events/s from its best time per slice, their ratio (this / rev), the
    median and quartiles of the per-slice ratios, and each version's P1 (its rate over that of
    ``orjson.loads``, which takes its turn on the same slices)."""
    recs = records(count)
    batch = recs if kind == "all" else [r for r in recs if b'"type":"%s"' % kind.encode() in r]
    with tempfile.TemporaryDirectory() as tmp:
        older = extract(rev, Path(tmp))
        sys.path.insert(0, tmp)
        try:
            loops = {"this": p1_loop("leadgate", recs), rev: p1_loop(older, recs)}
        finally:
            sys.path.remove(tmp)
    best, paired = turns_on_slices(slices(batch, chunk), {**loops, "loads": loads_loop}, rounds)
    eps = {name: len(batch) / sum(times) for name, times in best.items()}
    ratios = [took[rev] / took["this"] for took in paired]
    return {
        "kind": kind,
        "events": len(batch),
        "this_eps": round(eps["this"]),
        f"{rev}_eps": round(eps[rev]),
        "ratio_best": round(eps["this"] / eps[rev], 3),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_quartiles": [round(q, 3) for q in statistics.quantiles(ratios, n=4)[::2]],
        "p1_this": round(eps["this"] / eps["loads"], 3),
        f"p1_{rev}": round(eps[rev] / eps["loads"], 3),
    }


def main() -> None:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", default="bde6b9a")
    parser.add_argument("--kind", default="all", choices=("all", "page", "track", "identify"))
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--chunk", type=int, default=2500)
    args = parser.parse_args()
    print(compare(args.rev, kind=args.kind, rounds=args.rounds, count=args.count, chunk=args.chunk))


if __name__ == "__main__":
    main()
