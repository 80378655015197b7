"""Which identities carried an email address: how ``privacy forget --email`` finds the profiles
of a person (profiles are stored per ``user:…`` / ``anon:…`` identity, not per email).

The processor adds an entry whenever it stores a profile holding an email trait: the key is
``<hash of the email>:<hash of the identity>`` (``store.suppression.PersonHasher``), the document
the identity key itself (``{"identity": "anon:…"}``), which is what erasing its profile needs.
Forgetting the person deletes the entries with the profiles.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from leadgate.store.base import StateStore
from leadgate.store.suppression import PersonHasher, email_identifier

COLLECTION = "privacy.person"
_REMEMBERED_MAX = 65_536
# A written entry is not written again for this long (another process may have erased it).
_REMEMBER_S = 3600.0


class PersonIndex:
    """The ``person`` collection."""

    def __init__(
        self, store: StateStore, hasher: PersonHasher, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._hash = hasher
        self._clock = clock
        # Entries this process wrote lately (key -> when): a returning visitor costs no write.
        self._written: dict[str, float] = {}

    def entries(self, email: str, identities: Iterable[str]) -> dict[str, dict[str, str]]:
        """The documents saying these identities carried ``email`` (a normalised address), minus
        those this process wrote before."""
        prefix = self._hash(email_identifier(email))
        horizon = self._clock() - _REMEMBER_S
        docs: dict[str, dict[str, str]] = {}
        for identity in identities:
            key = f"{prefix}:{self._hash(identity)}"
            if self._written.get(key, 0.0) < horizon:
                docs[key] = {"identity": identity}
        return docs

    async def put(self, docs: dict[str, dict[str, str]]) -> None:
        """Store entries made by ``entries`` (one write)."""
        if not docs:
            return
        await self._store.put_docs(COLLECTION, docs)
        if len(self._written) >= _REMEMBERED_MAX:
            self._written.clear()
        now = self._clock()
        self._written.update(dict.fromkeys(docs, now))

    async def identities(self, email: str) -> dict[str, str]:
        """The identity keys that carried this normalised address: entry key -> identity."""
        prefix = self._hash(email_identifier(email)) + ":"
        found = await self._store.scan_docs(COLLECTION, prefix=prefix, limit=10_000)
        return {key: str(doc["identity"]) for key, doc in found if "identity" in doc}

    async def forget(self, keys: Iterable[str]) -> int:
        """Delete entries by key; how many existed."""
        keys = list(keys)
        for key in keys:
            self._written.pop(key, None)
        return await self._store.delete_docs(COLLECTION, keys)
