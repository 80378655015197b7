"""Forget jobs in progress (collection ``forget``): what a restarted ``privacy forget`` resumes.

A job is keyed by the hash of what it forgets (running the same forget again resumes it rather
than starting a second one) and records the last step it finished. It holds the raw identifiers
it needs to erase keyed state (the email is the key of the prospect record and the mirror), only
while it runs: a finished job is deleted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from leadgate.store.base import StateStore

COLLECTION = "forget"


@dataclass(slots=True)
class ForgetJob:
    """One person's forget, step by step."""

    key: str
    targets: list[str]  # the identifiers asked for (``email:…``, ``user:…``, ``anon:…``)
    outreach: bool
    started: float
    step: str = "new"
    identities: list[str] = field(default_factory=list)  # profile keys found
    emails: list[str] = field(default_factory=list)  # normalised addresses found
    prospect_id: int | None = None
    compliance_target: str | None = None  # what a compliance request was (being) filed for
    compliance_id: int | None = None
    compliance_state: str | None = None
    erased: dict[str, int] = field(default_factory=dict)

    def doc(self) -> dict[str, Any]:
        """The stored form."""
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ForgetJob:
        """Rebuild a stored job."""
        return cls(**doc)


class ForgetJobs:
    """The ``forget`` collection."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    async def get(self, key: str) -> ForgetJob | None:
        """The job under ``key``, if one is in progress."""
        found = await self._store.get_docs(COLLECTION, [key])
        return ForgetJob.from_doc(found[key]) if key in found else None

    async def save(self, job: ForgetJob) -> None:
        """Record the job's progress (after every step)."""
        await self._store.put_docs(COLLECTION, {job.key: job.doc()})

    async def finish(self, job: ForgetJob) -> None:
        """Delete a finished job (with the raw identifiers it held)."""
        await self._store.delete_docs(COLLECTION, [job.key])

    async def pending(self, *, limit: int = 1000) -> list[ForgetJob]:
        """Every job still in progress."""
        return [
            ForgetJob.from_doc(d) for _, d in await self._store.scan_docs(COLLECTION, limit=limit)
        ]
