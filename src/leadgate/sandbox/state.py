"""Everything one running sandbox holds, in one object the handlers reach through ``SANDBOX``."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from leadgate.sandbox.changes import ChangeFeed
from leadgate.sandbox.config import SandboxConfig
from leadgate.sandbox.faults import FaultPlan
from leadgate.sandbox.org import seed_default_org
from leadgate.sandbox.ratelimit import FixedWindow
from leadgate.sandbox.store import Store
from leadgate.sandbox.tokens import TokenBook
from leadgate.sandbox.webhooks import WebhookDeliverer


@dataclass(slots=True)
class SandboxState:
    """Data, OAuth, budget, faults and the request log of one sandbox."""

    config: SandboxConfig
    store: Store = field(init=False)
    tokens: TokenBook = field(init=False)
    budget: FixedWindow = field(init=False)
    faults: FaultPlan = field(default_factory=FaultPlan)
    requests: deque[dict[str, Any]] = field(init=False)
    webhooks: WebhookDeliverer = field(init=False)
    # Writes are serialised: the uniqueness check and the insert are one step.
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Seconds added to the wall clock (``POST /__sandbox/clock``): time-based behaviour (compliance
    # requests) is tested by moving time forward, never by sleeping.
    clock_offset: float = 0.0

    def __post_init__(self) -> None:
        self.store = Store(self.config, self.now)
        if self.config.default_org:
            seed_default_org(self.store)
        self.tokens = TokenBook(self.config)
        self.budget = FixedWindow(self.config.rate_limit, self.config.window_s)
        # Bounded, so that a long `leadgate dev` or a benchmark does not grow without limit.
        self.requests = deque(maxlen=self.config.max_logged_requests)
        self.webhooks = WebhookDeliverer(self.store, self.config, self.faults)
        self.store.feed.subscribe(self.webhooks.on_change)

    @property
    def changes(self) -> ChangeFeed:
        """The change hook: ``state.changes.emit(Change(...))`` (see ``sandbox/changes.py``)."""
        return self.store.feed

    def now(self) -> float:
        """The sandbox clock: wall-clock seconds plus the offset tests added."""
        return time.time() + self.clock_offset

    def reset(self, *, oauth: bool = False) -> None:
        """Clear data, faults, the request log and the budget; OAuth state only when asked."""
        self.store.reset()
        if self.config.default_org:
            seed_default_org(self.store)
        self.faults.clear()
        self.requests.clear()
        self.webhooks.log.clear()
        self.budget.clear()
        if oauth:
            self.tokens.reset()


SANDBOX = web.AppKey("sandbox", SandboxState)
