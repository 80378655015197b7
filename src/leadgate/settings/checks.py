"""What every settings model shares: the strict model config and the value checks."""

from __future__ import annotations

from pydantic import ConfigDict

STRICT = ConfigDict(extra="forbid", frozen=True)


def no_control_chars(value: str) -> str:
    """Reject newlines and other control characters (docs/reliability.md C6)."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value
