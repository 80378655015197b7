"""Writing outcomes back to the source (a CRM): web links and the signed callback."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from leadgate.settings.checks import STRICT, no_control_chars


class OutcomesSettings(BaseModel):
    """Writing outcomes back to the source (a CRM): the Outreach web links in each outcome and
    the optional signed callback every outcome is POSTed to."""

    model_config = STRICT

    web_base_url: str = Field(
        default="https://web.outreach.io",
        description="Outreach web app the outcome's `outreach.url` points into",
    )
    callback_url: str | None = Field(
        default=None,
        description="POST every outcome here, signed (Standard Webhooks); off when unset",
    )
    callback_secret: SecretStr | None = Field(
        default=None,
        description="signing secret of the callback (secret; `whsec_<base64>` or any text)",
    )
    callback_group: str = Field(
        default="leadgate-outcomes-callback", description="consumer group of the callback poster"
    )
    callback_timeout_s: float = Field(default=10.0, gt=0, description="one callback request")
    callback_backoff_base_s: float = Field(
        default=1.0, gt=0, description="first retry delay of a failed callback (then doubling)"
    )
    callback_backoff_cap_s: float = Field(
        default=300.0, gt=0, description="longest wait between two callback attempts"
    )
    callback_window_s: float = Field(
        default=24 * 3600.0,
        gt=0,
        description="how long a failing callback is retried before it is dead-lettered",
    )

    _check_urls = field_validator("web_base_url", "callback_url")(no_control_chars)

    @model_validator(mode="after")
    def _secret_with_url(self) -> OutcomesSettings:
        if self.callback_url is not None and self.callback_secret is None:
            raise ValueError("callback_url needs a callback_secret to sign with")
        if not self.callback_url and self.callback_url is not None:
            raise ValueError("callback_url must not be empty (leave it unset to turn it off)")
        return self
