"""An in-memory ``StateStore``: for tests, ``presets try`` and one-shot commands.

It keeps exactly what the SQLite store keeps, with the same semantics (first identity key wins
per field, seen messageIds expire after their TTL), so a test written against it holds for the
durable store too (``tests/store`` runs one contract suite over every store).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence

from leadgate.domain.profile import Profile
from leadgate.pipeline.identity import merge_profiles
from leadgate.store.base import Doc, ProspectRecord, TokenSet
from leadgate.store.profile_records import ANONYMOUS, merge_aliases, plan_writes


class MemoryStore:
    """State in dictionaries; nothing survives the process."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        anonymous_profile_idle_s: float = 30 * 24 * 3600.0,
    ) -> None:
        self._clock = clock
        self._anon_idle_s = anonymous_profile_idle_s
        # key -> (profile, aliases) for a body, or the primary key for an alias
        self._profiles: dict[str, tuple[Profile, tuple[str, ...]] | str] = {}
        self._profile_expiry: dict[str, float] = {}
        self._seen: dict[str, float] = {}
        self._prospects: dict[str, ProspectRecord] = {}
        self._accounts: dict[str, int] = {}
        self._tokens: TokenSet | None = None
        self.token_saves = 0
        self._docs: dict[str, dict[str, tuple[Doc, float | None]]] = {}
        self._counters: dict[tuple[str, str], int] = {}

    async def get_profile(self, keys: Sequence[str]) -> Profile:
        """The snapshot of these identity keys: the pipeline's own merge of the profile stored
        under each (so a dry run sees exactly what the processor sees)."""
        found = await self.get_profiles(keys)
        return merge_profiles(found.get(key) for key in dict.fromkeys(keys))

    async def put_profile(self, keys: Sequence[str], profile: Profile) -> None:
        """Store ``profile`` under every key (so a later event with either id finds it)."""
        await self.put_profiles(dict.fromkeys(keys, profile))

    async def get_profiles(self, keys: Sequence[str]) -> dict[str, Profile]:
        """The profile stored under each of these keys (an alias answered with its primary's)."""
        out: dict[str, Profile] = {}
        for key in keys:
            found = self._live_profile(key)
            if isinstance(found, str):
                found = self._live_profile(found)
            if isinstance(found, tuple):
                out[key] = found[0]
        return out

    def _live_profile(self, key: str) -> tuple[Profile, tuple[str, ...]] | str | None:
        """The unexpired (body, aliases) or alias target under ``key``."""
        if self._profile_expiry.get(key, self._clock() + 1) <= self._clock():
            return None
        return self._profiles.get(key)

    async def put_profiles(self, profiles: Mapping[str, Profile]) -> None:
        """Store each profile (one body per visitor, aliases for its ``anon:`` keys);
        anonymous keys expire after their idle time."""
        bodies, aliases = plan_writes(profiles)
        until = self._clock() + self._anon_idle_s
        for write in bodies:
            old = self._live_profile(write.key)
            known = old[1] if isinstance(old, tuple) else ()
            merged = tuple(merge_aliases(known, write.aliases))
            self._profiles[write.key] = (write.profile, merged)
        self._profiles.update(aliases)
        for key in [*(b.key for b in bodies), *aliases]:
            if key.startswith(ANONYMOUS):
                self._profile_expiry[key] = until

    async def delete_profiles(self, keys: Sequence[str]) -> int:
        """Erase the profiles under these keys and the aliases of their bodies; how many
        existed (unexpired)."""
        doomed = dict.fromkeys(keys)
        for key in list(doomed):
            found = self._live_profile(key)
            if isinstance(found, tuple):
                doomed.update((a, None) for a in found[1] if self._profiles.get(a) == key)
        gone = 0
        for key in doomed:
            gone += self._live_profile(key) is not None
            self._profiles.pop(key, None)
            self._profile_expiry.pop(key, None)
        return gone

    async def linked_identities(self, keys: Sequence[str]) -> set[str]:
        """These keys, the aliases of the bodies under them and the keys they alias."""
        out = set(keys)
        for key in keys:
            found = self._live_profile(key)
            if isinstance(found, str):
                out.add(found)
                found = self._live_profile(found)
            if isinstance(found, tuple):
                out.update(found[1])
        return out

    async def mark_seen(self, message_ids: Sequence[str], ttl_s: float) -> None:
        """Remember these messageIds as processed for ``ttl_s`` seconds."""
        expires = self._clock() + ttl_s
        for message_id in message_ids:
            self._seen[message_id] = expires

    async def seen(self, message_ids: Sequence[str]) -> set[str]:
        """Which of these messageIds were already processed (and not yet expired)."""
        now = self._clock()
        return {m for m in message_ids if self._seen.get(m, 0.0) > now}

    async def get_prospect(self, email: str) -> ProspectRecord | None:
        """What we know of the prospect with this normalised email."""
        return self._prospects.get(email)

    async def put_prospect(self, email: str, record: ProspectRecord) -> None:
        """Remember the prospect for this email."""
        self._prospects[email] = record

    async def forget_prospect(self, email: str) -> None:
        """Forget a prospect (e.g. Outreach answered 404 for its id)."""
        self._prospects.pop(email, None)

    async def get_account(self, domain: str) -> int | None:
        """The Outreach account id for this domain, if known."""
        return self._accounts.get(domain)

    async def put_account(self, domain: str, account_id: int) -> None:
        """Remember the Outreach account id for this domain."""
        self._accounts[domain] = account_id

    async def forget_account(self, domain: str) -> None:
        """Forget the account id of this domain (Outreach no longer has that account)."""
        self._accounts.pop(domain, None)

    async def load_tokens(self) -> TokenSet | None:
        """The persisted OAuth tokens, if any."""
        return self._tokens

    async def save_tokens(self, tokens: TokenSet) -> None:
        """Keep the tokens (and count the saves, so tests can see a rotation was persisted)."""
        self._tokens = tokens
        self.token_saves += 1

    async def close(self) -> None:
        """Nothing to release."""

    # -- collections of JSON documents ---------------------------------------------------------

    def _live(self, collection: str) -> dict[str, tuple[Doc, float | None]]:
        docs = self._docs.setdefault(collection, {})
        now = self._clock()
        for key in [k for k, (_, exp) in docs.items() if exp is not None and exp <= now]:
            del docs[key]
        return docs

    async def get_docs(self, collection: str, keys: Sequence[str]) -> dict[str, Doc]:
        """The unexpired document under each key (copies: callers cannot mutate the store)."""
        docs = self._live(collection)
        return {key: copy.deepcopy(docs[key][0]) for key in keys if key in docs}

    async def put_docs(
        self, collection: str, docs: Mapping[str, Doc], *, ttl_s: float | None = None
    ) -> None:
        """Store each document under its key."""
        expires = None if ttl_s is None else self._clock() + ttl_s
        target = self._live(collection)
        for key, doc in docs.items():
            target[key] = (copy.deepcopy(doc), expires)

    async def put_doc_if_absent(
        self, collection: str, key: str, doc: Doc, *, ttl_s: float | None = None
    ) -> bool:
        """Store ``doc`` unless an unexpired document is under ``key``."""
        if key in self._live(collection):
            return False
        await self.put_docs(collection, {key: doc}, ttl_s=ttl_s)
        return True

    async def delete_docs(self, collection: str, keys: Sequence[str]) -> int:
        """Delete these keys; how many existed."""
        docs = self._live(collection)
        return sum(1 for key in dict.fromkeys(keys) if docs.pop(key, None) is not None)

    async def scan_docs(
        self, collection: str, *, prefix: str = "", limit: int = 1000
    ) -> list[tuple[str, Doc]]:
        """Unexpired (key, document) pairs whose key starts with ``prefix``, by key."""
        docs = self._live(collection)
        keys = sorted(k for k in docs if k.startswith(prefix))[:limit]
        return [(key, copy.deepcopy(docs[key][0])) for key in keys]

    async def incr(self, collection: str, key: str, *, by: int = 1) -> int:
        """Add ``by`` to the counter under ``key``."""
        value = self._counters.get((collection, key), 0) + by
        self._counters[(collection, key)] = value
        return value
