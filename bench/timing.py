"""Timing helpers: repetitions interleaved, so the machine's swings hit every side alike."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")


def slices(items: list[T], size: int) -> list[list[T]]:
    """``items`` cut into consecutive slices of ``size`` (the last may be shorter)."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def turns_on_slices(
    parts: Sequence[list[T]], loops: Mapping[str, Callable[[list[T]], object]], rounds: int
) -> tuple[dict[str, list[float]], list[dict[str, float]]]:
    """Every loop over every slice, ``rounds`` times, the loops taking turns on each slice (their
    order reversed every round). Returns each loop's best time per slice and, per slice and
    round, the time of each loop.

    Whole runs a second apart differ by up to 1.7x on a shared machine; two runs of one slice
    (tens of milliseconds) a moment apart see the same machine. The best time of each slice is
    what the code costs when nothing interferes, as ``timeit`` reports it.
    """
    best = {name: [float("inf")] * len(parts) for name in loops}
    paired: list[dict[str, float]] = []
    for index in range(rounds):
        order = list(loops) if index % 2 == 0 else list(loops)[::-1]
        for at, part in enumerate(parts):
            took: dict[str, float] = {}
            for name in order:
                started = time.perf_counter()
                loops[name](part)
                took[name] = time.perf_counter() - started
                best[name][at] = min(best[name][at], took[name])
            paired.append(took)
    return best, paired
