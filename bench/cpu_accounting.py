"""Where a multi-process measure's CPU went: per-process CPU time and run-queue wait, read from
Linux's ``/proc/<pid>/task/<tid>/schedstat`` (nanoseconds, summed over a process's threads).

A process that is *running or waiting for a core* for the whole of a window is CPU-bound: it
would go faster with more CPU, not with less waiting on I/O. Its CPU seconds per event are what
a run costs, whatever else shares the machine, so these figures stay meaningful on a loaded
machine where wall-clock rates do not.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

_PROC = Path("/proc")


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (empty when it has gone)."""
    out: list[int] = []
    try:
        for task in (_PROC / str(pid) / "task").iterdir():
            out.extend(int(c) for c in (task / "children").read_text().split())
    except OSError:
        return []
    return out


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found = [pid]
    for child in children(pid):
        found.extend(tree(child))
    return found


def schedstat(pid: int) -> tuple[float, float] | None:
    """(seconds on a CPU, seconds runnable but waiting for one) of ``pid``'s live threads;
    None when the process has gone."""
    running = waiting = 0
    try:
        for task in (_PROC / str(pid) / "task").iterdir():
            on_cpu, on_queue, _ = (task / "schedstat").read_text().split()
            running += int(on_cpu)
            waiting += int(on_queue)
    except (OSError, ValueError):
        return None
    return running / 1e9, waiting / 1e9


@dataclass
class Sampler:
    """Samples of named groups of processes over time (wall clock: ``time.time()``)."""

    groups: dict[str, list[int]] = field(default_factory=dict)
    samples: list[tuple[float, dict[int, tuple[float, float]]]] = field(default_factory=list)

    def sample(self) -> None:
        """Record every watched process's (running, waiting) seconds now."""
        now = time.time()
        stats: dict[int, tuple[float, float]] = {}
        for pids in self.groups.values():
            for pid in pids:
                stat = schedstat(pid)
                if stat is not None:
                    stats[pid] = stat
        self.samples.append((now, stats))

    def _at(self, pid: int, moment: float) -> tuple[float, float] | None:
        """(running, waiting) of ``pid`` at ``moment``, interpolated between samples."""
        points = [(t, s[pid]) for t, s in self.samples if pid in s]
        before = [p for p in points if p[0] <= moment]
        after = [p for p in points if p[0] >= moment]
        if not before or not after:
            return None
        (t0, (r0, w0)), (t1, (r1, w1)) = before[-1], after[0]
        share = 0.0 if t1 == t0 else (moment - t0) / (t1 - t0)
        return r0 + (r1 - r0) * share, w0 + (w1 - w0) * share

    def window(self, start: float, end: float) -> dict[str, tuple[float, float]]:
        """Per group: (CPU seconds, run-queue seconds) its processes spent in [start, end]."""
        out: dict[str, tuple[float, float]] = {}
        for name, pids in self.groups.items():
            running = waiting = 0.0
            for pid in pids:
                first, last = self._at(pid, start), self._at(pid, end)
                if first is None or last is None:
                    continue
                running += last[0] - first[0]
                waiting += last[1] - first[1]
            out[name] = (running, waiting)
        return out


def named_child(name: str) -> int | None:
    """The pid of this process's child whose command is ``name`` (e.g. the redis-server the
    bench started), or None."""
    for pid in children(os.getpid()):
        try:
            argv0 = (_PROC / str(pid) / "cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        # redis-server rewrites its title ("/usr/bin/redis-server 127.0.0.1:6379")
        words = argv0.decode(errors="replace").split()
        if words and Path(words[0]).name == name:
            return pid
    return None
