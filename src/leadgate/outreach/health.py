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

Across processes (``board``, :mod:`leadgate.store.health_board` in the state store): the process
that closes its gate says so on the board (a document with a TTL), and every other process reads
the board at least once per ``probe_interval_s`` while it sends requests, so they all pause
together; one probe per interval goes out across all of them (a lease claimed on the board); the
first answer, in whichever process, deletes the flag and every process opens at its next read.
A flag nobody refreshes (every process that knew of the outage is gone) expires after
``CLOSED_TTL_PROBES`` probe intervals. The board is read-through, not authoritative: a process
closes on its own failures as before, and when the store cannot be reached the gate goes on as a
per-process gate (``outreach.health_board_error`` in the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from typing import Any

from leadgate.observability.logging import get_logger
from leadgate.observability.metrics import OUTREACH_GATE_CLOSED, OUTREACH_GATE_PROBES
from leadgate.store.health_board import HealthBoard

log = get_logger(__name__)

# A closed flag lives this many probe intervals unless a failed probe says it again.
CLOSED_TTL_PROBES = 10


class HealthGate:
    """Open while Outreach answers; closed (probing) after consecutive outage failures."""

    def __init__(
        self,
        *,
        close_after: int = 3,
        probe_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        board: HealthBoard | None = None,
    ) -> None:
        self._close_after = close_after
        self._probe_interval_s = probe_interval_s
        self._clock = clock
        self._board = board
        self._failures = 0
        self._closed_at: float | None = None
        self._next_probe = 0.0
        self._read_at: float | None = None  # when the board was last read
        self._writes: set[asyncio.Task[None]] = set()  # board writes under way
        self._reading = asyncio.Lock()  # one read of the board at a time
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
        if self._closed_at is not None:
            self._write(self._say_closed)  # a failed probe: the outage goes on
        elif self._failures >= self._close_after:
            self._close(failures=self._failures)
            self._write(self._say_closed)

    def succeeded(self) -> None:
        """A request got an answer: Outreach is up; every waiting request goes."""
        self._failures = 0
        if self._closed_at is None:
            return
        self._open()
        self._write(self._say_open)

    async def admit(self) -> None:
        """Return when a request may go: at once while open; while closed, when this request is
        the next probe (in this process, and on the board across processes) or the gate
        opens."""
        await self._read_board()
        while self._closed_at is not None:
            now = self._clock()
            if now >= self._next_probe:
                self._next_probe = now + self._probe_interval_s
                if await self._claim_probe():
                    self.probes += 1
                    OUTREACH_GATE_PROBES.inc()
                    return
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._opened.wait(), self._next_probe - now)
            await self._read_board()

    async def pause(self, delay_s: float) -> None:
        """Wait ``delay_s`` (a lead's own backoff), ending early if the gate closes meanwhile:
        the lead then waits at the gate with the others instead of sleeping past the recovery."""
        if delay_s <= 0 or self._closed_at is not None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._shut.wait(), delay_s)

    # -- this process's gate ----------------------------------------------------------------

    def _close(self, **why: Any) -> None:
        now = self._clock()
        self._closed_at = now
        self._next_probe = now + self._probe_interval_s
        self.closings += 1
        self._opened.clear()
        self._shut.set()
        OUTREACH_GATE_CLOSED.set(1)
        log.warning("outreach.unhealthy", probe_every_s=self._probe_interval_s, **why)

    def _open(self, **why: Any) -> None:
        assert self._closed_at is not None
        down_s = self._clock() - self._closed_at
        self._closed_at = None
        self._shut.clear()
        self._opened.set()
        OUTREACH_GATE_CLOSED.set(0)
        log.warning("outreach.healthy", down_s=round(down_s, 3), probes=self.probes, **why)

    # -- the board shared with other processes -------------------------------------------------

    async def _read_board(self) -> None:
        """Follow the board (at most once per probe interval; not while this process's own
        write is under way, which the board does not show yet). Requests arriving during a
        read wait for its answer rather than pass on the stale view."""
        if self._board is None or self._writes:
            return
        async with self._reading:
            now = self._clock()
            if self._read_at is not None and now - self._read_at < self._probe_interval_s:
                return
            self._read_at = now
            try:
                down = await self._board.is_closed()
            except Exception as exc:  # the store is down: go on as a gate of this process
                log.warning("outreach.health_board_error", error=repr(exc))
                return
        if self._writes:  # this process changed its mind while the read was under way
            return
        if down and self._closed_at is None:
            self._failures = 0
            self._close(source="another process")
        elif not down and self._closed_at is not None:
            self._open(source="another process")

    async def _claim_probe(self) -> bool:
        if self._board is None:
            return True
        try:
            return await self._board.claim_probe(self._probe_interval_s)
        except Exception as exc:  # the store is down: probe as a gate of this process
            log.warning("outreach.health_board_error", error=repr(exc))
            return True

    async def _say_closed(self) -> None:
        assert self._board is not None
        await self._board.close(self._probe_interval_s * CLOSED_TTL_PROBES)

    async def _say_open(self) -> None:
        assert self._board is not None
        await self._board.open()

    def _write(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run a board write in the background (``failed``/``succeeded`` are synchronous)."""
        if self._board is None:
            return
        task = asyncio.get_running_loop().create_task(self._guarded(work))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _guarded(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        try:
            await work()
        except Exception as exc:  # the store is down: the gate goes on in this process
            log.warning("outreach.health_board_error", error=repr(exc))
