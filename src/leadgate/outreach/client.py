"""The Outreach JSON:API client: one place where HTTP happens and ``aiohttp`` errors end.

Every request: take one from the rate budget, attach a valid access token, send JSON:API
(``application/vnd.api+json``), read at most ``max_response_bytes`` (V18), never follow a redirect
(V16), record a ``VendorExchange`` for the trace, and ``classify()`` the answer. A 401 refreshes the
token once and retries once (V5); a second 401 stops the integration. Everything else that is not
a usable answer becomes an ``errors`` type here, so nothing above this module sees ``aiohttp``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
from yarl import URL

from leadgate.domain.trace import VendorExchange
from leadgate.errors import (
    IntegrationStopped,
    PermanentError,
    RateLimited,
    RetriableError,
)
from leadgate.outreach.auth import REAUTHORIZE, TokenManager
from leadgate.outreach.backoff import retry_after
from leadgate.outreach.classify import Action, Verdict, classify
from leadgate.outreach.ratelimit import RateBudget
from leadgate.outreach.shared_budget import budget_for
from leadgate.settings import OutreachSettings
from leadgate.store.base import StateStore

JSONAPI = "application/vnd.api+json"
USER_AGENT = "leadgate/0.1 (+https://github.com/leadgate)"
WINDOW_REASON = "retry_window_exhausted"
_RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
# Verdicts the caller acts on; every other verdict raises.
_ANSWERS = frozenset({Verdict.OK, Verdict.NOT_FOUND, Verdict.EMAIL_TAKEN, Verdict.NO_CHANGE})


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
    """An async context manager owning the HTTP session, the token manager and the budget."""

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
        exchanges: list[VendorExchange],
        *,
        params: Mapping[str, str] | None = None,
        document: dict[str, Any] | None = None,
        attempt: int = 1,
    ) -> Response:
        """One logical request (with at most one token refresh and retry).

        Returns for ``OK``, ``NOT_FOUND``, ``EMAIL_TAKEN`` and ``NO_CHANGE``; raises
        ``RetriableError``, ``RateLimited``, ``PermanentError`` or ``IntegrationStopped`` otherwise.
        """
        url = target if isinstance(target, URL) else self.url(target, params)
        token = await self.auth.access_token()
        status, action, doc = await self._send(method, url, token, document, exchanges, attempt)
        if action.verdict is Verdict.REFRESH:
            token = await self.auth.replace(token)
            status, action, doc = await self._send(method, url, token, document, exchanges, attempt)
            if action.verdict is Verdict.REFRESH:
                raise IntegrationStopped(
                    "Outreach rejected a freshly refreshed access token (401 twice)",
                    action=REAUTHORIZE,
                )
        return self._settle(status, action, doc)

    def _settle(self, status: int, action: Action, doc: dict[str, Any] | None) -> Response:
        verdict = action.verdict
        if verdict in _ANSWERS:
            return Response(status, verdict, doc, action.message)
        if verdict is Verdict.STOP:
            raise IntegrationStopped(action.message, action=action.todo or REAUTHORIZE)
        if verdict is Verdict.DEAD_LETTER:
            reason = str(action.reason) if action.reason else "vendor_permanent"
            raise PermanentError(action.message, reason=reason, status=status)
        # RETRY and AMBIGUOUS: the next attempt starts over (with a lookup before any create).
        raise RetriableError(action.message, reason=WINDOW_REASON, status=status)

    async def _send(
        self,
        method: str,
        url: URL,
        token: str,
        document: dict[str, Any] | None,
        exchanges: list[VendorExchange],
        attempt: int,
    ) -> tuple[int, Action, dict[str, Any] | None]:
        if self._session is None:
            raise RuntimeError("use OutreachClient as an async context manager")
        await self.budget.acquire()
        try:
            return await self._exchange(method, url, token, document, exchanges, attempt)
        finally:
            self.budget.release()

    async def _exchange(
        self,
        method: str,
        url: URL,
        token: str,
        document: dict[str, Any] | None,
        exchanges: list[VendorExchange],
        attempt: int,
    ) -> tuple[int, Action, dict[str, Any] | None]:
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
            exchanges.append(
                VendorExchange(method, shown, None, _ms(started), attempt, document, error=message)
            )
            raise RetriableError(message, reason=WINDOW_REASON) from None
        self.budget.observe(response_headers)
        action = classify(status, response_headers, raw)
        doc = _json(raw)
        exchanges.append(
            VendorExchange(
                method,
                shown,
                status,
                _ms(started),
                attempt,
                document,
                response=doc,
                rate_limit={h: response_headers[h] for h in _RATE_HEADERS if h in response_headers},
                error=action.message or None if action.verdict is not Verdict.OK else None,
            )
        )
        if action.verdict is Verdict.RATE_LIMITED:
            wait = retry_after(response_headers, now=self._clock())
            if wait is not None:
                self.budget.hold(wait)
            raise RateLimited(action.message, retry_after_s=wait)
        return status, action, doc


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
