"""leadgate's mirror of Outreach: what a change to a prospect or account is, and how one is folded
into the mirrored record.

A change comes from a webhook delivery (only the changed attributes, relationships flat as
``{"owner": {"type": "owner", "id": 7}}``, docs/outreach-api.md#webhooks), from the reconciliation
poll or an export (a whole REST resource, relationships as ``{"data": {"type", "id"}}``), or from
leadgate's own write (the resource Outreach answered with). All become one ``OutreachChange``.

Folding keeps, per attribute and relationship, the ``updatedAt`` of the change that last set it,
so a change that arrives late (deliveries are not ordered, a poll can overtake a webhook) never
overwrites a newer value, while the attributes it alone changed still apply. ``destroyed``
forgets the record. Nothing here does IO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Source = Literal["webhook", "poll", "own_write", "export"]
RESOURCES = frozenset({"prospect", "account"})
_STAMPS = frozenset({"createdAt", "updatedAt"})


class MalformedChange(ValueError):
    """The input is not a change leadgate can read; ``reason`` says why (no values in it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OutreachChange:
    """One change to one Outreach record, normalised."""

    resource: str  # "prospect", "account", or another type (counted and ignored)
    id: int
    action: str  # "created" | "updated" | "destroyed" | "snapshot" (a whole resource)
    attributes: dict[str, Any]
    relationships: dict[str, int | None] = field(default_factory=dict)
    updated_at: str | None = None
    source: Source = "webhook"
    event_id: str | None = None

    @property
    def key(self) -> str:
        """``<type>:<id>``: the Kafka key, so one record's changes stay in order."""
        return f"{self.resource}:{self.id}"

    def to_json(self) -> dict[str, Any]:
        """The normalised form published on ``leadgate.outreach.changes``."""
        return {
            "resource": self.resource,
            "id": self.id,
            "action": self.action,
            "updatedAt": self.updated_at,
            "source": self.source,
            "eventId": self.event_id,
            "attributes": self.attributes,
            "relationships": self.relationships,
        }

    @classmethod
    def from_json(cls, doc: object) -> OutreachChange:
        """The inverse of ``to_json``; ``MalformedChange`` on anything else."""
        if not isinstance(doc, dict):
            raise MalformedChange("not_an_object")
        source = doc.get("source")
        if source not in ("webhook", "poll", "own_write", "export"):
            raise MalformedChange("unknown_source")
        return cls(
            _text(doc.get("resource"), "resource"),
            _int(doc.get("id"), "id"),
            _text(doc.get("action"), "action"),
            _object(doc.get("attributes", {}), "attributes"),
            _flat_links(doc.get("relationships", {})),
            _opt_text(doc.get("updatedAt"), "updatedAt"),
            source,
            _opt_text(doc.get("eventId"), "eventId"),
        )


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedChange(f"bad_{what}")
    return value


def _opt_text(value: object, what: str) -> str | None:
    return None if value is None else _text(value, what)


def _int(value: object, what: str) -> int:
    if type(value) is not int:
        raise MalformedChange(f"bad_{what}")
    return value


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedChange(f"bad_{what}")
    return dict(value)


def _flat_links(value: object) -> dict[str, int | None]:
    links = _object(value, "relationships")
    for name, target in links.items():
        if target is not None and type(target) is not int:
            raise MalformedChange(f"bad_relationship_{name}"[:60])
    return links


def from_delivery(body: object, event_id: str | None = None) -> OutreachChange:
    """A webhook delivery (``{"data": {...}, "meta": {"eventName": ...}}``) as a change."""
    if not isinstance(body, dict):
        raise MalformedChange("not_an_object")
    data, meta = body.get("data"), body.get("meta")
    if not isinstance(data, dict) or not isinstance(meta, dict):
        raise MalformedChange("no_data_or_meta")
    kind = _text(data.get("type"), "type")
    resource, dot, action = _text(meta.get("eventName"), "eventName").partition(".")
    if not dot or resource != kind or not action:
        raise MalformedChange("bad_eventName")
    attributes = _object(data.get("attributes", {}), "attributes")
    links: dict[str, int | None] = {}
    for name, link in _object(data.get("relationships", {}), "relationships").items():
        # Webhooks flatten relationships: {"owner": {"type": "owner", "id": 7}} (§6.2).
        if not isinstance(link, dict) or "id" not in link:
            raise MalformedChange("bad_relationships")
        target = link["id"]
        if target is not None and type(target) is not int:
            raise MalformedChange("bad_relationships")
        links[str(name)] = target
    updated = attributes.get("updatedAt")
    return OutreachChange(
        kind,
        _int(data.get("id"), "id"),
        action,
        attributes,
        links,
        updated if isinstance(updated, str) else None,
        "webhook",
        event_id,
    )


def from_resource(resource: object, source: Source) -> OutreachChange:
    """A REST resource object (poll, export, own write) as a whole-record ``snapshot``."""
    if not isinstance(resource, dict):
        raise MalformedChange("not_an_object")
    attributes = _object(resource.get("attributes", {}), "attributes")
    links: dict[str, int | None] = {}
    relationships = resource.get("relationships")
    for name, link in (relationships if isinstance(relationships, dict) else {}).items():
        if not isinstance(link, dict) or "data" not in link:
            continue  # to-many links-only relationships: not mirrored
        data = link["data"]
        if data is None:
            links[str(name)] = None
        elif isinstance(data, dict) and type(data.get("id")) is int:
            links[str(name)] = data["id"]
    updated = attributes.get("updatedAt")
    return OutreachChange(
        _text(resource.get("type"), "type"),
        _int(resource.get("id"), "id"),
        "snapshot",
        attributes,
        links,
        updated if isinstance(updated, str) else None,
        source,
    )


def stamp_ms(value: str | None) -> int | None:
    """An Outreach timestamp in epoch milliseconds (None when absent or unreadable)."""
    if not value:
        return None
    try:
        return round(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def fold(
    doc: dict[str, Any] | None, change: OutreachChange, now: float
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The mirrored record after ``change`` and what it changed (``{}``: nothing new).

    The record: ``{"id", "resource", "attributes", "relationships", "updatedAt", "fieldsAt",
    "source", "syncedAt"}``; ``fieldsAt`` holds per field the epoch ms of the change that set it.
    """
    if change.action == "destroyed":
        return None, ({"destroyed": True} if doc is not None else {})
    stamp = stamp_ms(change.updated_at)
    current = doc or {
        "id": change.id,
        "resource": change.resource,
        "attributes": {},
        "relationships": {},
        "updatedAt": None,
        "fieldsAt": {},
    }
    attributes = dict(current["attributes"])
    relationships = dict(current["relationships"])
    fields_at = dict(current["fieldsAt"])
    applied: dict[str, Any] = {}
    for name, value in change.attributes.items():
        if name in _STAMPS:
            continue
        if _newer(fields_at.get(name), stamp) and attributes.get(name) != value:
            attributes[name] = value
            applied[name] = value
        if _newer(fields_at.get(name), stamp) and stamp is not None:
            fields_at[name] = stamp
    for name, target in change.relationships.items():
        key = f"rel:{name}"
        if _newer(fields_at.get(key), stamp) and relationships.get(name) != target:
            relationships[name] = target
            applied[key] = target
        if _newer(fields_at.get(key), stamp) and stamp is not None:
            fields_at[key] = stamp
    newest = current["updatedAt"]
    if change.updated_at and (newest is None or _newer(stamp_ms(newest), stamp)):
        newest = change.updated_at
    if doc is not None and not applied:
        if newest == current["updatedAt"]:
            return doc, {}
        return {**doc, "updatedAt": newest, "fieldsAt": fields_at}, {}
    updated = {
        **current,
        "attributes": attributes,
        "relationships": relationships,
        "updatedAt": newest,
        "fieldsAt": fields_at,
        "source": change.source,
        "syncedAt": now,
    }
    return updated, applied


def _newer(known: int | None, incoming: int | None) -> bool:
    """An incoming value wins unless the field was set by a strictly newer change."""
    return known is None or incoming is None or incoming >= known


def emails_of(doc: dict[str, Any] | None) -> list[str]:
    """The addresses a mirrored prospect holds, as Outreach has them."""
    if doc is None:
        return []
    emails = doc["attributes"].get("emails") or []
    return [e for e in emails if isinstance(e, str) and "@" in e]
