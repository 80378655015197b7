"""The request budget shared by every delivery process: the pacer and the hold live in Redis.

With the Redis state store, each request takes its slot from one GCRA held in Redis for the
Outreach user (``store/redis_budget.py``), so three processes together spend
``budget_per_hour * budget_share`` (never three times it), and when one dies the others go on
spending the whole budget: nobody owns a share. What a response's ``X-RateLimit-*`` headers say,
and a 429's hold, is written there too, so every process is corrected by any process's last
answer. The local view (``RateBudget``'s ``remaining``, ``held_for``) is kept as well, so a
process does not even ask Redis while it knows the budget is held.

With the SQLite store the single-host ``RateBudget`` stays (``budget_for``).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from leadgate.errors import RateLimited
from leadgate.observability.logging import get_logger
from leadgate.outreach.backoff import retry_after
from leadgate.outreach.ratelimit import UNKNOWN_RESET_S, RateBudget
from leadgate.settings import OutreachSettings
from leadgate.store.base import StateStore
from leadgate.store.redis import RedisStore
from leadgate.store.redis_budget import RedisBudgetBook

log = get_logger(__name__)


def outreach_user_key(settings: OutreachSettings) -> str:
    """Who the budget belongs to: one leadgate deployment acts as one authorised Outreach user of
    one app, so the API's address and the app's client id name it (hashed: ids stay out of
    Redis key names)."""
    raw = f"{settings.base_url.rstrip('/')}\n{settings.client_id}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def budget_for(
    settings: OutreachSettings, store: StateStore, *, clock: Callable[[], float] = time.time
) -> RateBudget:
    """The budget a client of this store uses: shared in Redis, or this process's own."""
    if isinstance(store, RedisStore):
        book = RedisBudgetBook(store.redis, store.key("budget:", outreach_user_key(settings)))
        return SharedRateBudget(settings, book, clock=clock)
    return RateBudget(settings, clock=clock)


class SharedRateBudget(RateBudget):
    """``RateBudget``'s interface over a ``RedisBudgetBook``; see the module docstring."""

    def __init__(
        self,
        settings: OutreachSettings,
        book: RedisBudgetBook,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(settings, clock=clock)
        self._book = book
        self._lease_s = settings.total_timeout_s + 5.0
        self._prefix = f"{os.getpid()}-{uuid.uuid4().hex[:8]}-"
        self._numbers = itertools.count()
        self._taken: list[str] = []
        self._pending: set[asyncio.Task[None]] = set()

    async def acquire(self) -> None:
        """Take one slot of the shared budget (waiting for the pace), or raise ``RateLimited``."""
        while True:
            self._check()  # held as far as this process knows: Redis need not be asked
            now = self._clock()
            member = self._prefix + str(next(self._numbers))
            take = await self._book.take(
                now=now,
                interval=self._interval,
                tolerance=self._tolerance,
                member=member,
                deadline=now + self._lease_s,
            )
            if take.verdict == "ok":
                self._taken.append(member)
                self.in_flight += 1
                return
            if take.verdict == "held":
                self._held_until = max(self._held_until, now + take.seconds)
                raise RateLimited(
                    f"Outreach rate budget exhausted; resets in {take.seconds:.1f}s",
                    retry_after_s=take.seconds,
                )
            await asyncio.sleep(take.seconds)

    def release(self) -> None:
        """A request is answered: it stops counting as in flight here and in Redis."""
        super().release()
        if self._taken:
            self._spawn(self._book.done(self._taken.pop(0)))

    def hold(self, seconds: float) -> None:
        """Hold here at once and, for every process, in Redis."""
        super().hold(seconds)
        self._spawn(self._book.hold(self._held_until))

    def observe(self, headers: Mapping[str, str]) -> None:
        """Correct the local view and the shared one from a response's rate-limit headers."""
        super().observe(headers)
        remaining = self.remaining
        if remaining is None or "X-RateLimit-Remaining" not in headers:
            return
        now = self._clock()
        reset = retry_after({"X-RateLimit-Reset": headers.get("X-RateLimit-Reset", "")}, now=now)
        self._spawn(
            self._book.observe(
                now=now,
                remaining=remaining,
                reset_at=None if reset is None else now + reset,
                hold_s=min(reset if reset is not None else UNKNOWN_RESET_S, self._cap),
            )
        )

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a Redis write in the background (these calls are synchronous); a failure is
        logged, and the entries it leaves expire by themselves."""
        task = asyncio.get_running_loop().create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("outreach.budget.redis_error", error=type(task.exception()).__name__)
