"""The Outreach API: credentials, budget, retries, health gate and two-way sync."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from leadgate.settings.checks import STRICT, no_control_chars


class OutreachSettings(BaseModel):
    """The Outreach API: credentials, budget and retry policy (docs/architecture.md)."""

    model_config = STRICT

    base_url: str = "http://127.0.0.1:8300"
    client_id: str = "sandbox-client"
    client_secret: SecretStr = SecretStr("sandbox-secret")
    refresh_token: SecretStr | None = SecretStr("sandbox-refresh-token")
    redirect_uri: str = "http://127.0.0.1:8765/callback"
    scopes: tuple[str, ...] = (
        "prospects.read",
        "prospects.write",
        "accounts.read",
        "accounts.write",
        "users.read",
        "mailboxes.read",
        "sequences.read",
        "sequenceStates.read",
        "sequenceStates.write",
        "stages.read",
        "complianceRequests.read",
        "complianceRequests.write",
        # Two-way sync: register leadgate's webhook (list, create, repair, remove).
        "webhooks.all",
    )
    # Outreach allows 10,000 requests per hour per user; we spend a share of it so that other
    # tools of the same user keep some headroom.
    budget_per_hour: int = Field(default=10_000, gt=0)
    budget_share: float = Field(default=1.0, gt=0, le=1.0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    total_timeout_s: float = Field(default=30.0, gt=0)
    backoff_base_s: float = Field(default=0.5, gt=0)
    backoff_cap_s: float = Field(default=60.0, gt=0)
    retry_after_cap_s: float = Field(default=900.0, gt=0)
    retry_window_s: float = Field(default=4 * 3600.0, gt=0)
    refresh_early_s: float = Field(default=60.0, ge=0)
    link_accounts: bool = True
    coalesce_window_s: float = Field(default=1.0, ge=0)
    max_in_flight: int = Field(default=64, gt=0)
    health_close_after: int = Field(
        default=3, gt=0, description="5xx/unreachable answers in a row that close the health gate"
    )
    health_probe_interval_s: float = Field(
        default=1.0, gt=0, description="while the health gate is closed: one probe this often"
    )
    # Responses larger than this are an error, not a memory spike (docs/reliability.md V18).
    max_response_bytes: int = Field(default=2 * 1024 * 1024, gt=0)
    # A lookup that pages further than this is a vendor loop (V19).
    max_lookup_pages: int = Field(default=5, gt=0)
    # Two-way sync (webhooks in, reconciliation poll, mirror).
    webhook_secrets: tuple[SecretStr, ...] = Field(
        default=(),
        description=(
            "secrets Outreach signs webhook deliveries with (JSON list, the first is registered); "
            "several at once during a rotation; none: two-way sync is off (POST "
            "/outreach/webhooks refuses every delivery, no reconciliation poll)"
        ),
    )
    webhook_url: str | None = Field(
        default=None,
        description="the public URL of POST /outreach/webhooks that Outreach calls (https)",
    )
    reconcile_interval_s: float = Field(
        default=900.0, gt=0, description="seconds between reconciliation polls of Outreach"
    )
    mirror_fresh_s: float = Field(
        default=900.0,
        ge=0,
        description=(
            "the mirror replaces a GET before an array merge while webhooks arrived this recently"
        ),
    )

    _check_url = field_validator("base_url", "client_id", "redirect_uri")(no_control_chars)

    @field_validator("webhook_secrets")
    @classmethod
    def _secrets_not_empty(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if any(len(secret.get_secret_value()) < 16 for secret in value):
            raise ValueError("each webhook secret needs at least 16 characters")
        return value

    @model_validator(mode="after")
    def _window_exceeds_cap(self) -> OutreachSettings:
        if self.retry_window_s < self.backoff_cap_s:
            raise ValueError("retry_window_s must be at least backoff_cap_s")
        return self
