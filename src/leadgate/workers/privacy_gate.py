"""The processor's privacy gate: which events of a batch come from a forgotten person, and the
person index entries of the profiles the batch stored (``store.person_index``).

One read of the ``suppression`` collection per batch covers every identifier of every event in
it (their hashes are remembered, so a returning visitor costs a dictionary lookup).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from leadgate.domain.events import EventHead
from leadgate.domain.profile import Profile
from leadgate.pipeline.privacy import email_identifier, event_emails, profile_email
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.person_index import PersonIndex
from leadgate.store.profile_records import plan_writes
from leadgate.store.suppression import PersonHasher, SuppressionList, load_salt

_MAX_KNOWN = 65_536


class PrivacyGate:
    """Suppression checks and person-index writes for one processor."""

    def __init__(self, suppressions: SuppressionList, index: PersonIndex) -> None:
        self.suppressions = suppressions
        self.index = index
        # identity keys of an event -> their hashes (visitors come back with the same ones)
        self._hashes: dict[tuple[str, ...], tuple[str, ...]] = {}

    @classmethod
    def open(cls, settings: Settings, store: StateStore) -> PrivacyGate:
        """The gate over ``store`` with the configured (or the state dir's) salt."""
        hasher = PersonHasher(load_salt(settings))
        index = PersonIndex(store, hasher, anonymous_ttl_s=settings.state.anonymous_profile_idle_s)
        return cls(SuppressionList(store, hasher), index)

    async def suppressed(self, heads: Sequence[EventHead | None]) -> set[int]:
        """The positions of the heads whose person is suppressed."""
        hashed = self.suppressions.hash
        known = self._hashes
        per_head: list[tuple[int, tuple[str, ...]]] = []
        every: set[str] = set()
        for position, head in enumerate(heads):
            if head is None:
                continue
            identities = head.identities
            hashes = known.get(identities)
            if hashes is None:
                if len(known) >= _MAX_KNOWN:
                    known.clear()
                hashes = known[identities] = tuple(map(hashed, identities))
            emails = event_emails(head.data)
            if emails:
                hashes = (*hashes, *(hashed(email_identifier(e)) for e in emails))
            per_head.append((position, hashes))
            every.update(hashes)
        found = await self.suppressions.suppressed_hashes(sorted(every))
        if not found:
            return set()
        return {position for position, hashes in per_head if not found.isdisjoint(hashes)}

    async def remember(self, changed: Mapping[str, Profile]) -> None:
        """Index the identities whose newly stored profile body holds an email (aliases are
        found through their body; at most two writes)."""
        docs: dict[str, dict[str, str]] = {}
        for body in plan_writes(changed)[0]:
            email = profile_email(body.profile.traits)
            if email is not None:
                docs.update(self.index.entries(email, (body.key,)))
        await self.index.put(docs)
