"""How a sandbox behaves: one frozen dataclass, defaults true to Outreach's documented limits."""

from __future__ import annotations

from dataclasses import dataclass, field

# Scopes of the dev refresh token: everything leadgate touches, in Outreach's `<plural>.<verb>`
# grammar (shared/outreach-api.md §4).
DEFAULT_SCOPES: tuple[str, ...] = (
    "prospects.all",
    "accounts.all",
    "users.all",
    "webhooks.all",
    "mailboxes.all",
    "sequences.all",
    "sequenceStates.all",
    "stages.all",
)


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Knobs of one sandbox server; tests override the time-based ones to stay fast."""

    host: str = "127.0.0.1"
    port: int = 0
    # The API budget: Outreach allows 10,000 requests per user in a fixed one-hour window.
    rate_limit: int = 10_000
    window_s: float = 3600.0
    # Lenient = Outreach's "purposeful duplicates" org setting: no email uniqueness check.
    lenient: bool = False
    latency_ms: int = 0
    token_ttl_s: float = 7200.0
    # Outreach lets a user+app mint a token at most once per 60 s (W6W, AEV in outreach-api.md §4).
    mint_interval_s: float = 60.0
    code_ttl_s: float = 600.0
    excluded_domains: tuple[str, ...] = ()
    excluded_emails: tuple[str, ...] = ()
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"
    first_refresh_token: str = "sandbox-refresh-token"
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    # Outreach documents only vnd.api+json, but production clients send application/json and it
    # works (outreach-api.md §1.2); strict mode turns that into a 415.
    strict_content_type: bool = False
    max_logged_requests: int = 100_000
    # What the public URLs in `links` start with; None means "as the request reached us".
    public_url: str | None = None
    # Seed the default org (users alice and bob with mailboxes, three sequences, three stages) on
    # start and on every reset; see ``sandbox/org.py``.
    default_org: bool = True
    seed_user: dict[str, str] = field(
        default_factory=lambda: {
            "firstName": "Sandbox",
            "lastName": "Owner",
            "email": "owner@sandbox.invalid",
            "username": "owner",
        }
    )
