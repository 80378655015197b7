"""Salted email lookup keys for the inspector's trace store.

The trace store lets an operator find the events of one address without keeping an index of
raw addresses: it indexes a keyed HMAC of the normalised email, with the key in an owner-only
file (``inspector.key`` in the state dir). The traces themselves sit in an owner-only SQLite
file, like the state store's profiles; there is no home-made encryption at rest (a leaked state
dir is protected by its file modes and the host, as for ``state.sqlite3``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path


class EmailIndex:
    """Derives the lookup key of a normalised email address from one secret key."""

    def __init__(self, key: bytes) -> None:
        self._key = hashlib.sha256(b"leadgate-email" + key).digest()

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> EmailIndex:
        """The index of this state dir, creating its key file (mode 0600) on first use."""
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = state_dir / "inspector.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(32))
        return cls(path.read_bytes())

    def email_key(self, normalized_email: str) -> str:
        """The salted lookup key of a normalised email address."""
        return hmac.new(self._key, normalized_email.encode(), hashlib.sha256).hexdigest()
