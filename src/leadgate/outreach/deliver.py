"""Deliver one lead with retries: the loop behind ``leadgate send``.

The streaming delivery worker does its own retrying (it pauses partitions instead of sleeping);
this loop is for one-shot use. Transient failures back off with full jitter, a 429 waits for the
advised reset (not counted as an attempt, but counted against the window), a permanent failure
ends as a dead letter with its reason, and when the next wait would overrun ``retry_window_s``
the lead is dead-lettered as ``retry_window_exhausted``. ``IntegrationStopped`` propagates: a
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
from leadgate.domain.reasons import DeadLetterReason
from leadgate.domain.trace import ExchangeRecorder, VendorExchange
from leadgate.errors import PermanentError, RateLimited, RetriableError
from leadgate.outreach.backoff import next_delay
from leadgate.outreach.dispatch import DeliveryResult, Dispatcher
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
    exchanges = ExchangeRecorder()
    started = clock()
    failures = 0
    attempt = 0
    while True:
        attempt += 1
        exchanges.attempt = attempt
        try:
            result = await dispatcher.deliver(lead, exchanges)
        except PermanentError as error:
            return Delivery(
                "dead_lettered",
                None,
                error.reason,
                error.message,
                error.status,
                attempt,
                exchanges.exchanges,
            )
        except RateLimited as error:
            delay = next_delay(
                max(failures, 1),
                error.retry_after_s,
                base=settings.backoff_base_s,
                cap=settings.backoff_cap_s,
                rand=rand,
                retry_after_cap=settings.retry_after_cap_s,
            )
            last: RetriableError = error
        except RetriableError as error:
            failures += 1
            delay = next_delay(
                failures, None, base=settings.backoff_base_s, cap=settings.backoff_cap_s, rand=rand
            )
            last = error
        else:
            return Delivery("delivered", result, None, None, None, attempt, exchanges.exchanges)
        if clock() - started + delay > settings.retry_window_s:
            return Delivery(
                "dead_lettered",
                None,
                str(DeadLetterReason.RETRY_WINDOW_EXHAUSTED),
                last.message,
                last.status,
                attempt,
                exchanges.exchanges,
            )
        await sleep(delay)
