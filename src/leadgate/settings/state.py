"""Where the shared state lives and how long each kind of it is kept."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator

from leadgate.settings.checks import STRICT, no_control_chars


class StateSettings(BaseModel):
    """Where the shared state lives and how long each kind of it is kept."""

    model_config = STRICT

    url: SecretStr | None = Field(
        default=None,
        description=(
            "redis://[:password@]host:port/db (or rediss://) to keep state in Redis, shared by "
            "processes on any host; unset keeps it in the SQLite file under state_dir (one host)"
        ),
    )
    namespace: str = Field(
        default="leadgate:",
        min_length=1,
        max_length=64,
        description="prefix of every Redis key (several deployments may share one Redis)",
    )
    anonymous_profile_idle_s: float = Field(
        default=30 * 24 * 3600.0,
        gt=0,
        description=(
            "an anonymous visitor's profile (anon:<id>) is forgotten after this long without "
            "a change; profiles of known users (user:<id>) are kept"
        ),
    )

    _check_namespace = field_validator("namespace")(no_control_chars)

    @field_validator("url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        if not raw.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        no_control_chars(raw)
        return value
