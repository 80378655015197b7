"""Timing helpers: medians of interleaved repetitions, so noise hits both sides alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_rate(count: int, run: Callable[[], object], reps: int) -> tuple[float, list[float]]:
    """Median items/s of ``run`` (which handles ``count`` items) over ``reps`` repetitions."""
    rates = []
    for _ in range(reps):
        started = time.perf_counter()
        run()
        rates.append(count / (time.perf_counter() - started))
    return statistics.median(rates), rates


def side_by_side(
    count: int,
    candidate: Callable[[], object],
    baseline: Callable[[], object],
    reps: int,
) -> tuple[float, float]:
    """Median rates of candidate and baseline, repetitions interleaved (A B A B ...)."""
    cand: list[float] = []
    base: list[float] = []
    for _ in range(reps):
        cand.append(median_rate(count, candidate, 1)[0])
        base.append(median_rate(count, baseline, 1)[0])
    return statistics.median(cand), statistics.median(base)
