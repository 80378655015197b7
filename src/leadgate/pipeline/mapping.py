"""Mapping: from normalised traits to the lead intent (and its Outreach JSON:API document).

The preset's ``mappings`` name, per trait, the prospect attribute(s) it fills, in the order the
document lists them. Array attributes (``emails``, the phone lists) get a one-element list. The
account hint is the domain of a corporate email (free-mail domains identify no company) and the
``company`` trait.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from leadgate.domain.freemail import corporate_domain
from leadgate.domain.lead import LEAD_SCHEMA_VERSION, AccountHint, LeadIntent
from leadgate.domain.opportunity import SourceRef
from leadgate.domain.routing import RoutingPlan
from leadgate.pipeline.trusted import trusted

if TYPE_CHECKING:
    from leadgate.pipeline.presets import EventRule, Preset


def account_hint(email: str, company: str | None) -> AccountHint | None:
    """The company behind a lead: its email's corporate domain (none for free mail) and its
    name; delivery links the prospect by the same rule (``domain/freemail.corporate_domain``)."""
    hint_domain = corporate_domain(email)
    if hint_domain is None and company is None:
        return None
    return trusted(AccountHint, {"domain": hint_domain, "name": company})


def attributes(values: Mapping[str, Any], preset: Preset) -> dict[str, Any]:
    """The prospect attributes, in the preset's mapping order."""
    result: dict[str, Any] = {}
    get = values.get
    for trait, targets in preset.mapping_plan:
        value = get(trait)
        if value is None:
            continue
        for target, is_list in targets:
            result[target] = [value] if is_list else value
    return result


def build_lead(
    values: Mapping[str, Any],
    preset: Preset,
    rule: EventRule,
    *,
    event: str,
    consent: Mapping[str, bool],
    identities: tuple[str, ...],
    message_id: str | None,
    received_at: str | None,
    routing: RoutingPlan | None = None,
    source: SourceRef | None = None,
) -> LeadIntent:
    """The lead intent for the delivery topic; ``values`` holds the normalised ``email``.

    Built with ``trusted``: every value here is made by the pipeline with the declared type
    (validating it again cost more than the rest of a lead's processing).
    """
    email: str = values["email"]
    company = values.get("company")
    return trusted(
        LeadIntent,
        {
            "schema_version": LEAD_SCHEMA_VERSION,
            "kind": "upsert_prospect",
            "email": email,
            "attributes": attributes(values, preset),
            "tags": rule.tags,
            "account": account_hint(email, company if isinstance(company, str) else None),
            "consent": dict(consent),
            "required_consent": preset.consent,
            "identities": identities,
            "message_ids": (message_id,) if message_id else (),
            "event": event,
            "preset": preset.name,
            "received_at": received_at,
            "routing": routing,
            "withdrawal": None,
            "source": source,
            "on_existing": rule.on_existing,
            "opportunity": None,
        },
    )
