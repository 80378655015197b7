"""Deliver one lead with retries: the loop behind ``leadgate send``.

Each try goes through the dispatcher; after a failed try the retry policy (``outreach/retry.py``,
shared with the delivery worker) says how long to wait or why to give up. A permanent failure or
a spent retry window ends as a dead letter with its reason. ``IntegrationStopped`` propagates: a
person must act, and no lead is dead-lettered for auth reasons.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from leadgate.domain.lead import LeadIntent
from leadgate.domain.trace import ExchangeRecorder, VendorExchange
from leadgate.errors import DeliveryError
from leadgate.outreach.dispatch import DeliveryResult, Dispatcher
from leadgate.outreach.retry import GiveUp, RetryPolicy, RetryState
from leadgate.settings import OutreachSettings


@dataclass(slots=True)
class Delivery:
    """How one lead's delivery ended."""

    outcome: Literal["delivered", "dead_lettered"]
    result: DeliveryResult | None = None
    reason: str | None = None
    message: str | None = None
    status: int | None = None
    attempts: int = 0
    exchanges: tuple[VendorExchange, ...] = ()


async def deliver(
    dispatcher: Dispatcher,
    lead: LeadIntent,
    settings: OutreachSettings,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> Delivery:
    """Deliver ``lead`` until it is delivered, permanently refused, or the window is spent."""
    policy = RetryPolicy.from_settings(settings)
    exchanges = ExchangeRecorder()
    state = RetryState()
    while True:
        exchanges.attempt = state.attempt
        try:
            result = await dispatcher.deliver(lead, exchanges)
        except DeliveryError as error:
            decision = policy.decide(
                state, error, clock(), rand=rand, outage=dispatcher.health.closed
            )
            if isinstance(decision, GiveUp):
                return Delivery(
                    "dead_lettered",
                    None,
                    decision.reason,
                    error.message,
                    error.status,
                    decision.state.tries,
                    exchanges.exchanges,
                )
            state = decision.state
            await sleep(decision.after_s)
        else:
            return Delivery(
                "delivered", result, None, None, None, state.attempt, exchanges.exchanges
            )
