"""The shared health gate, on an injected clock: closes on outage failures in a row, probes,
releases every waiter on the first answer."""

from __future__ import annotations

import asyncio

from leadgate.observability.metrics import REGISTRY
from leadgate.outreach.health import HealthGate
from tests.plugins.clock import FakeClock


def _sample(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    return 0.0 if value is None else value


def test_failures_of_one_lead_among_answers_never_close_it() -> None:
    """Two 503s, an answer, two 503s: never three in a row, so the gate stays open."""
    gate = HealthGate(close_after=3, clock=FakeClock(100.0))
    for _ in range(2):
        gate.failed()
        gate.failed()
        gate.succeeded()
    assert not gate.closed
    assert gate.closings == 0


async def test_closed_gate_lets_one_probe_per_interval_then_opens_for_everyone() -> None:
    """After three failures in a row the waiters hold; one probe goes when the interval has
    passed; its answer releases every waiter at once."""
    clock = FakeClock(100.0)
    gate = HealthGate(close_after=3, probe_interval_s=1.0, clock=clock)
    probes_before = _sample("leadgate_outreach_gate_probes_total")
    for _ in range(3):
        gate.failed()
    assert gate.closed
    assert _sample("leadgate_outreach_gate_closed") == 1
    waiters = [asyncio.create_task(gate.admit()) for _ in range(5)]
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in waiters)
    clock.now += 1.0
    done, pending = await asyncio.wait(waiters, timeout=1.5, return_when=asyncio.FIRST_COMPLETED)
    assert len(done) == 1
    assert gate.probes == 1
    gate.succeeded()
    await asyncio.wait_for(asyncio.gather(*pending), timeout=1.0)
    assert not gate.closed
    assert _sample("leadgate_outreach_gate_closed") == 0
    assert _sample("leadgate_outreach_gate_probes_total") - probes_before == 1


async def test_a_backoff_ends_early_when_the_gate_closes() -> None:
    """A lead sleeping its own 60 s backoff joins the gate as soon as Outreach is down."""
    gate = HealthGate(close_after=1, clock=FakeClock(100.0))
    pausing = asyncio.create_task(gate.pause(60.0))
    await asyncio.sleep(0.01)
    gate.failed()
    await asyncio.wait_for(pausing, timeout=1.0)
