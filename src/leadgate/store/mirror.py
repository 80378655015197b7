"""The Outreach mirror's repositories, over state-store collections:

``mirror.prospect`` / ``mirror.account``  Outreach id -> the mirrored record
    (``domain.mirror.fold``);
``mirror.email``  normalised email -> ``{"prospectId": id}``, re-keyed when emails change;
``sent.prospect``  normalised email -> what leadgate last sent to that prospect (``SentRecord``);
``cursor``  small named positions: ``reconcile.prospect``, ``webhook.health``, ``export.<kind>``.

Every writer of the mirror (the inbound worker for webhooks and polls, the upserter for its own
writes, ``outreach export --to-mirror``) goes through ``Mirror.apply``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leadgate.domain.mirror import OutreachChange, emails_of, fold
from leadgate.pipeline.email import InvalidEmail, normalize_email
from leadgate.store.base import Doc, StateStore

PROSPECTS = "mirror.prospect"
ACCOUNTS = "mirror.account"
EMAILS = "mirror.email"
SENT = "sent.prospect"
CURSORS = "cursor"
HEALTH = "webhook.health"
_COLLECTIONS = {"prospect": PROSPECTS, "account": ACCOUNTS}


def email_key(address: str) -> str:
    """How the mirror keys an address: leadgate's normalised form (case-folded as a fallback).

    An ASCII address normalises to its trimmed lower case; skipping the IDNA round trip for
    those makes folding a 1,000-record page 6x cheaper (bench s3, --to-mirror).
    """
    text = address.strip()
    if text.isascii() and text.count("@") == 1 and not text.lower().startswith("mailto:"):
        return text.lower()
    try:
        return normalize_email(address)
    except InvalidEmail:
        return address.strip().lower()


@dataclass(frozen=True, slots=True)
class Applied:
    """One change that altered the mirror: the change and the fields it set."""

    change: OutreachChange
    fields: dict[str, Any]


@dataclass(slots=True)
class Mirror:
    """Reads and folds changes into the mirrored prospects and accounts."""

    store: StateStore
    clock: Callable[[], float] = field(default=time.time)

    async def get(self, resource: str, record_id: int) -> Doc | None:
        """The mirrored record, if any."""
        found = await self.store.get_docs(_COLLECTIONS[resource], [str(record_id)])
        return found.get(str(record_id))

    async def prospect_for(self, email: str) -> Doc | None:
        """The mirrored prospect holding this address, if any."""
        key = email_key(email)
        index = (await self.store.get_docs(EMAILS, [key])).get(key)
        if index is None:
            return None
        return await self.get("prospect", int(index["prospectId"]))

    async def apply(self, changes: Sequence[OutreachChange]) -> list[Applied]:
        """Fold the changes (in order) into the mirror; the ones that changed something.

        Changes to other resources than prospects and accounts are skipped (the caller counts
        them). One read and one write per collection, whatever the batch size.
        """
        wanted = [c for c in changes if c.resource in _COLLECTIONS]
        applied: list[Applied] = []
        for resource, collection in _COLLECTIONS.items():
            mine = [c for c in wanted if c.resource == resource]
            if not mine:
                continue
            keys = sorted({str(c.id) for c in mine})
            before = await self.store.get_docs(collection, keys)
            docs: dict[str, Doc | None] = dict(before)
            now = self.clock()
            for change in mine:
                key = str(change.id)
                doc, fields = fold(docs.get(key), change, now)
                docs[key] = doc
                if fields:
                    applied.append(Applied(change, fields))
            await self._write(collection, before, docs)
        return applied

    async def _write(
        self, collection: str, before: dict[str, Doc], after: dict[str, Doc | None]
    ) -> None:
        changed = {k: d for k, d in after.items() if d is not None and d != before.get(k)}
        gone = [k for k, d in after.items() if d is None and k in before]
        if changed:
            await self.store.put_docs(collection, changed)
        if gone:
            await self.store.delete_docs(collection, gone)
        if collection != PROSPECTS:
            return
        stale: set[str] = set()
        fresh: dict[str, Doc] = {}
        for key, doc in after.items():
            old = {email_key(e) for e in emails_of(before.get(key))}
            new = {email_key(e) for e in emails_of(doc)}
            if old == new and key in before:
                continue
            stale |= old - new
            fresh.update({e: {"prospectId": int(key)} for e in new})
        if fresh:
            await self.store.put_docs(EMAILS, fresh)
        stale -= set(fresh)
        if stale:
            await self.store.delete_docs(EMAILS, sorted(stale))

    async def mark_webhook(self) -> None:
        """Remember that a webhook delivery was applied just now (the mirror is being kept true)."""
        await self.store.put_docs(CURSORS, {HEALTH: {"lastWebhookAt": self.clock()}})

    async def trusted(self, within_s: float) -> bool:
        """Whether webhooks have been arriving within ``within_s`` (then the mirror is fresh)."""
        doc = (await self.store.get_docs(CURSORS, [HEALTH])).get(HEALTH)
        return doc is not None and self.clock() - float(doc["lastWebhookAt"]) <= within_s


def mirror_view(doc: Doc) -> Doc:
    """A mirrored record as the inspector shows it (the HTTP layer masks PII)."""
    attributes = doc.get("attributes") or {}
    links = doc.get("relationships") or {}
    synced = doc.get("syncedAt")
    return {
        "id": doc.get("id"),
        "resource": doc.get("resource"),
        "tags": attributes.get("tags") or [],
        "owner": links.get("owner"),
        "stage": links.get("stage"),
        "account": links.get("account"),
        "optedOut": attributes.get("optedOut"),
        "updatedAt": doc.get("updatedAt"),
        "source": doc.get("source"),
        "syncedAt": (
            datetime.fromtimestamp(float(synced), UTC).isoformat(timespec="milliseconds")
            if synced is not None
            else None
        ),
        "attributes": attributes,
    }


@dataclass(frozen=True, slots=True)
class SentRecord:
    """What leadgate last sent to one prospect: attribute values, tags asked for, account."""

    prospect_id: int
    attributes: dict[str, Any]
    tags: frozenset[str]
    account_id: int | None

    def to_doc(self) -> Doc:
        return {
            "prospectId": self.prospect_id,
            "attributes": self.attributes,
            "tags": sorted(self.tags),
            "accountId": self.account_id,
        }

    @classmethod
    def from_doc(cls, doc: Doc) -> SentRecord:
        return cls(
            int(doc["prospectId"]),
            dict(doc.get("attributes") or {}),
            frozenset(doc.get("tags") or ()),
            doc.get("accountId"),
        )


async def get_sent(store: StateStore, email: str) -> SentRecord | None:
    """What leadgate last sent for this (normalised) email."""
    doc = (await store.get_docs(SENT, [email])).get(email)
    return SentRecord.from_doc(doc) if doc is not None else None


async def put_sent(store: StateStore, email: str, record: SentRecord) -> None:
    """Remember what was sent."""
    await store.put_docs(SENT, {email: record.to_doc()})


async def get_cursor(store: StateStore, name: str) -> Doc | None:
    """A named position (``reconcile.prospect``, ``export.prospects``...)."""
    return (await store.get_docs(CURSORS, [name])).get(name)


async def put_cursor(store: StateStore, name: str, doc: Doc) -> None:
    """Persist a named position."""
    await store.put_docs(CURSORS, {name: doc})
