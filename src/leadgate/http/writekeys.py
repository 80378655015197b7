"""Write keys: which source sent an event, and from which browser origins it may.

Browser write keys are public by design (Segment's are too); a key routes events to a source and
names it in the record, and its origin allowlist stops other websites from using it. The key is
looked up by its SHA-256 digest, so the lookup neither compares secrets byte by byte nor keeps
them as dictionary keys; the name, never the key, goes into records, logs and metrics.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from leadgate.settings import WriteKey


@dataclass(frozen=True, slots=True)
class Source:
    """The source a write key belongs to: its name and its allowed browser origins."""

    name: str
    origins: frozenset[str]


def normalise_origin(origin: str) -> str:
    """Origins compare exactly, except for the case of scheme and host (RFC 6454)."""
    return origin.strip().lower().rstrip("/")


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class WriteKeyRing:
    """The configured write keys, looked up by value."""

    def __init__(self, keys: Iterable[WriteKey]) -> None:
        self._by_digest: dict[bytes, Source] = {}
        for key in keys:
            origins = frozenset(normalise_origin(origin) for origin in key.origins)
            self._by_digest[_digest(key.key.get_secret_value())] = Source(key.name, origins)
        self.all_origins: frozenset[str] = frozenset().union(
            *(source.origins for source in self._by_digest.values())
        )

    def lookup(self, key: str | None) -> Source | None:
        """The source of ``key``, or None for a missing or unknown key."""
        if not key:
            return None
        return self._by_digest.get(_digest(key))


_MAX_ANONYMOUS_ID = 200


def anonymous_id_from_headers(headers: Mapping[str, str]) -> str | None:
    """RudderStack's ``AnonymousId`` request header (its SDKs send it base64-encoded; a plain
    value is taken as it is), for events whose body has no anonymousId; None without one."""
    value = headers.get("AnonymousId", "").strip()
    if not value or len(value) > _MAX_ANONYMOUS_ID:
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if decoded and decoded.isprintable():
        return decoded
    return value if value.isprintable() else None


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The key of ``Authorization: Basic`` (its username, Segment's convention) or ``Bearer``.

    Returns None without the header, and "" (an unknown key) for a malformed one.
    """
    value = headers.get("Authorization")
    if value is None:
        return None
    scheme, _, credentials = value.strip().partition(" ")
    scheme = scheme.lower()
    credentials = credentials.strip()
    if scheme == "bearer":
        return credentials
    if scheme != "basic":
        return ""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[0]
