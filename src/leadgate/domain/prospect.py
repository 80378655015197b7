"""The prospect attributes leadgate may write: Outreach's writable prospect fields
(docs/outreach-api.md, "Prospects"). A preset maps traits only to these; the list ones take a
one-element list.
"""

from __future__ import annotations

import re

# Attributes whose value is a list (an email or phone is sent as ``[value]``).
LIST_ATTRIBUTES = frozenset(
    {"emails", "mobilePhones", "homePhones", "workPhones", "otherPhones", "voipPhones", "tags"}
)
# ``name`` is read-only in Outreach, but the Lead Capture payload sends it, so it is allowed.
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
# custom1 … custom150
_CUSTOM = re.compile(r"custom([1-9][0-9]?|1[0-4][0-9]|150)")


def is_prospect_attribute(name: str) -> bool:
    """True for an attribute a preset may map a trait to."""
    return name in LIST_ATTRIBUTES or name in TEXT_ATTRIBUTES or bool(_CUSTOM.fullmatch(name))
