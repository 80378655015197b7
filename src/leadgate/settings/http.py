"""The HTTP side: the collector's write keys and limits, and the event inspector."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, model_validator

from leadgate.domain.events import MAX_EVENT_BYTES, MAX_NAME_CHARS
from leadgate.settings.checks import STRICT


class WriteKey(BaseModel):
    """One source's write key and the browser origins allowed to use it."""

    model_config = STRICT

    key: SecretStr
    name: str = "default"
    origins: tuple[str, ...] = ()


class CollectorSettings(BaseModel):
    """The HTTP collector (Segment Tracking API compatible)."""

    model_config = STRICT

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

    model_config = STRICT

    token: SecretStr | None = None
    reveal_pii: bool = False
    max_events: int = Field(default=10_000, gt=0)
    max_age_hours: float = Field(default=24.0, gt=0)
