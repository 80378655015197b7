"""The state store's port: one async interface, so SQLite (one machine) and a shared backend
(Redis, for many machines) are interchangeable.

What lives here: profiles per identity key, seen messageIds (dedupe with a TTL), what leadgate
knows of each Outreach prospect (id, tags, a hash of the attributes last sent) and account (by
domain), and the OAuth token set (the rotated refresh token must be persisted before the old one
is dropped).

Every newer piece of state (the Outreach mirror, enrolments, rotation positions, suppressions,
opportunity ids, webhook dedupe ids, cursors) lives in *collections* of JSON documents: a named
collection, a string key, a JSON object, an optional TTL. Typed repositories in ``store/`` wrap a
collection each, so a backend implements the handful of collection operations once and holds
every new kind of state without new tables or keys of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from leadgate.domain.profile import Profile


@dataclass(frozen=True, slots=True)
class ProspectRecord:
    """What leadgate remembers of one Outreach prospect, keyed by normalised email."""

    prospect_id: int
    tags: frozenset[str]
    attributes_hash: str
    account_id: int | None = None


@dataclass(frozen=True, slots=True)
class TokenSet:
    """The OAuth tokens; ``expires_at`` is epoch seconds."""

    access_token: str
    refresh_token: str
    expires_at: float


Doc = dict[str, Any]
"""A JSON object held in a collection."""


class StateStore(Protocol):
    """Async state shared by the processor, the delivery worker and the CLI."""

    async def get_profile(self, keys: Sequence[str]) -> Profile:
        """The merged profile of these identity keys (``pipeline.identity.merge_profiles``)."""
        ...

    async def put_profile(self, keys: Sequence[str], profile: Profile) -> None:
        """Store ``profile`` for every key (so a later event with either id finds it): one
        body under the ``user:`` key, aliases under the others (``store/profile_records.py``)."""
        ...

    async def get_profiles(self, keys: Sequence[str]) -> dict[str, Profile]:
        """The profile stored under each of these keys, unmerged, in one round trip (a key with
        nothing stored is absent); the processor's per-batch read."""
        ...

    async def put_profiles(self, profiles: Mapping[str, Profile]) -> None:
        """Store each profile under its key, all or none (one transaction); the processor's
        per-batch write. Keys mapped to the same ``Profile`` object are one visitor: a later
        write to its ``user:`` key is seen through its ``anon:`` keys written with it."""
        ...

    async def delete_profiles(self, keys: Sequence[str]) -> int:
        """Erase the profiles stored under these keys and the aliases of their bodies
        (forgetting a person); how many existed."""
        ...

    async def linked_identities(self, keys: Sequence[str]) -> set[str]:
        """These keys, the aliases of the bodies stored under them and the keys they alias
        (every identity key a forget must erase and suppress)."""
        ...

    async def mark_seen(self, message_ids: Sequence[str], ttl_s: float) -> None:
        """Remember these messageIds as processed for at least ``ttl_s`` seconds (a store may
        keep them up to a quarter longer: ``store/redis_seen.seen_window_s``)."""
        ...

    async def seen(self, message_ids: Sequence[str]) -> set[str]:
        """Which of these messageIds were already processed (and not yet expired)."""
        ...

    async def get_prospect(self, email: str) -> ProspectRecord | None:
        """What we know of the prospect with this normalised email."""
        ...

    async def put_prospect(self, email: str, record: ProspectRecord) -> None:
        """Remember the prospect for this email."""
        ...

    async def forget_prospect(self, email: str) -> None:
        """Forget a prospect (e.g. Outreach answered 404 for its id)."""
        ...

    async def get_account(self, domain: str) -> int | None:
        """The Outreach account id for this domain, if known."""
        ...

    async def put_account(self, domain: str, account_id: int) -> None:
        """Remember the Outreach account id for this domain."""
        ...

    async def forget_account(self, domain: str) -> None:
        """Forget the account id of this domain (Outreach no longer has that account)."""
        ...

    async def load_tokens(self) -> TokenSet | None:
        """The persisted OAuth tokens, if any."""
        ...

    async def save_tokens(self, tokens: TokenSet) -> None:
        """Persist tokens durably (fsync'd) before the caller drops the old refresh token."""
        ...

    # -- collections of JSON documents ---------------------------------------------------------

    async def get_docs(self, collection: str, keys: Sequence[str]) -> dict[str, Doc]:
        """The unexpired document under each key, in one round trip (missing keys are absent)."""
        ...

    async def put_docs(
        self, collection: str, docs: Mapping[str, Doc], *, ttl_s: float | None = None
    ) -> None:
        """Store each document under its key, all or none; ``ttl_s`` None keeps them until
        deleted."""
        ...

    async def put_doc_if_absent(
        self, collection: str, key: str, doc: Doc, *, ttl_s: float | None = None
    ) -> bool:
        """Store ``doc`` only if no unexpired document is under ``key``; True when stored (an
        atomic claim: dedupe, leases, enrol-once)."""
        ...

    async def delete_docs(self, collection: str, keys: Sequence[str]) -> int:
        """Delete these keys; how many existed."""
        ...

    async def scan_docs(
        self, collection: str, *, prefix: str = "", limit: int = 1000
    ) -> list[tuple[str, Doc]]:
        """Up to ``limit`` unexpired (key, document) pairs whose key starts with ``prefix``,
        ordered by key."""
        ...

    async def incr(self, collection: str, key: str, *, by: int = 1) -> int:
        """Atomically add ``by`` to the counter under ``key`` (0 when absent); the new value."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
