"""With several inbound processes on one state store, one reconciliation pass per interval."""

from __future__ import annotations

from typing import Any

from leadgate.settings import Settings
from leadgate.store.memory import MemoryStore
from leadgate.workers.reconcile import Reconciler


async def test_only_one_process_claims_an_interval() -> None:
    """Two pollers sharing a store: the first claims the interval's pass, the second skips it,
    and once the lease has expired the next claim succeeds again."""
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    settings = Settings(outreach={"reconcile_interval_s": 60})
    unused: Any = None
    first = Reconciler(settings, unused, store, unused)
    second = Reconciler(settings, unused, store, unused)
    assert await first._claim()
    assert not await second._claim()
    now[0] += 55
    assert await second._claim()
