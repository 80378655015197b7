"""OAuth for Outreach: the refresh-token grant, single-flight, early, and persisted.

Outreach access tokens live 7200 s and every refresh returns a *new* refresh token (the old one
may die at once), and a user+app may mint at most one token per 60 s (docs/outreach-api.md#oauth).
So:

- one refresh at a time in a process (an ``asyncio.Lock``) and across every process and host
  that shares the state store (a lease: a ``lease`` document claimed atomically with a TTL, so a
  process that dies holding it blocks the others for ``total_timeout_s`` at most); the stored
  pair is re-read first, and a process that finds the lease taken waits for the pair its holder
  stores and adopts it; a caller whose token was rejected asks for a token *newer than the one
  it used*, so 64 coroutines in 5 processes hitting 401 together cause exactly one refresh;
- refresh ``refresh_early_s`` before expiry, not after a 401;
- the rotated pair is saved to the store *before* the old refresh token is dropped (P24);
- ``invalid_grant`` stops the integration with a message saying what to do, and the manager
  remembers it: no second call to the token endpoint, never a refresh loop (P25).

Tokens never appear in messages or logs.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import orjson

from leadgate.domain.reasons import RetryReason
from leadgate.errors import IntegrationStopped, RateLimited, RetriableError
from leadgate.outreach.backoff import retry_after
from leadgate.settings import OutreachSettings
from leadgate.store.base import StateStore, TokenSet

REAUTHORIZE = "run `leadgate auth login` to authorize leadgate again"
LEASE_COLLECTION = "lease"
LEASE_KEY = "outreach.token.refresh"
# How often a process waiting for another one's refresh looks for the new pair.
_LEASE_POLL_S = 0.05
_MAX_TOKEN_RESPONSE = 64 * 1024


async def post_token_request(
    session: aiohttp.ClientSession,
    settings: OutreachSettings,
    form: Mapping[str, str],
) -> dict[str, Any]:
    """POST to ``/oauth/token``; the parsed JSON on 200, else a leadgate error (no secrets)."""
    url = settings.base_url.rstrip("/") + "/oauth/token"
    grant = form.get("grant_type", "?")
    try:
        async with session.post(url, data=dict(form), allow_redirects=False) as response:
            body = await response.content.read(_MAX_TOKEN_RESPONSE)
            status = response.status
            headers = dict(response.headers)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise RetriableError(
            f"Outreach token endpoint unreachable ({type(exc).__name__})",
            reason=RetryReason.VENDOR_UNREACHABLE,
        ) from None
    try:
        doc = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        doc = {}
    doc = doc if isinstance(doc, dict) else {}
    if status == 200 and isinstance(doc.get("access_token"), str):
        return doc
    error = str(doc.get("error", "")) if isinstance(doc.get("error"), str) else ""
    if status == 429:
        wait = retry_after(headers, now=time.time())
        raise RateLimited("Outreach throttled the token endpoint (429)", retry_after_s=wait)
    if status >= 500:
        raise RetriableError(
            f"Outreach token endpoint answered {status}", reason=RetryReason.VENDOR_5XX
        )
    if error == "invalid_grant":
        raise IntegrationStopped(
            f"Outreach rejected the {grant.replace('_', ' ')} (invalid_grant): it was used, "
            "revoked, expired, or issued to another app",
            action=REAUTHORIZE,
        )
    if error == "invalid_client" or status == 401:
        raise IntegrationStopped(
            "Outreach rejected the client credentials (invalid_client)",
            action="check LEADGATE_OUTREACH__CLIENT_ID and LEADGATE_OUTREACH__CLIENT_SECRET",
        )
    raise IntegrationStopped(
        f"Outreach token endpoint answered {status} {error or 'without an error code'}",
        action=REAUTHORIZE,
    )


def token_set(doc: Mapping[str, Any], *, previous_refresh: str, now: float) -> TokenSet:
    """The token set of a token response (keeps the old refresh token if none came back)."""
    refresh = doc.get("refresh_token")
    expires_in = doc.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, int | float) else 7200.0
    return TokenSet(
        access_token=str(doc["access_token"]),
        refresh_token=refresh if isinstance(refresh, str) and refresh else previous_refresh,
        expires_at=now + lifetime,
    )


class TokenManager:
    """Hands out a valid access token; refreshes it single-flight and persists the rotation."""

    def __init__(
        self,
        settings: OutreachSettings,
        store: StateStore,
        session: aiohttp.ClientSession,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._session = session
        self._clock = clock
        self._lock = asyncio.Lock()
        self._tokens: TokenSet | None = None
        self._stopped: IntegrationStopped | None = None
        self._lease_s = settings.total_timeout_s + 5.0
        self._holder = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.refreshes = 0

    def _fresh(self, tokens: TokenSet | None) -> bool:
        if tokens is None or not tokens.access_token:
            return False
        return tokens.expires_at - self._settings.refresh_early_s > self._clock()

    async def access_token(self) -> str:
        """A token that is valid for at least ``refresh_early_s`` more seconds."""
        tokens = self._tokens
        if self._fresh(tokens) and tokens is not None:
            return tokens.access_token
        return await self._refresh_unless_newer(stale=None)

    async def replace(self, rejected: str) -> str:
        """A token other than ``rejected`` (it got a 401); refreshes unless another caller did."""
        return await self._refresh_unless_newer(stale=rejected)

    def _usable(self, tokens: TokenSet | None, stale: str | None) -> bool:
        return tokens is not None and tokens.access_token != stale and self._fresh(tokens)

    async def _refresh_unless_newer(self, stale: str | None) -> str:
        async with self._lock:
            while True:
                if self._stopped is not None:
                    raise self._stopped
                # The store is the truth: another worker process sharing it may have rotated
                # the pair since we last looked, and its refresh token is the only one valid.
                stored = await self._store.load_tokens()
                if stored is not None:
                    self._tokens = stored
                tokens = self._tokens
                if self._usable(tokens, stale) and tokens is not None:
                    return tokens.access_token
                if await self._claim_lease():
                    # A holder may have stored its pair and let go between our read and our
                    # claim: refreshing with the refresh token it used would be refused.
                    stored = await self._store.load_tokens()
                    if stored is not None and self._usable(stored, stale):
                        await self._store.delete_docs(LEASE_COLLECTION, [LEASE_KEY])
                        self._tokens = stored
                        return stored.access_token
                    break
                # Another process is refreshing: adopt the pair it stores (or, if it died,
                # claim the lease once it expired).
                await self._await_rotation(tokens, stale)
            try:
                return await self._refresh_holding_lease(tokens)
            finally:
                await self._store.delete_docs(LEASE_COLLECTION, [LEASE_KEY])

    async def _refresh_holding_lease(self, tokens: TokenSet | None) -> str:
        try:
            self._tokens = await self._refresh(tokens)
        except IntegrationStopped as stop:
            rotated = await self._rotated_elsewhere(tokens)
            if rotated is not None:
                self._tokens = rotated
                return rotated.access_token
            self._stopped = stop
            raise
        return self._tokens.access_token

    async def _claim_lease(self) -> bool:
        """Claim the one refresh of every process sharing the store, for ``_lease_s``."""
        return await self._store.put_doc_if_absent(
            LEASE_COLLECTION,
            LEASE_KEY,
            {"holder": self._holder, "at": self._clock()},
            ttl_s=self._lease_s,
        )

    async def _await_rotation(self, used: TokenSet | None, stale: str | None) -> None:
        """Wait until the stored pair is newer than ``used`` or the lease is gone."""
        deadline = time.monotonic() + self._lease_s
        while time.monotonic() < deadline:
            await asyncio.sleep(_LEASE_POLL_S)
            latest = await self._store.load_tokens()
            if latest is not None and latest != used and self._usable(latest, stale):
                return
            if not await self._store.get_docs(LEASE_COLLECTION, [LEASE_KEY]):
                return

    async def _rotated_elsewhere(self, used: TokenSet | None) -> TokenSet | None:
        """A fresh pair another process saved while our refresh with ``used`` was refused."""
        latest = await self._store.load_tokens()
        if latest is None or not self._fresh(latest):
            return None
        if used is not None and latest.refresh_token == used.refresh_token:
            return None
        return latest

    async def _refresh(self, current: TokenSet | None) -> TokenSet:
        refresh_token = current.refresh_token if current is not None else None
        if not refresh_token and self._settings.refresh_token is not None:
            refresh_token = self._settings.refresh_token.get_secret_value()
        if not refresh_token:
            raise IntegrationStopped("no Outreach refresh token is configured", action=REAUTHORIZE)
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self._settings.client_id,
            "client_secret": self._settings.client_secret.get_secret_value(),
            "redirect_uri": self._settings.redirect_uri,
        }
        self.refreshes += 1
        doc = await post_token_request(self._session, self._settings, form)
        tokens = token_set(doc, previous_refresh=refresh_token, now=self._clock())
        # Persist before the old pair is dropped: if we die here, the next start uses the new one.
        await self._store.save_tokens(tokens)
        return tokens
