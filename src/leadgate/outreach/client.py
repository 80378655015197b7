"""The Outreach JSON:API client: one place where HTTP happens and ``aiohttp`` errors end.

Every request: take one from the rate budget, attach a valid access token, send JSON:API
(``application/vnd.api+json``), read at most ``max_response_bytes`` (V18), never follow a redirect
(V16), record a ``VendorExchange`` for the trace, and ``classify()`` the answer. A 401 refreshes the
token once and retries once (V5); a second 401 stops the integration. Everything else that is not
a usable answer becomes an ``errors`` type here, so nothing above this module sees ``aiohttp``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
from yarl import URL

from leadgate.domain.reasons import OUTAGE_REASONS, RetryReason
from leadgate.domain.trace import ExchangeRecorder, VendorExchange
from leadgate.errors import (
    IntegrationStopped,
    LeadgateError,
    RateLimited,
    RetriableError,
    TokenRejected,
)
from leadgate.outreach.auth import REAUTHORIZE, TokenManager
from leadgate.outreach.backoff import retry_after
from leadgate.outreach.classify import Outcome, Verdict, classify
from leadgate.outreach.health import HealthGate
from leadgate.outreach.ratelimit import RateBudget
from leadgate.outreach.shared_budget import budget_for
from leadgate.settings import OutreachSettings
from leadgate.store.base import StateStore
from leadgate.store.health_board import HealthBoard

JSONAPI = "application/vnd.api+json"
USER_AGENT = "leadgate/0.1 (+https://github.com/leadgate)"
# The reason of a retriable failure that Outreach's answers did not settle (an email "taken" but
# not found, a create without a readable id): the name is kept for the handlers that raise it.
WINDOW_REASON = RetryReason.VENDOR_AMBIGUOUS
_RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


class _TooLarge(Exception):
    """The response body exceeded ``max_response_bytes``."""


@dataclass(frozen=True, slots=True)
class Response:
    """A response the caller can act on: its verdict and the parsed document (if JSON)."""

    status: int
    verdict: Verdict
    document: dict[str, Any] | None
    message: str = ""

    @property
    def data(self) -> Any:
        """``document["data"]`` or None."""
        return self.document.get("data") if self.document else None


class OutreachClient:
    """An async context manager owning the HTTP session, the token manager, the budget and the
    health gate (``outreach/health.py``)."""

    def __init__(
        self,
        settings: OutreachSettings,
        store: StateStore,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._store = store
        self._clock = clock
        self._base = URL(settings.base_url.rstrip("/"))
        self._session: aiohttp.ClientSession | None = None
        self._auth: TokenManager | None = None
        self.budget: RateBudget = budget_for(settings, store, clock=clock)
        self.health = HealthGate(
            close_after=settings.health_close_after,
            probe_interval_s=settings.health_probe_interval_s,
            # shared with every process on this store (outreach/health.py)
            board=HealthBoard(store, str(self._base), owner=f"{os.getpid()}-{id(self):x}"),
        )

    async def __aenter__(self) -> OutreachClient:
        timeout = aiohttp.ClientTimeout(
            total=self.settings.total_timeout_s, connect=self.settings.connect_timeout_s
        )
        connector = aiohttp.TCPConnector(limit=self.settings.max_in_flight)
        self._session = aiohttp.ClientSession(
            timeout=timeout, connector=connector, headers={"User-Agent": USER_AGENT}
        )
        self._auth = TokenManager(self.settings, self._store, self._session, clock=self._clock)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def auth(self) -> TokenManager:
        """The token manager (only inside ``async with``)."""
        if self._auth is None:
            raise RuntimeError("use OutreachClient as an async context manager")
        return self._auth

    def url(self, path: str, params: Mapping[str, str] | None = None) -> URL:
        """The absolute URL of an API path such as ``/api/v2/prospects``."""
        url = self._base.with_path(self._base.path.rstrip("/") + path)
        return url.with_query(dict(params)) if params else url

    async def request(
        self,
        method: str,
        target: str | URL,
        exchanges: ExchangeRecorder,
        *,
        params: Mapping[str, str] | None = None,
        document: dict[str, Any] | None = None,
    ) -> Response:
        """One logical request (with at most one token refresh and retry).

        Returns for the answers (``OK``, ``NOT_FOUND``, ``EMAIL_TAKEN``, ``NO_CHANGE``); raises
        the ``errors`` type ``classify`` gave otherwise (``RetriableError``, ``RateLimited``,
        ``PermanentError``, ``IntegrationStopped``).
        """
        url = target if isinstance(target, URL) else self.url(target, params)
        await self.health.admit()
        token = await self.auth.access_token()
        try:
            return await self._send(method, url, token, document, exchanges)
        except TokenRejected:
            token = await self.auth.replace(token)
        try:
            return await self._send(method, url, token, document, exchanges)
        except TokenRejected:
            raise IntegrationStopped(
                "Outreach rejected a freshly refreshed access token (401 twice)",
                action=REAUTHORIZE,
            ) from None

    async def _send(
        self,
        method: str,
        url: URL,
        token: str,
        document: dict[str, Any] | None,
        exchanges: ExchangeRecorder,
    ) -> Response:
        if self._session is None:
            raise RuntimeError("use OutreachClient as an async context manager")
        await self.budget.acquire()
        try:
            return await self._exchange(method, url, token, document, exchanges)
        finally:
            self.budget.release()

    async def _exchange(
        self,
        method: str,
        url: URL,
        token: str,
        document: dict[str, Any] | None,
        exchanges: ExchangeRecorder,
    ) -> Response:
        assert self._session is not None
        headers = {"Authorization": f"Bearer {token}", "Accept": JSONAPI}
        body = None
        if document is not None:
            headers["Content-Type"] = JSONAPI
            body = orjson.dumps(document)
        shown = _shown_path(url)
        started = time.monotonic()
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, allow_redirects=False
            ) as response:
                raw = await _read_capped(response, self.settings.max_response_bytes)
                status = response.status
                response_headers = {k: v for k, v in response.headers.items()}
        except (aiohttp.ClientError, OSError, TimeoutError, _TooLarge) as exc:
            message = _transport_message(method, shown, exc)
            exchanges.record(
                VendorExchange(
                    method, shown, None, _ms(started), exchanges.attempt, document, error=message
                )
            )
            if isinstance(exc, _TooLarge):
                self.health.succeeded()
                raise RetriableError(message, reason=RetryReason.VENDOR_AMBIGUOUS) from None
            self.health.failed()
            raise RetriableError(message, reason=RetryReason.VENDOR_UNREACHABLE) from None
        self.budget.observe(response_headers)
        outcome = classify(status, response_headers, raw)
        if isinstance(outcome, RetriableError) and outcome.reason in OUTAGE_REASONS:
            self.health.failed()
        else:
            self.health.succeeded()
        doc = _json(raw)
        exchanges.record(
            VendorExchange(
                method,
                shown,
                status,
                _ms(started),
                exchanges.attempt,
                document,
                response=doc,
                rate_limit={h: response_headers[h] for h in _RATE_HEADERS if h in response_headers},
                error=_error_text(outcome),
            )
        )
        if isinstance(outcome, RateLimited):
            wait = retry_after(response_headers, now=self._clock())
            if wait is not None:
                self.budget.hold(wait)
            raise RateLimited(outcome.message, retry_after_s=wait)
        if isinstance(outcome, LeadgateError):
            raise outcome
        return Response(status, outcome.verdict, doc, outcome.message)


def _error_text(outcome: Outcome) -> str | None:
    """What the trace shows as the exchange's error (None for a plain OK)."""
    if isinstance(outcome, LeadgateError):
        return outcome.message or None
    return outcome.message or None if outcome.verdict is not Verdict.OK else None


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> bytes:
    """The body, or ``_TooLarge`` as soon as it exceeds ``cap`` bytes (V18)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > cap:
            raise _TooLarge(f"response body over {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        doc = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def _shown_path(url: URL) -> str:
    """Path and query as a person reads them (brackets unescaped), for traces."""
    if not url.query:
        return url.path
    return url.path + "?" + urlencode(list(url.query.items()), safe="[]@,")


def _transport_message(method: str, path: str, exc: BaseException) -> str:
    # Never str(exc): aiohttp puts the full URL (with the email filter) into its messages.
    what = {
        "_TooLarge": "the response was too large",
        "TimeoutError": "the request timed out",
        "ServerTimeoutError": "the request timed out",
        "ConnectionTimeoutError": "the connection timed out",
        "SocketTimeoutError": "the response stalled",
        "ClientConnectorError": "could not connect",
        "ServerDisconnectedError": "the server closed the connection",
        "ClientPayloadError": "the response was cut off",
    }.get(type(exc).__name__, "a connection error")
    return f"{method} {path.partition('?')[0]}: {what} ({type(exc).__name__})"


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000.0
