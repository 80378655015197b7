"""Routing state, as typed repositories over the store's collections.

- ``OutreachCache`` (``cache.outreach``, with a TTL): users by email and by username, mailboxes
  by user id or email, sequences and prospect stages by name. A miss (no such user) is cached
  too, for a shorter time, so an unknown owner costs one lookup per TTL, not one per lead.
- ``Enrolments`` (``enrolment``, key ``<prospectId>:<sequenceId>``): what leadgate enrolled,
  or is enrolling (``state: "posting"``: a POST whose answer is not known yet, so the next
  attempt looks the state up before posting again). PRIVACY lists a prospect's by prefix.
- ``Rotations`` (``rotation``, key ``<preset>:<rule>``): round-robin positions via ``incr``,
  shared by every worker and kept across restarts.
- ``NewProspects`` (``enrolment.new``, TTL): "this lead is creating this prospect, owned by this
  user, and has not finished routing it", written before the create, so a retried create keeps
  its owner and a redelivery after a crash between create and enrolment still treats the
  prospect as new (policy ``enrol: new``).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Literal

from leadgate.store.base import StateStore

CACHE = "cache.outreach"
ENROLMENT = "enrolment"
ROTATION = "rotation"
NEW_PROSPECTS = "enrolment.new"
CACHE_TTL_S = 600.0
MISS_TTL_S = 60.0
NEW_TTL_S = 7 * 24 * 3600.0

CacheKind = Literal[
    "user:email", "user:username", "mailbox", "mailbox:email", "sequence", "stage",
    "opportunityStage",  # CRM: opportunity stages by name (outreach/opportunity_stages.py)
]  # fmt: skip


class OutreachCache:
    """Outreach lookups that rarely change, with a TTL (a hit costs no request)."""

    def __init__(
        self, store: StateStore, *, ttl_s: float = CACHE_TTL_S, miss_ttl_s: float = MISS_TTL_S
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._miss_ttl_s = miss_ttl_s

    @staticmethod
    def key(kind: CacheKind, name: str) -> str:
        """``user:email:<e>``, ``user:username:<u>``, ``mailbox:<userId>``, ``stage:<name>``."""
        return f"{kind}:{name}"

    async def get(self, kind: CacheKind, name: str) -> dict[str, Any] | None:
        """The cached document (``{"missing": true}`` for a cached miss), or None."""
        found = await self._store.get_docs(CACHE, [self.key(kind, name)])
        return found.get(self.key(kind, name))

    async def put(self, kind: CacheKind, name: str, doc: dict[str, Any] | None) -> None:
        """Cache a found resource, or (``doc`` None) that there is none."""
        if doc is None:
            await self._store.put_docs(
                CACHE, {self.key(kind, name): {"missing": True}}, ttl_s=self._miss_ttl_s
            )
        else:
            await self._store.put_docs(CACHE, {self.key(kind, name): doc}, ttl_s=self._ttl_s)

    async def forget(self, kind: CacheKind, name: str) -> None:
        """Drop one entry (e.g. a sequence Outreach now says is disabled)."""
        await self._store.delete_docs(CACHE, [self.key(kind, name)])


@dataclass(frozen=True, slots=True)
class Enrolment:
    """One remembered enrolment."""

    prospect_id: int
    sequence_id: int
    state: str  # "posting" until Outreach confirmed; then its state ("active", ...)
    sequence_state_id: int | None = None
    mailbox_id: int | None = None
    at: float = 0.0

    @property
    def confirmed(self) -> bool:
        """True once Outreach has the state (we created it, or found it)."""
        return self.state != "posting"

    def to_doc(self) -> dict[str, Any]:
        return {
            "sequenceStateId": self.sequence_state_id,
            "mailboxId": self.mailbox_id,
            "state": self.state,
            "at": self.at,
        }


def enrolment_key(prospect_id: int, sequence_id: int) -> str:
    """``<prospectId>:<sequenceId>``."""
    return f"{prospect_id}:{sequence_id}"


class Enrolments:
    """The ``enrolment`` collection."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    async def get(self, prospect_id: int, sequence_id: int) -> Enrolment | None:
        key = enrolment_key(prospect_id, sequence_id)
        doc = (await self._store.get_docs(ENROLMENT, [key])).get(key)
        return None if doc is None else _enrolment(prospect_id, sequence_id, doc)

    async def claim(self, prospect_id: int, sequence_id: int, mailbox_id: int) -> bool:
        """Record that a POST is about to go out; False when a record already exists."""
        doc = {
            "sequenceStateId": None,
            "mailboxId": mailbox_id,
            "state": "posting",
            "at": time.time(),
        }
        return await self._store.put_doc_if_absent(
            ENROLMENT, enrolment_key(prospect_id, sequence_id), doc
        )

    async def confirm(self, enrolment: Enrolment) -> None:
        """Record an enrolment Outreach has (created or found)."""
        key = enrolment_key(enrolment.prospect_id, enrolment.sequence_id)
        await self._store.put_docs(ENROLMENT, {key: enrolment.to_doc()})

    async def release(self, prospect_id: int, sequence_id: int) -> None:
        """Drop a ``posting`` claim Outreach definitely refused (nothing to look up later)."""
        key = enrolment_key(prospect_id, sequence_id)
        doc = (await self._store.get_docs(ENROLMENT, [key])).get(key)
        if doc is not None and doc.get("state") == "posting":
            await self._store.delete_docs(ENROLMENT, [key])

    async def of_prospect(self, prospect_id: int) -> list[Enrolment]:
        """Every remembered enrolment of one prospect."""
        found = await self._store.scan_docs(ENROLMENT, prefix=f"{prospect_id}:")
        return [
            _enrolment(prospect_id, int(key.partition(":")[2]), doc)
            for key, doc in found
            if key.partition(":")[2].isdigit()
        ]


def _enrolment(prospect_id: int, sequence_id: int, doc: dict[str, Any]) -> Enrolment:
    state_id = doc.get("sequenceStateId")
    mailbox_id = doc.get("mailboxId")
    return Enrolment(
        prospect_id,
        sequence_id,
        str(doc.get("state") or "posting"),
        state_id if isinstance(state_id, int) else None,
        mailbox_id if isinstance(mailbox_id, int) else None,
        float(doc.get("at") or 0.0),
    )


class Rotations:
    """Round-robin positions (``rotation``), atomic across workers and restarts."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    async def next(self, key: str, size: int) -> int:
        """The next position in ``range(size)`` for the rotation ``key``."""
        return (await self._store.incr(ROTATION, key) - 1) % size


def _digest(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:32]


class NewProspects:
    """Marks (``enrolment.new``) of prospects a lead is creating, until their enrolment is done;
    keyed by a digest of the normalised email (no address in keys)."""

    def __init__(self, store: StateStore, *, ttl_s: float = NEW_TTL_S) -> None:
        self._store = store
        self._ttl_s = ttl_s

    async def mark(self, email: str, owner_id: int | None) -> None:
        """Before the create: this lead creates the prospect, owned by ``owner_id``."""
        doc = {"at": time.time(), "ownerId": owner_id}
        await self._store.put_docs(NEW_PROSPECTS, {_digest(email): doc}, ttl_s=self._ttl_s)

    async def marked(self, email: str) -> dict[str, Any] | None:
        """The mark (``{"at", "ownerId"}``) when this email's prospect awaits its enrolment."""
        key = _digest(email)
        return (await self._store.get_docs(NEW_PROSPECTS, [key])).get(key)

    async def clear(self, email: str) -> None:
        await self._store.delete_docs(NEW_PROSPECTS, [_digest(email)])
