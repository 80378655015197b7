"""Who must not come back: salted hashes of a forgotten person's email and ids.

Forgetting a person leaves a *suppression entry* per identifier (``email:<normalised address>``,
``user:<userId>``, ``anon:<anonymousId>``), keyed by a keyed BLAKE2b hash of it, never the raw
value, in the ``suppression`` collection; the processor drops every event carrying a suppressed
identifier (``suppressed``) before it writes any state, until ``leadgate privacy unsuppress``.

The hash key (the *salt*) is ``privacy.salt`` when set, else a random one kept in
``<state_dir>/privacy.salt`` (owner-only), like the inspector's ``inspector.key``. Several machines
sharing one store must share one salt (set ``privacy.salt``), or their hashes will not match.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from leadgate.pipeline.privacy import email_identifier
from leadgate.settings import Settings
from leadgate.store.base import StateStore

__all__ = ["PersonHasher", "Suppression", "SuppressionList", "email_identifier", "load_salt"]

COLLECTION = "suppression"
SALT_FILE = "privacy.salt"
_CACHE_MAX = 65_536


def load_salt(settings: Settings) -> bytes:
    """``privacy.salt``, else the state dir's salt file (created, mode 0600, on first use)."""
    configured = settings.privacy.salt
    if configured is not None:
        return configured.get_secret_value().encode()
    state_dir = settings.state_dir
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / SALT_FILE
    if not path.exists():
        _create(path)
    return path.read_bytes()


def _create(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(32))


class PersonHasher:
    """The salted hash of one identifier (``email:…``, ``user:…``, ``anon:…``)."""

    def __init__(self, salt: bytes) -> None:
        # BLAKE2b takes at most a 64-byte key; a longer configured salt is digested first.
        self._key = (
            salt if 0 < len(salt) <= 64 else hashlib.sha256(b"leadgate-privacy" + salt).digest()
        )
        self._cache: dict[str, str] = {}

    def __call__(self, identifier: str) -> str:
        """32 hex characters; remembered, since the same visitors come back all day."""
        cached = self._cache.get(identifier)
        if cached is None:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            cached = hashlib.blake2b(
                identifier.encode(), key=self._key, digest_size=16, person=b"leadgate"
            ).hexdigest()
            self._cache[identifier] = cached
        return cached


def kind_of(identifier: str) -> str:
    """``email``, ``user`` or ``anon``: what an identifier is, for listings."""
    return identifier.partition(":")[0]


@dataclass(frozen=True, slots=True)
class Suppression:
    """One entry as ``privacy list`` shows it: the hash, what kind of identifier, since when."""

    hash: str
    kind: str
    at: float


class SuppressionList:
    """The ``suppression`` collection."""

    def __init__(
        self, store: StateStore, hasher: PersonHasher, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self.hash = hasher
        self._clock = clock

    async def add(self, identifiers: Iterable[str]) -> list[str]:
        """Suppress these identifiers; their hashes."""
        now = self._clock()
        docs = {self.hash(i): {"kind": kind_of(i), "at": now} for i in identifiers}
        await self._store.put_docs(COLLECTION, docs)
        return sorted(docs)

    async def remove(self, hashes: Sequence[str]) -> int:
        """Lift these entries (by hash); how many existed."""
        return await self._store.delete_docs(COLLECTION, list(hashes))

    async def suppressed(self, identifiers: Iterable[str]) -> set[str]:
        """Which of these identifiers are suppressed (one read)."""
        by_hash = {self.hash(i): i for i in identifiers}
        if not by_hash:
            return set()
        found = await self._store.get_docs(COLLECTION, list(by_hash))
        return {by_hash[h] for h in found}

    async def suppressed_hashes(self, hashes: Sequence[str]) -> set[str]:
        """Which of these hashes are suppressed (one read)."""
        if not hashes:
            return set()
        return set(await self._store.get_docs(COLLECTION, list(hashes)))

    async def entries(self, *, limit: int = 1000) -> list[Suppression]:
        """Every entry (up to ``limit``), oldest first."""
        found = await self._store.scan_docs(COLLECTION, limit=limit)
        rows = [Suppression(h, str(d.get("kind", "?")), float(d.get("at", 0.0))) for h, d in found]
        return sorted(rows, key=lambda row: (row.at, row.hash))
