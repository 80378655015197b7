"""The Outreach directory: users (owners), mailboxes, sequences and prospect stages, looked up
once and cached (``cache.outreach`` with a TTL; a miss for a shorter time).

Users are found by email (``GET /users?filter[email]=``) or by exact username
(``filter[username]=``, how Workbooks matches its "Assigned To"): a reference with an ``@`` is an
email. Concurrent look-ups of one key in this process wait for the first (one request). Nothing
here fails a lead for an unknown name: a lookup answers None and the caller explains it.

Public API (CRM reuses it for opportunity owners): ``Directory.user(ref, exchanges)`` ->
``User | None``, ``mailbox_of(user_id)``, ``mailbox(email)``, ``sequence(name=|id=)``,
``stage(name)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import RetriableError
from leadgate.outreach.classify import Verdict
from leadgate.outreach.client import WINDOW_REASON, OutreachClient
from leadgate.outreach.jsonapi import attributes, resource_id
from leadgate.outreach.locks import KeyedLocks
from leadgate.store.base import StateStore
from leadgate.store.routing import CacheKind, OutreachCache

USERS = "/api/v2/users"
MAILBOXES = "/api/v2/mailboxes"
SEQUENCES = "/api/v2/sequences"
STAGES = "/api/v2/stages"


@dataclass(frozen=True, slots=True)
class User:
    """An Outreach user (a possible owner)."""

    id: int
    email: str | None = None
    username: str | None = None

    @property
    def name(self) -> str:
        """How traces name the user (username, else email, else the id)."""
        return self.username or self.email or f"user {self.id}"


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A sending mailbox."""

    id: int
    email: str | None
    user_id: int | None


@dataclass(frozen=True, slots=True)
class Sequence:
    """A sequence and whether it accepts prospects."""

    id: int
    name: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class Stage:
    """A prospect stage."""

    id: int
    name: str


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


class Directory:
    """Cached look-ups of users, mailboxes, sequences and stages."""

    def __init__(
        self, client: OutreachClient, store: StateStore, cache: OutreachCache | None = None
    ) -> None:
        self._client = client
        self._cache = cache or OutreachCache(store)
        self._locks = KeyedLocks()

    async def user(self, ref: str, exchanges: ExchangeRecorder) -> User | None:
        """The user with this email (caseless) or exact username, or None."""
        by_email = "@" in ref
        name = ref.strip().lower() if by_email else ref.strip()
        kind: CacheKind = "user:email" if by_email else "user:username"
        attribute = "email" if by_email else "username"
        doc = await self._find(kind, name, USERS, {f"filter[{attribute}]": name}, exchanges)
        if doc is None:
            return None
        return User(int(doc["id"]), _text(doc.get("email")), _text(doc.get("username")))

    async def mailbox_of(self, user_id: int, exchanges: ExchangeRecorder) -> Mailbox | None:
        """The mailbox of a user, or None when they have none."""
        doc = await self._find(
            "mailbox", str(user_id), MAILBOXES, {"filter[userId]": str(user_id)}, exchanges
        )
        return None if doc is None else _mailbox(doc)

    async def mailbox(self, email: str, exchanges: ExchangeRecorder) -> Mailbox | None:
        """The mailbox with this email, or None."""
        name = email.strip().lower()
        doc = await self._find("mailbox:email", name, MAILBOXES, {"filter[email]": name}, exchanges)
        return None if doc is None else _mailbox(doc)

    async def sequence(
        self, exchanges: ExchangeRecorder, *, name: str | None = None, id: int | None = None
    ) -> Sequence | None:
        """The sequence with this exact name (or id), or None."""
        params = {"filter[name]": name} if name is not None else {"filter[id]": str(id)}
        key = name if name is not None else f"#{id}"
        doc = await self._find("sequence", key, SEQUENCES, params, exchanges)
        if doc is None:
            return None
        return Sequence(
            int(doc["id"]), str(doc.get("name") or key), doc.get("enabled") is not False
        )

    async def stage(self, name: str, exchanges: ExchangeRecorder) -> Stage | None:
        """The prospect stage with this exact name, or None."""
        doc = await self._find("stage", name, STAGES, {"filter[name]": name}, exchanges)
        return None if doc is None else Stage(int(doc["id"]), str(doc.get("name") or name))

    async def forget_sequence(self, *, name: str | None = None, id: int | None = None) -> None:
        """Drop a cached sequence (Outreach contradicted what the cache said)."""
        await self._cache.forget("sequence", name if name is not None else f"#{id}")

    async def _find(
        self,
        kind: CacheKind,
        name: str,
        path: str,
        params: dict[str, str],
        exchanges: ExchangeRecorder,
    ) -> dict[str, Any] | None:
        cached = await self._cache.get(kind, name)
        if cached is None:
            async with self._locks.hold(f"{kind}:{name}"):
                cached = await self._cache.get(kind, name)
                if cached is None:
                    found = await self._lookup(path, params, kind, name, exchanges)
                    await self._cache.put(kind, name, found)
                    cached = found or {"missing": True}
        return None if cached.get("missing") else cached

    async def _lookup(
        self,
        path: str,
        params: dict[str, str],
        kind: CacheKind,
        name: str,
        exchanges: ExchangeRecorder,
    ) -> dict[str, Any] | None:
        response = await self._client.request(
            "GET", path, exchanges, params={**params, "page[size]": "5", "count": "false"}
        )
        data = response.data
        if response.verdict is not Verdict.OK or not isinstance(data, list):
            raise RetriableError(
                f"GET {path}: Outreach answered {response.status} without a list",
                reason=WINDOW_REASON,
                status=response.status,
            )
        for resource in data:
            found = _flatten(resource)
            if found is not None and _matches(kind, name, found):
                return found
        return None


def _flatten(resource: object) -> dict[str, Any] | None:
    """``{"id": ..., **attributes}`` of a resource object with an integer id."""
    found = resource_id(resource)
    return None if found is None else {"id": found, **attributes(resource)}


def _matches(kind: CacheKind, name: str, doc: dict[str, Any]) -> bool:
    """Re-check the filter on our side: an exact (email: caseless) match, never a prefix."""
    if kind == "user:email" or kind == "mailbox:email":
        return isinstance(doc.get("email"), str) and doc["email"].lower() == name
    if kind == "user:username":
        return doc.get("username") == name
    if kind == "mailbox":
        return str(doc.get("userId")) == name
    if kind == "sequence" and name.startswith("#"):
        return str(doc["id"]) == name[1:]
    return doc.get("name") == name


def _mailbox(doc: dict[str, Any]) -> Mailbox:
    user_id = doc.get("userId")
    return Mailbox(
        int(doc["id"]),
        _text(doc.get("email")),
        user_id if isinstance(user_id, int) and not isinstance(user_id, bool) else None,
    )
