"""The outcome callback: one signed POST of an outcome to the URL the operator configured.

The body is the outcome's JSON exactly as it sits on ``leadgate.outcomes``; the headers are the
Standard Webhooks ones (``domain/signing.py``), the ``webhook-id`` being the outcome's id, the
same on every retry, so a receiver can dedupe. Any 2xx is delivered; anything else (another
status, a timeout, a refused connection) is a failed attempt that the callback worker retries
with backoff until its window is spent. aiohttp's errors stop here: callers see a
``CallbackResult``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import aiohttp

from leadgate.domain.signing import secret_key, sign
from leadgate.settings import OutcomesSettings

_USER_AGENT = "leadgate-outcomes/1"


@dataclass(frozen=True, slots=True)
class CallbackResult:
    """How one POST went: delivered, or why not (a status, or the kind of transport failure)."""

    delivered: bool
    status: int | None = None
    error: str | None = None

    @property
    def reason(self) -> str:
        """A short label for logs and metrics."""
        if self.delivered:
            return "delivered"
        return f"http_{self.status}" if self.status is not None else (self.error or "failed")


class CallbackPoster:
    """Posts outcomes to ``settings.callback_url``; use as ``async with CallbackPoster(...)``."""

    def __init__(
        self, settings: OutcomesSettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        if settings.callback_url is None or settings.callback_secret is None:
            raise ValueError("the callback poster needs outcomes.callback_url and callback_secret")
        self._url = settings.callback_url
        self._key = secret_key(settings.callback_secret.get_secret_value())
        self._timeout = aiohttp.ClientTimeout(total=settings.callback_timeout_s)
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> CallbackPoster:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, outcome_id: str, body: bytes) -> CallbackResult:
        """One signed attempt; never raises for a failed delivery."""
        assert self._session is not None, "use CallbackPoster as an async context manager"
        headers = sign(self._key, outcome_id, int(self._clock()), body)
        headers["Content-Type"] = "application/json"
        headers["User-Agent"] = _USER_AGENT
        try:
            async with self._session.post(
                self._url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                return CallbackResult(200 <= response.status < 300, response.status)
        except TimeoutError:
            return CallbackResult(False, error="timeout")
        except asyncio.CancelledError:
            raise
        except aiohttp.ClientError as exc:
            return CallbackResult(False, error=type(exc).__name__)
