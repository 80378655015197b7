"""The sandbox's data: resources per type with integer ids, server-kept timestamps, prospect email
uniqueness and excluded addresses (docs/outreach-api.md#prospect-dedupe), the opportunity checks
(``opportunities``), seeded records, and JSON:API rendering.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leadgate.sandbox.changes import Change, ChangeFeed
from leadgate.sandbox.config import SandboxConfig
from leadgate.sandbox.documents import Link, Write
from leadgate.sandbox.errors import (
    DUPLICATE_EMAIL,
    EXCLUDED_EMAIL,
    ApiError,
    validation_error,
)
from leadgate.sandbox.opportunities import CASCADES, check
from leadgate.sandbox.optout import check_opt_outs, stamp_opt_outs
from leadgate.sandbox.schema import PROSPECT, SCHEMAS, USER, ResourceSchema, kind_of


def iso_ms(epoch: float) -> str:
    """``2018-09-20T18:33:53.000Z``: UTC with milliseconds, as Outreach returns timestamps."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{int(epoch * 1000) % 1000:03d}Z"
    )


def email_key(address: str) -> str:
    """How the uniqueness check compares addresses (Outreach dedupes on an email hash)."""
    return address.strip().lower()


@dataclass(slots=True)
class Record:
    """One stored resource."""

    id: int
    attributes: dict[str, Any]
    relationships: dict[str, Link]
    created: float
    updated: float


@dataclass(slots=True)
class Store:
    """Every resource of one sandbox, by plural type then id."""

    config: SandboxConfig
    # The sandbox clock (``SandboxState.now``): tests move it forward instead of sleeping.
    clock: Callable[[], float] = time.time
    tables: dict[str, dict[int, Record]] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=dict)
    # email key -> prospect ids: uniqueness checks and filter[emails] stay O(1) at bench scale.
    by_email: dict[str, set[int]] = field(default_factory=dict)
    # Every create, update and delete is reported here (webhooks listen; see ``changes``).
    feed: ChangeFeed = field(default_factory=ChangeFeed)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Empty tables, ids from 1 again, the token's own user (id 1) and every schema's
        seeds (e.g. the default opportunity stages) created again."""
        self.tables = {plural: {} for plural in SCHEMAS}
        self.next_ids = dict.fromkeys(SCHEMAS, 1)
        self.by_email = {}
        self.create(USER, Write(dict(self.config.seed_user), {}))
        for schema in SCHEMAS.values():
            for seed in schema.seeds:
                self.create(schema, Write(dict(seed), {}))

    def get(self, plural: str, resource_id: int) -> Record | None:
        return self.tables[plural].get(resource_id)

    def all(self, plural: str) -> list[Record]:
        """Every record of a type, by id (tables keep insertion order, which is id order)."""
        return list(self.tables[plural].values())

    def in_id_range(self, plural: str, low: int, high: int | None) -> list[Record]:
        """Records with ``low <= id <= high`` (``high`` None: no upper bound), by id."""
        table = self.tables[plural]
        top = self.next_ids[plural] - 1 if high is None else min(high, self.next_ids[plural] - 1)
        if top - low > len(table):
            return [r for r in table.values() if low <= r.id <= top]
        return [table[i] for i in range(max(low, 1), top + 1) if i in table]

    def with_emails(self, addresses: list[str]) -> list[Record]:
        """Prospects holding any of these addresses (compared as ``email_key``), by id."""
        ids = set().union(*(self.by_email.get(email_key(a), set()) for a in addresses))
        table = self.tables[PROSPECT.plural]
        return [table[i] for i in sorted(ids)]

    def delete(self, schema: ResourceSchema, record: Record) -> None:
        """Remove a resource, and the records that exist only through it (a prospect's or an
        opportunity's roles)."""
        self._index(schema, record, add=False)
        del self.tables[schema.plural][record.id]
        attributes = {**record.attributes, **_stamps(record)}
        self.feed.emit(Change(schema.kind, "destroyed", record.id, attributes, _flat(record)))
        for plural, relationship in CASCADES.get(schema.plural, ()):
            dependents = [
                r
                for r in self.tables[plural].values()
                if r.relationships.get(relationship) == (schema.plural, record.id)
            ]
            for dependent in dependents:
                self.delete(SCHEMAS[plural], dependent)

    def _index(self, schema: ResourceSchema, record: Record, *, add: bool) -> None:
        if schema is not PROSPECT:
            return
        for key in {email_key(e) for e in record.attributes.get("emails", [])}:
            ids = self.by_email.setdefault(key, set())
            if add:
                ids.add(record.id)
            else:
                ids.discard(record.id)
                if not ids:
                    del self.by_email[key]

    def create(self, schema: ResourceSchema, write: Write) -> Record:
        """A new resource; raises ``ApiError`` on a validation failure."""
        attributes = {k: v for k, v in write.attributes.items() if v is not None}
        if schema is PROSPECT:
            self._check_emails(attributes.get("emails") or [], own_id=None)
            check_opt_outs(attributes)
        self.check_links(write.relationships)
        attributes = {**schema.defaults, **attributes}
        links = {k: v for k, v in write.relationships.items() if v is not None}
        check(schema, attributes, links, write.attributes, self.config.opportunity_required)
        now = self.clock()
        if schema is PROSPECT:
            stamp_opt_outs(attributes, {}, now)
        record = Record(self.next_ids[schema.plural], attributes, {}, now, now)
        record.relationships = {k: v for k, v in write.relationships.items() if v is not None}
        self.next_ids[schema.plural] += 1
        self.tables[schema.plural][record.id] = record
        self._index(schema, record, add=True)
        attributes = {**record.attributes, **_stamps(record)}
        self.feed.emit(Change(schema.kind, "created", record.id, attributes, _flat(record)))
        return record

    def update(self, schema: ResourceSchema, record: Record, write: Write) -> Record:
        """Apply a PATCH: only supplied attributes change; arrays are replaced wholesale."""
        if schema is PROSPECT and "emails" in write.attributes:
            self._check_emails(write.attributes["emails"] or [], own_id=record.id)
        if schema is PROSPECT:
            check_opt_outs(write.attributes)
        self.check_links(write.relationships)
        after = {**record.attributes, **write.attributes}
        after = {k: v for k, v in after.items() if v is not None}
        links = {**record.relationships, **write.relationships}
        check(schema, after, links, write.attributes, self.config.opportunity_required)
        before = (dict(record.attributes), dict(record.relationships))
        self._index(schema, record, add=False)
        for name, value in write.attributes.items():
            if value is None:
                record.attributes.pop(name, None)
            else:
                record.attributes[name] = value
        for name, link in write.relationships.items():
            if link is None:
                record.relationships.pop(name, None)
            else:
                record.relationships[name] = link
        if schema is PROSPECT:
            stamp_opt_outs(record.attributes, before[0], self.clock())
        self._index(schema, record, add=True)
        if (record.attributes, record.relationships) != before:
            record.updated = self.clock()
            self.feed.emit(_update_change(schema, record, *before))
        return record

    def _check_emails(self, emails: list[str], own_id: int | None) -> None:
        keys = {email_key(e) for e in emails}
        excluded_emails = {email_key(e) for e in self.config.excluded_emails}
        excluded_domains = {d.strip().lower().lstrip("@") for d in self.config.excluded_domains}
        for key in keys:
            domain = key.rpartition("@")[2]
            if key in excluded_emails or domain in excluded_domains:
                raise ApiError(validation_error(EXCLUDED_EMAIL))
        if self.config.lenient:
            return
        for key in keys:
            if self.by_email.get(key, set()) - {own_id}:
                raise ApiError(validation_error(DUPLICATE_EMAIL))

    def check_links(self, links: dict[str, Link]) -> None:
        """422 when a relationship names an id that does not exist (of a simulated type)."""
        for name, link in links.items():
            if link is None or link[0] not in self.tables:
                continue  # stages/personas are not simulated; any id is accepted
            if link[1] not in self.tables[link[0]]:
                kind = SCHEMAS[link[0]].kind
                raise ApiError(
                    validation_error(
                        f"Could not find '{kind}' with ID '{link[1]}'.",
                        pointer=f"/data/relationships/{name}",
                    )
                )


def _stamps(record: Record) -> dict[str, str]:
    return {"createdAt": iso_ms(record.created), "updatedAt": iso_ms(record.updated)}


def _flat(record: Record) -> dict[str, int | None]:
    return {name: link[1] for name, link in record.relationships.items() if link is not None}


def _update_change(
    schema: ResourceSchema,
    record: Record,
    old_attributes: dict[str, Any],
    old_links: dict[str, Link],
) -> Change:
    """Only what changed: new values (None for a cleared one), the old ones, and updatedAt."""
    names = set(old_attributes) | set(record.attributes)
    changed = {n for n in names if old_attributes.get(n) != record.attributes.get(n)}
    attributes: dict[str, Any] = {n: record.attributes.get(n) for n in sorted(changed)}
    attributes["updatedAt"] = iso_ms(record.updated)
    before = {n: old_attributes.get(n) for n in sorted(changed)}
    links: dict[str, int | None] = {}
    for name in set(old_links) | set(record.relationships):
        old, new = old_links.get(name), record.relationships.get(name)
        if old != new:
            links[name] = new[1] if new is not None else None
    return Change(schema.kind, "updated", record.id, attributes, links, before)


def render(schema: ResourceSchema, record: Record, base_url: str) -> dict[str, Any]:
    """The JSON:API resource object, ``links.self`` absolute, unset shown attributes as null."""
    attributes: dict[str, Any] = dict.fromkeys(schema.shown)
    for name in schema.arrays & set(schema.shown):
        attributes[name] = []
    attributes.update(record.attributes)
    attributes["createdAt"] = iso_ms(record.created)
    attributes["updatedAt"] = iso_ms(record.updated)
    if "name" in schema.read_only:
        parts = [record.attributes.get("firstName"), record.attributes.get("lastName")]
        attributes["name"] = " ".join(p for p in parts if p) or None
    relationships: dict[str, Any] = {}
    for name, related in schema.relationships.items():
        link = record.relationships.get(name)
        relationships[name] = {"data": {"type": kind_of(related), "id": link[1]} if link else None}
    return {
        "type": schema.kind,
        "id": record.id,
        "attributes": attributes,
        "relationships": relationships,
        "links": {"self": f"{base_url}/api/v2/{schema.plural}/{record.id}"},
    }
