"""The Outreach health gate's shared state: one board every delivery process reads.

Collection ``health`` (documents with a TTL), per Outreach base URL:

- ``<url>:closed`` -> ``{"at": <unix time>, "by": <process>}`` while Outreach as a whole is
  failing. Written by the process whose requests failed ``health_close_after`` times in a row,
  refreshed by every failed probe, deleted by the first answer; its TTL opens the gate by itself
  if every process that knew of the outage is gone.
- ``<url>:probe`` -> ``{"by": <process>}``: the probe lease, claimed atomically, TTL one probe
  interval, so that one request goes through as the probe per interval across every process.

With the Redis store this is shared by every process and host; with SQLite by the processes of
one host; with the memory store the board is the process's own.
"""

from __future__ import annotations

import time

from leadgate.store.base import StateStore

COLLECTION = "health"


class HealthBoard:
    """Reads and writes the shared closed flag and the probe lease of one Outreach."""

    def __init__(self, store: StateStore, url: str, *, owner: str) -> None:
        self._store = store
        self._closed = f"{url}:closed"
        self._probe = f"{url}:probe"
        self._owner = owner

    async def is_closed(self) -> bool:
        """Whether some process says Outreach is down (an unexpired closed flag)."""
        docs = await self._store.get_docs(COLLECTION, [self._closed])
        return self._closed in docs

    async def close(self, ttl_s: float) -> None:
        """Say Outreach is down, for ``ttl_s`` unless said again."""
        doc = {"at": time.time(), "by": self._owner}
        await self._store.put_docs(COLLECTION, {self._closed: doc}, ttl_s=ttl_s)

    async def open(self) -> None:
        """Outreach answered: the gate opens for everyone (and the probe lease goes with it)."""
        await self._store.delete_docs(COLLECTION, [self._closed, self._probe])

    async def claim_probe(self, ttl_s: float) -> bool:
        """True when this process may send the next probe (at most one per ``ttl_s``)."""
        doc = {"by": self._owner}
        return await self._store.put_doc_if_absent(COLLECTION, self._probe, doc, ttl_s=ttl_s)
