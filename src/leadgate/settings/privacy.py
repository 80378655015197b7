"""Forgetting people and suppressing them afterwards (docs/privacy.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

from leadgate.settings.checks import STRICT


class PrivacySettings(BaseModel):
    """Forgetting people and suppressing them afterwards (docs/privacy.md)."""

    model_config = STRICT

    admin_token: SecretStr | None = Field(
        default=None,
        description=(
            "bearer token of `POST /privacy/forget` (at least 12 characters, not a write key, "
            "not the inspector token); unset keeps the endpoint closed (401)"
        ),
    )
    salt: SecretStr | None = Field(
        default=None,
        description=(
            "key of the suppression hashes; unset generates one in `<state_dir>/privacy.salt` "
            "(mode 0600); set it when several machines share one state store"
        ),
    )
    compliance_timeout_s: float = Field(
        default=600.0,
        gt=0,
        description=(
            "how long `privacy forget --outreach` follows a compliance request before it "
            "reports it still open (run again to keep following)"
        ),
    )
    compliance_poll_s: float = Field(
        default=2.0, gt=0, description="how often a compliance request's state is read"
    )
