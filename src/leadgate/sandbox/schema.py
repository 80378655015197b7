"""Which attributes and relationships each sandbox resource has (OAS tables in
docs/outreach-api.md#prospects and #accounts; opportunities as docs/outreach-api.md has them).
Writing anything else is a 422 naming the attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _names(text: str) -> frozenset[str]:
    """Attribute names written as a whitespace-separated block (easier to compare with the doc)."""
    return frozenset(text.split())


_CUSTOM = frozenset(f"custom{n}" for n in range(1, 151))


@dataclass(frozen=True, slots=True)
class ResourceSchema:
    """One resource type: names on the wire and what a client may write."""

    kind: str  # JSON:API type, singular ("prospect")
    plural: str  # path segment and scope prefix ("prospects")
    writable: frozenset[str]
    read_only: frozenset[str]
    arrays: frozenset[str]
    relationships: dict[str, str]  # writable to-one relationship name -> related plural
    # Attributes always present in a response (null when unset); custom fields only when set.
    shown: tuple[str, ...]
    # Server-side defaults on create ("outreach-api" is what API-created records say, §2.1).
    defaults: dict[str, Any] = field(default_factory=dict)
    # Records every org has: created (attributes only) on start and on every reset.
    seeds: tuple[dict[str, Any], ...] = ()


_PROSPECT_WRITABLE = """
    addedAt addressCity addressCountry addressState addressStreet addressStreet2 addressZip
    angelListUrl availableAt callOptedOut callsOptStatus campaignName company dateOfBirth degree
    emailOptedOut emails emailsOptStatus eventName externalId externalOwner externalSource
    facebookUrl firstName gender githubUrl githubUsername googlePlusUrl graduationDate
    homePhones jobStartDate lastName linkedInConnections linkedInId linkedInUrl middleName
    mobilePhones nickname occupation optedOut otherPhones personalNote1 personalNote2
    preferredContact quoraUrl region school score sharingTeamId smsOptStatus source specialties
    stackOverflowId stackOverflowUrl tags timeZone title trashedAt twitterUrl twitterUsername
    voipPhones websiteUrl1 websiteUrl2 websiteUrl3 workPhones
"""
_PROSPECT_READ_ONLY = """
    callsOptedAt clickCount contactHistogram createdAt emailsOptedAt engagedAt engagedScore
    linkedInSlug name openCount optedOutAt replyCount smsOptedAt timeZoneIana timeZoneInferred
    touchedAt updatedAt
"""
_PROSPECT_SHOWN = """
    addressCity addressCountry addressState company createdAt emailOptedOut emails emailsOptStatus
    emailsOptedAt externalSource firstName homePhones lastName mobilePhones name occupation
    optedOut otherPhones source tags title updatedAt voipPhones workPhones
"""
_ACCOUNT_WRITABLE = """
    annualRevenueRange buyerIntentScore companyType customId description domain externalSource
    followers foundedAt industry linkedInEmployees linkedInUrl locality naicsCodes name named
    naturalName numberOfEmployees sharingTeamId sicCodes tags tickerSymbol websiteUrl
"""

PROSPECT = ResourceSchema(
    kind="prospect",
    plural="prospects",
    writable=_names(_PROSPECT_WRITABLE) | _CUSTOM,
    read_only=_names(_PROSPECT_READ_ONLY),
    arrays=_names("emails tags homePhones mobilePhones otherPhones voipPhones workPhones"),
    relationships={
        "account": "accounts",
        "owner": "users",
        "stage": "stages",
        "persona": "personas",
    },
    shown=tuple(sorted(_names(_PROSPECT_SHOWN))),
    defaults={"externalSource": "outreach-api"},
)

ACCOUNT = ResourceSchema(
    kind="account",
    plural="accounts",
    writable=_names(_ACCOUNT_WRITABLE) | _CUSTOM,
    read_only=_names("createdAt touchedAt updatedAt"),
    arrays=_names("naicsCodes sicCodes tags"),
    relationships={"owner": "users"},
    shown=tuple(sorted(_names("createdAt domain externalSource name named tags updatedAt"))),
    defaults={"externalSource": "outreach-api", "named": True},
)

USER = ResourceSchema(
    kind="user",
    plural="users",
    writable=_names("email firstName lastName title username phoneNumber locked timeZone"),
    read_only=_names("createdAt updatedAt name"),
    arrays=frozenset(),
    relationships={},
    shown=tuple(
        sorted(_names("createdAt email firstName lastName locked name title updatedAt username"))
    ),
)

# Routing objects (docs/outreach-api.md#users-and-mailboxes, #sequences-and-stages). A mailbox's
# ``userId`` is read-only in Outreach; the sandbox seeds it (default org) and accepts it on create
# so tests can add mailboxes.
MAILBOX = ResourceSchema(
    kind="mailbox",
    plural="mailboxes",
    writable=_names("email sendDisabled userId"),
    read_only=_names("createdAt updatedAt"),
    arrays=frozenset(),
    relationships={"user": "users"},
    shown=tuple(sorted(_names("createdAt email sendDisabled updatedAt userId"))),
    defaults={"sendDisabled": False},
)

SEQUENCE = ResourceSchema(
    kind="sequence",
    plural="sequences",
    writable=_names("name enabled sequenceType throttleMaxAddsPerDay description tags"),
    read_only=_names("createdAt updatedAt"),
    arrays=_names("tags"),
    relationships={"owner": "users"},
    shown=tuple(sorted(_names("createdAt enabled name sequenceType updatedAt"))),
    defaults={"enabled": True, "sequenceType": "interval"},
)

# Enrolments: created from relationships only (``sequence_states.py`` applies Outreach's checks;
# ``sequence_actions.py`` finishes one).
SEQUENCE_STATE = ResourceSchema(
    kind="sequenceState",
    plural="sequenceStates",
    writable=frozenset(),
    read_only=_names("state stateChangedAt errorReason pauseReason createdAt updatedAt"),
    arrays=frozenset(),
    relationships={"prospect": "prospects", "sequence": "sequences", "mailbox": "mailboxes"},
    shown=tuple(sorted(_names("createdAt errorReason pauseReason state stateChangedAt updatedAt"))),
)

# Prospect stages (not opportunityStages).
STAGE = ResourceSchema(
    kind="stage",
    plural="stages",
    writable=_names("name order color"),
    read_only=_names("createdAt updatedAt"),
    arrays=frozenset(),
    relationships={},
    shown=tuple(sorted(_names("color createdAt name order updatedAt"))),
)

# Webhook subscriptions; ``webhooks.py`` delivers every change to the active ones.
WEBHOOK = ResourceSchema(
    kind="webhook",
    plural="webhooks",
    writable=_names("action active payloadVersion resource secret url"),
    read_only=_names("createdAt updatedAt disabledReason disabledSince disabledUntil"),
    arrays=frozenset(),
    relationships={},
    shown=tuple(sorted(_names("action active createdAt payloadVersion resource secret url"))),
    defaults={"action": "*", "resource": "*", "active": True, "payloadVersion": 1},
)

_OPPORTUNITY_WRITABLE = """
    amount amountPrecise closeDate currencyType customId description externalCreatedAt
    externalUpdatedAt forecastCategory leadSource lostReason mapLink mapNextSteps mapStatus name
    nextStep opportunityType probability prospectingRepId recordType sharingTeamId tags trashedAt
"""

# Requires the Opportunities SKU in Outreach; the sandbox org has it.
OPPORTUNITY = ResourceSchema(
    kind="opportunity",
    plural="opportunities",
    writable=_names(_OPPORTUNITY_WRITABLE) | _CUSTOM,
    read_only=_names("createdAt touchedAt updatedAt"),
    arrays=_names("tags"),
    relationships={
        "account": "accounts",
        "owner": "users",
        "opportunityStage": "opportunityStages",
        "primaryProspect": "prospects",
    },
    shown=tuple(
        sorted(_names("amount closeDate createdAt currencyType customId name tags updatedAt"))
    ),
)

# The default pipeline of a new org; `order` is the position in it, `isClosed` ends a deal.
DEFAULT_OPPORTUNITY_STAGES: tuple[dict[str, Any], ...] = (
    {"name": "Prospecting", "order": 1, "isClosed": False},
    {"name": "Qualification", "order": 2, "isClosed": False},
    {"name": "Negotiation", "order": 3, "isClosed": False},
    {"name": "Closed Won", "order": 4, "isClosed": True},
    {"name": "Closed Lost", "order": 5, "isClosed": True},
)

OPPORTUNITY_STAGE = ResourceSchema(
    kind="opportunityStage",
    plural="opportunityStages",
    writable=_names("color isClosed name order"),
    read_only=_names("createdAt updatedAt"),
    arrays=frozenset(),
    relationships={},
    shown=tuple(sorted(_names("color createdAt isClosed name order updatedAt"))),
    seeds=DEFAULT_OPPORTUNITY_STAGES,
)

# A prospect's role on an opportunity: the only way to attach prospects to one.
OPPORTUNITY_PROSPECT_ROLE = ResourceSchema(
    kind="opportunityProspectRole",
    plural="opportunityProspectRoles",
    writable=_names("primary role"),
    read_only=_names("createdAt updatedAt"),
    arrays=frozenset(),
    relationships={"opportunity": "opportunities", "prospect": "prospects"},
    shown=tuple(sorted(_names("createdAt primary role updatedAt"))),
)

# A regulatory request to delete an individual's PII (docs/outreach-api.md#opt-out-and-erasure);
# created and read through ``compliance.py`` only (Outreach offers no update or delete of one).
COMPLIANCE_REQUEST = ResourceSchema(
    kind="complianceRequest",
    plural="complianceRequests",
    writable=_names("requestType objectType requestObjectId"),
    read_only=_names("createdAt updatedAt state"),
    arrays=frozenset(),
    relationships={},
    shown=tuple(sorted(_names("createdAt objectType requestObjectId requestType state updatedAt"))),
    defaults={"state": "pending"},
)

SCHEMAS: dict[str, ResourceSchema] = {
    s.plural: s
    for s in (
        PROSPECT,
        ACCOUNT,
        USER,
        WEBHOOK,
        OPPORTUNITY,
        OPPORTUNITY_STAGE,
        OPPORTUNITY_PROSPECT_ROLE,
        COMPLIANCE_REQUEST,
        MAILBOX,
        SEQUENCE,
        SEQUENCE_STATE,
        STAGE,
    )
}


def kind_of(plural: str) -> str:
    """The JSON:API type of a related plural (``opportunities`` → ``opportunity``)."""
    schema = SCHEMAS.get(plural)
    return schema.kind if schema is not None else plural.removesuffix("s")


# Filters beyond plain attribute equality (relationship ids) and the ones matched without case.
CASELESS_FILTERS = frozenset({"emails", "domain", "name", "email"})
