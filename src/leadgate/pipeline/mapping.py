"""Mapping: from normalised traits to the lead intent (and its Outreach JSON:API document).

The preset's ``mappings`` name, per trait, the prospect attribute(s) it fills, in the order the
document lists them. Array attributes (``emails``, the phone lists) get a one-element list. The
account hint is the domain of a corporate email (free-mail domains identify no company) and the
``company`` trait.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from leadgate.domain.lead import LEAD_SCHEMA_VERSION, AccountHint, LeadIntent
from leadgate.domain.routing import RoutingPlan
from leadgate.pipeline.trusted import trusted

if TYPE_CHECKING:
    from leadgate.pipeline.presets import EventRule, Preset

# Writable prospect attributes (shared/outreach-api.md §2.1); ``name`` is read-only in Outreach
# but the seed's Lead Capture payload sends it, so it is allowed.
LIST_ATTRIBUTES = frozenset(
    {"emails", "mobilePhones", "homePhones", "workPhones", "otherPhones", "voipPhones", "tags"}
)
TEXT_ATTRIBUTES = frozenset(
    {
        "firstName", "lastName", "middleName", "name", "nickname", "title", "occupation",
        "company", "addressCity", "addressState", "addressCountry", "addressStreet",
        "addressStreet2", "addressZip", "region", "timeZone", "gender", "degree", "school",
        "specialties", "source", "campaignName", "eventName", "externalId", "externalOwner",
        "externalSource", "linkedInUrl", "twitterUrl", "twitterUsername", "githubUrl",
        "githubUsername", "facebookUrl", "websiteUrl1", "websiteUrl2", "websiteUrl3",
        "personalNote1", "personalNote2", "preferredContact",
    }
)  # fmt: skip
_CUSTOM = re.compile(r"custom([1-9][0-9]?|1[0-4][0-9]|150)")
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "hotmail.com", "hotmail.co.uk",
        "outlook.com", "live.com", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com",
        "proton.me", "protonmail.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "yandex.ru",
        "mail.ru", "qq.com", "163.com", "126.com", "zoho.com", "fastmail.com", "hey.com",
    }
)  # fmt: skip


def is_prospect_attribute(name: str) -> bool:
    """True for an attribute a preset may map a trait to."""
    return name in LIST_ATTRIBUTES or name in TEXT_ATTRIBUTES or bool(_CUSTOM.fullmatch(name))


def account_hint(email: str, company: str | None) -> AccountHint | None:
    """The company behind a lead: its email domain (unless free mail) and its name."""
    domain = email.rpartition("@")[2]
    hint_domain = None if domain in FREE_MAIL_DOMAINS else domain
    if hint_domain is None and company is None:
        return None
    return trusted(AccountHint, {"domain": hint_domain, "name": company})


_Plan = tuple[tuple[str, tuple[tuple[str, bool], ...]], ...]
_plans: dict[int, tuple[Preset, _Plan]] = {}


def _plan(preset: Preset) -> _Plan:
    """Per trait, its targets and whether each is a list attribute (once per preset object)."""
    entry = _plans.get(id(preset))
    if entry is None or entry[0] is not preset:
        if len(_plans) >= 64:
            _plans.clear()
        plan = tuple(
            (trait, tuple((target, target in LIST_ATTRIBUTES) for target in targets))
            for trait, targets in preset.mappings.items()
        )
        entry = _plans[id(preset)] = (preset, plan)
    return entry[1]


def attributes(values: Mapping[str, Any], preset: Preset) -> dict[str, Any]:
    """The prospect attributes, in the preset's mapping order."""
    result: dict[str, Any] = {}
    get = values.get
    for trait, targets in _plan(preset):
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
        },
    )
