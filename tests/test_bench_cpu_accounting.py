"""The bench's CPU accounting (``bench/cpu_accounting.py``) reads real processes' /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.cpu_accounting import Sampler, children, schedstat, tree


def test_a_busy_child_is_found_and_its_cpu_time_counted() -> None:
    """A child that spins shows up in this process's tree and spends CPU in the window."""
    spin = "import time\nend = time.time() + 1.0\nwhile time.time() < end: pass\n"
    child = subprocess.Popen([sys.executable, "-c", spin])
    try:
        assert child.pid in children(os.getpid())
        assert child.pid in tree(os.getpid())
        sampler = Sampler(groups={"child": [child.pid]})
        sampler.sample()
        started = time.time()
        time.sleep(0.5)
        ended = time.time()
        sampler.sample()
        running, waiting = sampler.window(started, ended)["child"]
        assert running + waiting > 0.2
    finally:
        child.wait(timeout=10)


def test_a_process_that_is_gone_has_no_schedstat() -> None:
    """Reading a process that exited gives None, not an error."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=10)
    assert schedstat(child.pid) is None
