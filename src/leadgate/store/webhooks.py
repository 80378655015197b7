"""Webhook deliveries already accepted, for 24 h (collection ``webhook.seen``): the key is the
``Outreach-Webhook-Event-Id`` (or, without one, the body's digest), the document the body's digest,
so a redelivery is recognised and a different body under a used id is caught (docs/reliability.md
W6, W7).
"""

from __future__ import annotations

from leadgate.store.base import StateStore

SEEN = "webhook.seen"
SEEN_TTL_S = 24 * 3600.0


async def seen_digest(store: StateStore, key: str) -> str | None:
    """The body digest accepted under ``key``, if any (within 24 h)."""
    doc = (await store.get_docs(SEEN, [key])).get(key)
    return str(doc["digest"]) if doc is not None else None


async def remember(store: StateStore, key: str, digest: str) -> bool:
    """Record an accepted delivery; False if one was recorded under ``key`` meanwhile."""
    return await store.put_doc_if_absent(SEEN, key, {"digest": digest}, ttl_s=SEEN_TTL_S)
