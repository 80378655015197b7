"""Which identities carried an email address: how ``privacy forget --email`` finds the profiles
of a person (profiles are stored per identity key, not per email).

The processor adds an entry whenever it stores a profile body holding an email trait: the key is
``<hash of the email>:<first 8 characters of the hash of the identity>``
(``store.suppression.PersonHasher``), the document the identity key itself (``{"i": "user:…"}``).
Only bodies are indexed, not the aliases written with them: the forget job finds those through
the body (``StateStore.linked_identities``). An entry for an anonymous identity expires with its
profile (``state.anonymous_profile_idle_s`` after it was last written; this process rewrites
it at most hourly); one for a user is kept, like the user's profile. Forgetting the person
deletes the entries with the profiles. Entries of the previous version (a full identity hash,
``{"identity": …}``) are found and deleted the same way.
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
# Characters of the identity's hash in an entry key: entries share the email's prefix, so these
# only tell one email's identities apart.
_IDENTITY_CHARS = 8
_ANONYMOUS = "anon:"


class PersonIndex:
    """The ``person`` collection."""

    def __init__(
        self,
        store: StateStore,
        hasher: PersonHasher,
        *,
        clock: Callable[[], float] = time.time,
        anonymous_ttl_s: float | None = None,
    ) -> None:
        self._store = store
        self._hash = hasher
        self._clock = clock
        self._anonymous_ttl_s = anonymous_ttl_s
        # Entries this process wrote lately (key -> when): a returning visitor costs no write.
        self._written: dict[str, float] = {}

    def entries(self, email: str, identities: Iterable[str]) -> dict[str, dict[str, str]]:
        """The documents saying these identities carried ``email`` (a normalised address), minus
        those this process wrote before."""
        prefix = self._hash(email_identifier(email))
        horizon = self._clock() - _REMEMBER_S
        docs: dict[str, dict[str, str]] = {}
        for identity in identities:
            key = f"{prefix}:{self._hash(identity)[:_IDENTITY_CHARS]}"
            if self._written.get(key, 0.0) < horizon:
                docs[key] = {"i": identity}
        return docs

    async def put(self, docs: dict[str, dict[str, str]]) -> None:
        """Store entries made by ``entries`` (one write per kind: anonymous ones expire)."""
        if not docs:
            return
        anonymous = {k: d for k, d in docs.items() if d["i"].startswith(_ANONYMOUS)}
        kept = {k: d for k, d in docs.items() if k not in anonymous}
        if anonymous:
            await self._store.put_docs(COLLECTION, anonymous, ttl_s=self._anonymous_ttl_s)
        if kept:
            await self._store.put_docs(COLLECTION, kept)
        if len(self._written) >= _REMEMBERED_MAX:
            self._written.clear()
        now = self._clock()
        self._written.update(dict.fromkeys(docs, now))

    async def identities(self, email: str) -> dict[str, str]:
        """The identity keys that carried this normalised address: entry key -> identity."""
        prefix = self._hash(email_identifier(email)) + ":"
        found = await self._store.scan_docs(COLLECTION, prefix=prefix, limit=10_000)
        out: dict[str, str] = {}
        for key, doc in found:
            identity = doc.get("i", doc.get("identity"))
            if identity is not None:
                out[key] = str(identity)
        return out

    async def forget(self, keys: Iterable[str]) -> int:
        """Delete entries by key; how many existed."""
        keys = list(keys)
        for key in keys:
            self._written.pop(key, None)
        return await self._store.delete_docs(COLLECTION, keys)
