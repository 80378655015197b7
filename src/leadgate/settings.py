"""leadgate's configuration: one frozen settings object, the only reader of the environment.

Sources, highest first: keyword arguments (the CLI's flags), environment variables
(``LEADGATE_`` prefix, ``__`` between levels, e.g. ``LEADGATE_OUTREACH__CLIENT_ID``), the YAML
file named by ``LEADGATE_CONFIG``, then the defaults below (the embedded dev set-up).

Unknown keys are rejected (a typo must not silently fall back to a default), secrets are
``SecretStr`` (rendered ``**********``), and inconsistent values fail before anything starts.
Sub-settings are handed explicitly to the adapter that needs them (``settings.outreach`` to the
Outreach client, ``settings.kafka`` to the consumers), never read from a global.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from leadgate.domain.events import MAX_EVENT_BYTES, MAX_NAME_CHARS
from leadgate.errors import ConfigError

_STRICT = ConfigDict(extra="forbid", frozen=True)
_ENV_PREFIX = "LEADGATE_"


def _no_control_chars(value: str) -> str:
    """Reject newlines and other control characters (docs/reliability.md C6)."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value


class KafkaSettings(BaseModel):
    """Where the topics live and how leadgate's clients talk to the broker."""

    model_config = _STRICT

    bootstrap_servers: str = "127.0.0.1:19092"
    # The embedded Tansu broker rejects InitProducerId, so idempotence is off by default; turn it
    # on against a real Kafka cluster (acks is always "all").
    enable_idempotence: bool = False
    partitions: int = Field(default=6, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1)
    events_topic: str = "leadgate.events"
    delivery_topic: str = "leadgate.delivery.outreach"
    deadletter_topic: str = "leadgate.deadletter"
    traces_topic: str = "leadgate.traces"
    inbound_topic: str = "leadgate.inbound.outreach"
    changes_topic: str = "leadgate.outreach.changes"
    outcomes_topic: str = Field(
        default="leadgate.outcomes",
        description="one outcome per finished source record (CRM write-back), keyed by source id",
    )
    processor_group: str = "leadgate-processor"
    delivery_group: str = "leadgate-delivery-outreach"
    inbound_group: str = "leadgate-inbound-outreach"
    request_timeout_ms: int = Field(default=30_000, gt=0)
    max_poll_interval_ms: int = Field(default=300_000, gt=0)
    rebalance_timeout_ms: int = Field(default=60_000, gt=0)
    session_timeout_ms: int = Field(default=30_000, gt=0)
    max_poll_records: int = Field(default=500, gt=0)
    fetch_max_wait_ms: int = Field(
        default=10,
        gt=0,
        description=(
            "how long a fetch may wait at the broker for data; a broker that answers only when "
            "it runs out (the embedded one) adds up to this per hop, and a lead takes two"
        ),
    )
    drain_timeout_s: float = Field(default=20.0, gt=0)
    errors_tolerance: Literal["all", "none"] = Field(
        default="all",
        description=(
            "a record batch a consumer cannot decode (CRC mismatch, unknown or missing codec, "
            "corrupt payload), like Kafka Connect's errors.tolerance: 'all' dead-letters its raw "
            "bytes and offsets and moves on; 'none' stops that partition at the batch (logged, "
            "/readyz 503, leadgate_partition_halted) without committing past it"
        ),
    )

    _check_servers = field_validator("bootstrap_servers")(_no_control_chars)

    @model_validator(mode="after")
    def _drain_fits_rebalance(self) -> KafkaSettings:
        if self.drain_timeout_s * 1000 > self.rebalance_timeout_ms:
            raise ValueError("drain_timeout_s must fit inside rebalance_timeout_ms")
        return self


class OutreachSettings(BaseModel):
    """The Outreach API: credentials, budget and retry policy (docs/architecture.md)."""

    model_config = _STRICT

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

    _check_url = field_validator("base_url", "client_id", "redirect_uri")(_no_control_chars)

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


class WriteKey(BaseModel):
    """One source's write key and the browser origins allowed to use it."""

    model_config = _STRICT

    key: SecretStr
    name: str = "default"
    origins: tuple[str, ...] = ()


class CollectorSettings(BaseModel):
    """The HTTP collector (Segment Tracking API compatible)."""

    model_config = _STRICT

    write_keys: tuple[WriteKey, ...] = ()
    max_event_bytes: int = Field(default=MAX_EVENT_BYTES, gt=0, le=MAX_EVENT_BYTES)
    max_batch_bytes: int = Field(default=500 * 1024, gt=0)
    max_batch_events: int = Field(default=500, gt=0)
    per_ip_rate: float = Field(default=200.0, gt=0, description="requests per second per IP")
    per_key_rate: float = Field(default=2000.0, gt=0, description="requests per second per key")
    trusted_proxies: tuple[str, ...] = ()
    produce_timeout_s: float = Field(default=5.0, gt=0)
    max_pending_produces: int = Field(default=10_000, gt=0)
    unavailable_retry_after_s: int = Field(default=5, gt=0)
    max_json_depth: int = Field(default=32, gt=0)
    max_event_keys: int = Field(default=1_000, gt=0, description="object keys in one event")
    max_message_id_chars: int = Field(default=100, gt=0)
    max_event_name_chars: int = Field(default=MAX_NAME_CHARS, gt=0, le=MAX_NAME_CHARS)
    # Browsers cannot set headers on sendBeacon, so some sites put the key in the URL; it is off
    # by default because URLs end up in proxy logs (docs/reliability.md H18).
    allow_query_write_key: bool = False
    # The *name* of the write key that /demo embeds in its page; None serves no demo. The key is
    # public anyway (browser keys are), but an operator should opt in to publishing it.
    demo_write_key: str | None = None

    @model_validator(mode="after")
    def _names_resolve(self) -> CollectorSettings:
        names = [key.name for key in self.write_keys]
        if len(set(names)) != len(names):
            raise ValueError("write key names must be unique")
        if self.demo_write_key is not None and self.demo_write_key not in names:
            raise ValueError(f"demo_write_key {self.demo_write_key!r} names no write key")
        return self


class InspectorSettings(BaseModel):
    """The event inspector: who may read it, what it reveals, how much it keeps."""

    model_config = _STRICT

    token: SecretStr | None = None
    reveal_pii: bool = False
    max_events: int = Field(default=10_000, gt=0)
    max_age_hours: float = Field(default=24.0, gt=0)


class PipelineSettings(BaseModel):
    """The pure pipeline's knobs."""

    model_config = _STRICT

    presets: tuple[Path, ...] = (Path("presets/outreach-lead-capture.yaml"),)
    default_phone_region: str | None = None
    dedupe_ttl_s: float = Field(
        default=24 * 3600.0,
        gt=0,
        description=(
            "how long the messageId of an event that changed a profile or made a lead is "
            "remembered, so a redelivery or replay within it is skipped (other events are "
            "not remembered: their repeat changes nothing)"
        ),
    )
    presets_poll_s: float = Field(default=1.0, gt=0)


class PrivacySettings(BaseModel):
    """Forgetting people and suppressing them afterwards (docs/privacy.md)."""

    model_config = _STRICT

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


class OutcomesSettings(BaseModel):
    """Writing outcomes back to the source (a CRM): the Outreach web links in each outcome and
    the optional signed callback every outcome is POSTed to."""

    model_config = _STRICT

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

    _check_urls = field_validator("web_base_url", "callback_url")(_no_control_chars)

    @model_validator(mode="after")
    def _secret_with_url(self) -> OutcomesSettings:
        if self.callback_url is not None and self.callback_secret is None:
            raise ValueError("callback_url needs a callback_secret to sign with")
        if not self.callback_url and self.callback_url is not None:
            raise ValueError("callback_url must not be empty (leave it unset to turn it off)")
        return self


class StateSettings(BaseModel):
    """Where the shared state lives and how long each kind of it is kept."""

    model_config = _STRICT

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

    _check_namespace = field_validator("namespace")(_no_control_chars)

    @field_validator("url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        if not raw.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        _no_control_chars(raw)
        return value


class Settings(BaseSettings):
    """Everything leadgate reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="LEADGATE_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        # A cross-field check's error must not print the whole input: it holds the secrets.
        hide_input_in_errors=True,
    )

    state_dir: Path = Path(".leadgate")
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8400, ge=0, le=65535)
    kafka: KafkaSettings = KafkaSettings()
    outreach: OutreachSettings = OutreachSettings()
    collector: CollectorSettings = CollectorSettings()
    inspector: InspectorSettings = InspectorSettings()
    pipeline: PipelineSettings = PipelineSettings()
    privacy: PrivacySettings = PrivacySettings()
    outcomes: OutcomesSettings = OutcomesSettings()
    state: StateSettings = StateSettings()

    @model_validator(mode="after")
    def _admin_token_is_its_own(self) -> Settings:
        token = self.privacy.admin_token
        if token is None:
            return self
        value = token.get_secret_value()
        if len(value) < 12:
            raise ValueError("privacy.admin_token must be at least 12 characters")
        if value in {key.key.get_secret_value() for key in self.collector.write_keys}:
            raise ValueError("privacy.admin_token must differ from every write key")
        inspector = self.inspector.token
        if inspector is not None and inspector.get_secret_value() == value:
            raise ValueError("privacy.admin_token must differ from the inspector token")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("LEADGATE_CONFIG")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        sources.append(file_secret_settings)
        return tuple(sources)


def load_settings(**overrides: object) -> Settings:
    """Read the settings once; CLI flags come in as ``overrides``.

    A mistake raises ``ConfigError`` naming every wrong field and what is wrong with it, never
    the value given (it may be a secret); a ``LEADGATE_*`` variable that names no setting is a
    mistake too (a typo would otherwise be ignored and its default used without a word).
    """
    unknown = unknown_variables(os.environ)
    if unknown:
        raise ConfigError(
            "no such setting: " + ", ".join(unknown) + " (docs/operations.md lists every setting)"
        )
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from None


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """The ``LEADGATE_*`` variables that name no setting (``__`` separates the levels)."""
    unknown = []
    for name in sorted(environ):
        if not name.upper().startswith(_ENV_PREFIX) or name.upper() == "LEADGATE_CONFIG":
            continue
        model: type[BaseModel] | None = Settings
        for part in name[len(_ENV_PREFIX) :].lower().split("__"):
            if model is None:
                break  # below a value that is not a model (e.g. a JSON list): pydantic checks it
            field = model.model_fields.get(part)
            if field is None:
                unknown.append(name)
                break
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                model = annotation
            else:
                model = None
    return unknown


def describe_errors(exc: ValidationError) -> str:
    """One line per error: the dotted field and pydantic's message, without the input value."""
    return "\n".join(
        f"  {'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    )
