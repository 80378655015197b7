"""Choosing a prospect's owner from a rule's owner chain: the first link that names a known user.

- ``user``: a literal email or username;
- ``field``: the user named by an event/profile field (read by the processor into the plan);
- ``rotation``: round robin over users. The position is an ``incr`` on the state store
  (``rotation``), so it holds across workers and restarts. A rotation only assigns *new*
  prospects (re-assigning an existing one by rotation would move it on every event); a user
  of the rotation that Outreach does not know is skipped for the next one.

An unknown user never fails the lead: the owner stays blank, the trace says which link named
whom, and ``leadgate_routing_owner{result="unknown_user"}`` counts it (Workbooks does the same).
"""

from __future__ import annotations

from dataclasses import dataclass

from leadgate.domain.routing import OwnerLink
from leadgate.domain.trace import ExchangeRecorder
from leadgate.observability.metrics import ROUTING_OWNERS
from leadgate.outreach.directory import Directory, User
from leadgate.store.routing import Rotations


@dataclass(frozen=True, slots=True)
class OwnerChoice:
    """The owner a chain resolved to (None when no link did), by which link, and why."""

    user: User | None
    via: str | None
    notes: tuple[str, ...]

    def describe(self) -> str:
        """One trace line."""
        if self.user is None:
            why = "; ".join(self.notes) or "no owner in the rule"
            return f"owner left blank: {why}"
        skipped = f" (after: {'; '.join(self.notes)})" if self.notes else ""
        return f"owner {self.user.name} (user {self.user.id}) by {self.via}{skipped}"


class OwnerResolver:
    """Walks an owner chain against the (cached) Outreach directory."""

    def __init__(self, directory: Directory, rotations: Rotations) -> None:
        self._directory = directory
        self._rotations = rotations

    async def choose(
        self, links: tuple[OwnerLink, ...], exchanges: ExchangeRecorder, *, new: bool
    ) -> OwnerChoice:
        """The first link that resolves; ``new`` False skips rotations (no re-assignment)."""
        notes: list[str] = []
        for link in links:
            if link.via == "rotation":
                if not new:
                    notes.append("a rotation only assigns new prospects")
                    continue
                user = await self._rotate(link, exchanges, notes)
            elif link.user is None:
                notes.append(f"field {link.field} is empty")
                continue
            else:
                user = await self._directory.user(link.user, exchanges)
                if user is None:
                    notes.append(f"{link.describe()}: no Outreach user {link.user!r}")
                    ROUTING_OWNERS.labels(result="unknown_user").inc()
            if user is not None:
                ROUTING_OWNERS.labels(result=link.via).inc()
                return OwnerChoice(user, link.describe(), tuple(notes))
        ROUTING_OWNERS.labels(result="none").inc()
        return OwnerChoice(None, None, tuple(notes))

    async def _rotate(
        self, link: OwnerLink, exchanges: ExchangeRecorder, notes: list[str]
    ) -> User | None:
        users = link.users
        start = await self._rotations.next(link.rotation or ",".join(users), len(users))
        for step in range(len(users)):
            ref = users[(start + step) % len(users)]
            user = await self._directory.user(ref, exchanges)
            if user is not None:
                return user
            notes.append(f"rotation: no Outreach user {ref!r}")
            ROUTING_OWNERS.labels(result="unknown_user").inc()
        return None
