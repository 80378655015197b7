"""What a prospect write sends: the lead as Outreach should see it, its no-op digest, the
JSON:API document of a create or a PATCH, and what ``sent.prospect`` remembers afterwards.

Pure: no requests, no store calls. ``outreach/upsert.py`` decides which write to make.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from leadgate.domain.lead import LeadIntent
from leadgate.outreach.jsonapi import attributes, resource_id
from leadgate.outreach.routing import Links
from leadgate.store.mirror import SentRecord

PROSPECTS = "/api/v2/prospects"
# Outreach computes ``name`` from firstName/lastName and rejects writes to it (OAS marks it
# read-only, docs/outreach-api.md#prospects); presets may map a full-name trait to it, so it is
# not sent.
COMPUTED_ATTRIBUTES = frozenset({"name"})


def attributes_hash(
    attrs: dict[str, Any], account_id: int | None, links: Links | None = None
) -> str:
    """A stable digest of what we sent (attributes, account link and the routing links a rule
    may update), to skip no-op updates."""
    sent: dict[str, Any] = {"attributes": attrs, "account": account_id}
    if links:
        sent["links"] = {name: list(link) for name, link in links.items()}
    payload = orjson.dumps(sent, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(payload).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Wanted:
    """The lead as Outreach should see it."""

    email: str
    attributes: dict[str, Any]  # without emails and tags
    emails: list[str]
    tags: frozenset[str]
    account_id: int | None
    digest: str
    links: Links  # owner/stage an existing prospect should get (what the rule may update)
    on_existing: Literal["update", "skip"] | None = None


def wanted_prospect(lead: LeadIntent, account_id: int | None, links: Links | None = None) -> Wanted:
    """The lead as Outreach should see it (emails and tags apart; computed attributes left out)."""
    attrs = {k: v for k, v in lead.attributes.items() if k not in COMPUTED_ATTRIBUTES}
    extra_tags = attrs.pop("tags", None) or []
    raw_emails = attrs.pop("emails", None) or []
    emails = [e for e in raw_emails if isinstance(e, str)]
    if lead.email.lower() not in (e.lower() for e in emails):
        emails.insert(0, lead.email)
    tags = frozenset(lead.tags) | frozenset(t for t in extra_tags if isinstance(t, str))
    digest = attributes_hash(lead.attributes, account_id, links)
    return Wanted(
        lead.email, attrs, emails, tags, account_id, digest, links or {}, lead.on_existing
    )


def prospect_document(
    attrs: dict[str, Any],
    account_id: int | None,
    prospect_id: int | None = None,
    links: Links | None = None,
) -> dict[str, Any]:
    """The JSON:API document of a prospect write: attributes, and the account and routing links
    as relationships (an id makes it a PATCH document)."""
    data: dict[str, Any] = {"type": "prospect"}
    if prospect_id is not None:
        data["id"] = prospect_id
    data["attributes"] = attrs
    relationships = {
        name: {"data": {"type": kind, "id": id_}} for name, (kind, id_) in (links or {}).items()
    }
    if account_id is not None:
        relationships["account"] = {"data": {"type": "account", "id": account_id}}
    if relationships:
        data["relationships"] = relationships
    return {"data": data}


def sent_link_key(name: str) -> str:
    """Where ``sent.prospect`` keeps the id a routing link was last sent with."""
    return f"rel:{name}"


def oldest(found: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Several matches only happen in orgs allowing duplicates: the oldest is the stable one."""
    with_ids = [(resource_id(r), r) for r in found]
    matches = sorted(((i, r) for i, r in with_ids if i is not None), key=lambda p: p[0])
    return matches[0][1] if matches else None


def has_email(prospect: dict[str, Any], email: str) -> bool:
    """Whether a looked-up prospect carries ``email`` (Outreach compares them caselessly)."""
    wanted = email.lower()
    emails = attributes(prospect).get("emails") or []
    return any(isinstance(e, str) and e.lower() == wanted for e in emails)


def sent_after(wanted: Wanted, prospect_id: int, sent: SentRecord | None) -> SentRecord:
    """What ``sent.prospect`` remembers after a write: the lead's non-empty values and routing
    links over what was sent before to the same prospect, and the union of the tags."""
    keep = sent is not None and sent.prospect_id == prospect_id
    before = sent.attributes if sent is not None and keep else {}
    lead_values = {k: v for k, v in wanted.attributes.items() if v not in (None, "", [])}
    lead_values.update({sent_link_key(name): link[1] for name, link in wanted.links.items()})
    return SentRecord(
        prospect_id,
        {**before, **lead_values},
        (sent.tags if sent is not None and keep else frozenset()) | wanted.tags,
        wanted.account_id,
    )
