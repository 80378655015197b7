"""The sandbox's OAuth state: authorization codes, access tokens that expire, refresh tokens
(rotated on every refresh, the old one revoked at once), scopes per token, and the mint throttle,
per user of a client: Outreach lets a user+app mint once per 60 s (docs/outreach-api.md#oauth), so
a rep holding a token of their own does not slow the integration's user down.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from leadgate.sandbox.config import SandboxConfig


@dataclass(slots=True)
class Grant:
    """A refresh token or an authorization code: who it belongs to and what it may do."""

    client_id: str
    scopes: tuple[str, ...]
    redirect_uri: str | None = None
    expires_at: float | None = None
    used: bool = False
    user_id: int = 1


@dataclass(slots=True)
class AccessToken:
    """A bearer token for the API."""

    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
    user_id: int = 1


@dataclass(slots=True)
class TokenBook:
    """All OAuth state of one sandbox."""

    config: SandboxConfig
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    codes: dict[str, Grant] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    last_mint: dict[str, float] = field(default_factory=dict)
    mints: int = 0

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to the dev credentials: only the first refresh token exists."""
        self.refresh_tokens = {
            self.config.first_refresh_token: Grant(self.config.client_id, self.config.scopes)
        }
        self.codes.clear()
        self.access_tokens.clear()
        self.last_mint.clear()
        self.mints = 0

    def issue_refresh_token(
        self, scopes: tuple[str, ...], token: str | None = None, *, user_id: int = 1
    ) -> str:
        """A new live refresh token of the dev client for a user (tests narrow scopes with it)."""
        value = token or f"sbx-rt-{secrets.token_hex(12)}"
        self.refresh_tokens[value] = Grant(self.config.client_id, scopes, user_id=user_id)
        return value

    def expire_all(self) -> None:
        """Every access token is now expired, as if their lifetime had passed; since that is far
        longer than the mint interval, the mint throttle is lifted too."""
        now = time.time()
        for token in self.access_tokens.values():
            token.expires_at = min(token.expires_at, now - 1)
        self.last_mint.clear()

    def authenticate(self, header: str | None) -> AccessToken | None:
        """The live token behind an ``Authorization: Bearer`` header, or None."""
        if not header or not header.startswith("Bearer "):
            return None
        token = self.access_tokens.get(header.removeprefix("Bearer ").strip())
        if token is None or token.expires_at <= time.time():
            return None
        return token

    def mint(self, client_id: str, scopes: tuple[str, ...], user_id: int = 1) -> dict[str, object]:
        """A fresh access + refresh token pair for one user and the token response body."""
        now = time.time()
        access = f"sbx-at-{secrets.token_hex(16)}"
        self.access_tokens[access] = AccessToken(
            client_id, scopes, now + self.config.token_ttl_s, user_id
        )
        refresh = self.issue_refresh_token(scopes, user_id=user_id)
        self.refresh_tokens[refresh].client_id = client_id
        self.last_mint[_minter(client_id, user_id)] = now
        self.mints += 1
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.config.token_ttl_s),
            "refresh_token": refresh,
            "scope": " ".join(scopes),
            "created_at": int(now),
        }

    def throttled_for(self, client_id: str, user_id: int = 1) -> float:
        """Seconds until this user of this client may mint again (0 when it may now)."""
        last = self.last_mint.get(_minter(client_id, user_id))
        if last is None:
            return 0.0
        return max(0.0, last + self.config.mint_interval_s - time.time())


def _minter(client_id: str, user_id: int) -> str:
    """Who the mint throttle counts: one user of one app."""
    return f"{client_id}:{user_id}"
