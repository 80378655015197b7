"""PII at rest: the inspector's key file, sealed blobs and salted email lookups.

The trace database keeps raw events (``leadgate presets diff`` replays them) and traces that
name people. It is bounded in time and size, readable by its owner only, and its PII columns are
sealed with a key kept in a separate owner-only file (``inspector.key`` in the state dir): a copy
of the database alone (a backup, a support bundle) reveals nothing. Emails are indexed by a
salted HMAC of the normalised address, so a lookup needs the address, never stores it.

The seal is a stream cipher built on SHAKE-256 (key || nonce as the seed, a fresh 16-byte nonce
per blob) with a BLAKE2b tag; the standard library has no AES, and the threat here is a leaked
file, not an active attacker with the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

_NONCE = 16
_TAG = 16


def _xor(data: bytes, stream: bytes) -> bytes:
    size = len(data)
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(size, "big")


class SealError(ValueError):
    """A sealed blob was truncated or altered, or belongs to another key."""


class Sealer:
    """Seals blobs and derives email lookup keys from one secret key."""

    def __init__(self, key: bytes) -> None:
        self._enc = hashlib.sha256(b"leadgate-seal" + key).digest()
        self._mac = hashlib.sha256(b"leadgate-mac" + key).digest()
        self._email = hashlib.sha256(b"leadgate-email" + key).digest()

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> Sealer:
        """The sealer of this state dir, creating its key file (mode 0600) on first use."""
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = state_dir / "inspector.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(32))
        return cls(path.read_bytes())

    def _stream(self, nonce: bytes, size: int) -> bytes:
        return hashlib.shake_256(self._enc + nonce).digest(size)

    def seal(self, data: bytes) -> bytes:
        """nonce || ciphertext || tag."""
        nonce = secrets.token_bytes(_NONCE)
        body = _xor(data, self._stream(nonce, len(data)))
        tag = hashlib.blake2b(nonce + body, key=self._mac, digest_size=_TAG).digest()
        return nonce + body + tag

    def open(self, blob: bytes) -> bytes:
        """The data of a sealed blob; raises ``SealError`` if it was not sealed with this key."""
        if len(blob) < _NONCE + _TAG:
            raise SealError("sealed blob too short")
        nonce, body, tag = blob[:_NONCE], blob[_NONCE:-_TAG], blob[-_TAG:]
        expected = hashlib.blake2b(nonce + body, key=self._mac, digest_size=_TAG).digest()
        if not hmac.compare_digest(tag, expected):
            raise SealError("sealed blob does not match its key")
        return _xor(body, self._stream(nonce, len(body)))

    def email_key(self, normalized_email: str) -> str:
        """The salted lookup key of a normalised email address."""
        return hmac.new(self._email, normalized_email.encode(), hashlib.sha256).hexdigest()
