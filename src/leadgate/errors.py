"""leadgate's error tree. Retry semantics are class data, so callers never guess.

::

    LeadgateError
    ├── ConfigError                 bad settings or presets; fix the file, nothing is retried
    │   └── PresetError             a preset file failed to load (file:line: field: message)
    ├── IntegrationStopped          the integration cannot go on without a person (invalid_grant,
    │                               missing scope, 415): events stay in Kafka, nothing is DLQ'd
    ├── TokenRejected               a 401: the client refreshes the token once and retries once
    └── DeliveryError               one lead could not be delivered this time
        ├── RetriableError          retriable=True: try again within the window
        │   └── RateLimited         a 429: wait until the reset, not counted as an attempt
        └── PermanentError          retriable=False: dead-letter with a sanitised reason

``reason`` names the failure (``domain.reasons.RetryReason`` for retriable ones, e.g.
``vendor_5xx``; ``DeadLetterReason`` for permanent ones). Whether and when to try again is decided
in one place, ``outreach/retry.py``, from ``retriable`` and the reason.

Drops are not errors: a dropped event is a value (``domain.outcome.Drop``).
Nothing above the Outreach adapter catches ``aiohttp.*``: the adapter translates transport
errors into this tree at the boundary.
"""

from __future__ import annotations


class LeadgateError(Exception):
    """Base of every error leadgate raises on purpose."""

    retriable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ConfigError(LeadgateError):
    """The configuration or a preset is wrong; a person must fix it."""


class PresetError(ConfigError):
    """A preset file failed to load; ``errors`` holds one ``file:line: field: message`` each."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class IntegrationStopped(LeadgateError):
    """The integration stops until a person acts (re-authorise, grant a scope, fix a proxy)."""

    def __init__(self, message: str, *, action: str) -> None:
        super().__init__(message)
        self.action = action


class TokenRejected(LeadgateError):
    """Outreach rejected the access token (401); the client refreshes it once and retries once."""


class DeliveryError(LeadgateError):
    """One delivery attempt failed; ``reason`` is the dead-letter reason if it becomes final."""

    def __init__(self, message: str, *, reason: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


class RetriableError(DeliveryError):
    """Transient: 5xx, timeouts, connection resets. Back off within the retry window."""

    retriable = True


class RateLimited(RetriableError):
    """A 429: wait until ``retry_after_s`` (from Retry-After or X-RateLimit-Reset)."""

    def __init__(self, message: str, *, retry_after_s: float | None, status: int = 429) -> None:
        super().__init__(message, reason="rate_limited", status=status)
        self.retry_after_s = retry_after_s


class PermanentError(DeliveryError):
    """Will not succeed by retrying: dead-letter it with a sanitised reason."""

    retriable = False
