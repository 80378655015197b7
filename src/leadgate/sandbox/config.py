"""How a sandbox behaves: one frozen dataclass, defaults true to Outreach's documented limits."""

from __future__ import annotations

from dataclasses import dataclass, field

# Scopes of the dev refresh token: everything leadgate touches, in Outreach's `<plural>.<verb>`
# grammar (docs/outreach-api.md#oauth).
DEFAULT_SCOPES: tuple[str, ...] = (
    "prospects.all",
    "accounts.all",
    "users.all",
    "webhooks.all",
    "opportunities.all",
    "opportunityStages.all",
    "opportunityProspectRoles.all",
    "complianceRequests.all",
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
    # Outreach lets a user+app mint a token at most once per 60 s (docs/outreach-api.md#oauth).
    mint_interval_s: float = 60.0
    code_ttl_s: float = 600.0
    excluded_domains: tuple[str, ...] = ()
    excluded_emails: tuple[str, ...] = ()
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"
    first_refresh_token: str = "sandbox-refresh-token"
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    # Outreach documents only vnd.api+json, but production clients send application/json and it
    # works (docs/outreach-api.md#transport); strict mode turns that into a 415.
    strict_content_type: bool = False
    max_logged_requests: int = 100_000
    # A compliance request stays pending this long, then running this long, then is done (and
    # its prospect deleted); measured on the sandbox clock, which tests move forward.
    compliance_step_s: float = 1.0
    # What the public URLs in `links` start with; None means "as the request reached us".
    public_url: str | None = None
    # Outreach documents no required opportunity fields (docs/outreach-api.md); these
    # are the suggested default, a 422 "<Field> can't be blank." when missing.
    opportunity_required: tuple[str, ...] = ("name", "closeDate")
    # Webhook deliveries: the org id header, and the pause between retries of a connection that
    # could not be made (Outreach: 3 retries 1 s apart, docs/outreach-api.md#webhooks).
    org_id: str = "5b7e1c2a-0000-4000-8000-000000000001"
    webhook_retry_delay_s: float = 1.0
    # Seed the default org (users alice and bob, a mailbox per user, three sequences, three
    # prospect stages) on start and on every reset; see ``sandbox/org.py``.
    default_org: bool = True
    # A test oracle, not an Outreach setting: Outreach always refuses a second enrolment of a
    # prospect in a sequence (422); with this on the sandbox accepts it, so a test can see that a
    # client never relies on that refusal (a double enrolment would show as two states).
    allow_duplicate_enrolments: bool = False
    seed_user: dict[str, str] = field(
        default_factory=lambda: {
            "firstName": "Sandbox",
            "lastName": "Owner",
            "email": "owner@sandbox.invalid",
            "username": "owner",
        }
    )
