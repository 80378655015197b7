"""The shared health gate: while Outreach as a whole is failing, leads wait behind one gate.

Every request's outcome is reported here by the client: an answer of any kind (2xx, 4xx, a 429)
is ``succeeded()``; a 5xx or no answer at all is ``failed()``. After ``close_after`` failures in
a row (across leads, with no answer between them) the gate closes: requests wait in ``admit()``
instead of each lead backing off on its own, and one request goes through every
``probe_interval_s`` as the probe. The first answer opens the gate and every waiting request goes
at once, still paced by the rate budget (which comes after the gate). A lead whose own request
fails alone (a 422, a 404, one stray 503 among answers) never closes it and keeps its own backoff.

The probe is a real request of a waiting lead (not a synthetic one), so it costs nothing extra
from the budget and needs no endpoint of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from leadgate.observability.logging import get_logger
from leadgate.observability.metrics import OUTREACH_GATE_CLOSED, OUTREACH_GATE_PROBES

log = get_logger(__name__)


class HealthGate:
    """Open while Outreach answers; closed (probing) after consecutive outage failures."""

    def __init__(
        self,
        *,
        close_after: int = 3,
        probe_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._close_after = close_after
        self._probe_interval_s = probe_interval_s
        self._clock = clock
        self._failures = 0
        self._closed_at: float | None = None
        self._next_probe = 0.0
        self._opened = asyncio.Event()
        self._opened.set()
        self._shut = asyncio.Event()
        self.closings = 0
        self.probes = 0

    @property
    def closed(self) -> bool:
        """Whether Outreach is failing as a whole right now."""
        return self._closed_at is not None

    def failed(self) -> None:
        """A request got a 5xx or no answer."""
        self._failures += 1
        if self._closed_at is None and self._failures >= self._close_after:
            now = self._clock()
            self._closed_at = now
            self._next_probe = now + self._probe_interval_s
            self.closings += 1
            self._opened.clear()
            self._shut.set()
            OUTREACH_GATE_CLOSED.set(1)
            log.warning(
                "outreach.unhealthy",
                failures=self._failures,
                probe_every_s=self._probe_interval_s,
            )

    def succeeded(self) -> None:
        """A request got an answer: Outreach is up; every waiting request goes."""
        self._failures = 0
        if self._closed_at is None:
            return
        down_s = self._clock() - self._closed_at
        self._closed_at = None
        self._shut.clear()
        self._opened.set()
        OUTREACH_GATE_CLOSED.set(0)
        log.warning("outreach.healthy", down_s=round(down_s, 3), probes=self.probes)

    async def admit(self) -> None:
        """Return when a request may go: at once while open; while closed, when this request is
        the next probe or the gate opens."""
        while self._closed_at is not None:
            now = self._clock()
            if now >= self._next_probe:
                self._next_probe = now + self._probe_interval_s
                self.probes += 1
                OUTREACH_GATE_PROBES.inc()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._opened.wait(), self._next_probe - now)

    async def pause(self, delay_s: float) -> None:
        """Wait ``delay_s`` (a lead's own backoff), ending early if the gate closes meanwhile:
        the lead then waits at the gate with the others instead of sleeping past the recovery."""
        if delay_s <= 0 or self._closed_at is not None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._shut.wait(), delay_s)
