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


# Every resource has these, read-only.
_TIMESTAMPS = _names("createdAt updatedAt")


def _schema(
    kind: str,
    plural: str,
    *,
    shown: str,
    writable: str = "",
    read_only: str = "",
    arrays: str = "",
    relationships: dict[str, str] | None = None,
    custom_fields: bool = False,
    defaults: dict[str, Any] | None = None,
    seeds: tuple[dict[str, Any], ...] = (),
) -> ResourceSchema:
    """A schema from whitespace-separated name blocks: ``createdAt``/``updatedAt`` are always
    read-only, ``custom_fields`` adds ``custom1``-``custom150`` to what may be written."""
    return ResourceSchema(
        kind=kind,
        plural=plural,
        writable=_names(writable) | (_CUSTOM if custom_fields else frozenset()),
        read_only=_names(read_only) | _TIMESTAMPS,
        arrays=_names(arrays),
        relationships=dict(relationships or {}),
        shown=tuple(sorted(_names(shown))),
        defaults=dict(defaults or {}),
        seeds=seeds,
    )


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

PROSPECT = _schema(
    "prospect",
    "prospects",
    writable=_PROSPECT_WRITABLE,
    shown=_PROSPECT_SHOWN,
    read_only=_PROSPECT_READ_ONLY,
    arrays="emails tags homePhones mobilePhones otherPhones voipPhones workPhones",
    relationships={
        "account": "accounts",
        "owner": "users",
        "stage": "stages",
        "persona": "personas",
    },
    custom_fields=True,
    defaults={"externalSource": "outreach-api"},
)

ACCOUNT = _schema(
    "account",
    "accounts",
    writable=_ACCOUNT_WRITABLE,
    shown="createdAt domain externalSource name named tags updatedAt",
    read_only="touchedAt",
    arrays="naicsCodes sicCodes tags",
    relationships={"owner": "users"},
    custom_fields=True,
    defaults={"externalSource": "outreach-api", "named": True},
)

USER = _schema(
    "user",
    "users",
    writable="email firstName lastName title username phoneNumber locked timeZone",
    shown="createdAt email firstName lastName locked name title updatedAt username",
    read_only="name",
)

# Routing objects (docs/outreach-api.md#users-and-mailboxes, #sequences-and-stages). A mailbox's
# ``userId`` is read-only in Outreach; the sandbox seeds it (default org) and accepts it on create
# so tests can add mailboxes.
MAILBOX = _schema(
    "mailbox",
    "mailboxes",
    writable="email sendDisabled userId",
    shown="createdAt email sendDisabled updatedAt userId",
    relationships={"user": "users"},
    defaults={"sendDisabled": False},
)

SEQUENCE = _schema(
    "sequence",
    "sequences",
    writable="name enabled sequenceType throttleMaxAddsPerDay description tags",
    shown="createdAt enabled name sequenceType updatedAt",
    arrays="tags",
    relationships={"owner": "users"},
    defaults={"enabled": True, "sequenceType": "interval"},
)

# Enrolments: created from relationships only (``sequence_states.py`` applies Outreach's checks;
# ``sequence_actions.py`` finishes one).
SEQUENCE_STATE = _schema(
    "sequenceState",
    "sequenceStates",
    shown="createdAt errorReason pauseReason state stateChangedAt updatedAt",
    read_only="state stateChangedAt errorReason pauseReason",
    relationships={"prospect": "prospects", "sequence": "sequences", "mailbox": "mailboxes"},
)

# Prospect stages (not opportunityStages).
STAGE = _schema(
    "stage",
    "stages",
    writable="name order color",
    shown="color createdAt name order updatedAt",
)

# Webhook subscriptions; ``webhooks.py`` delivers every change to the active ones.
WEBHOOK = _schema(
    "webhook",
    "webhooks",
    writable="action active payloadVersion resource secret url",
    shown="action active createdAt payloadVersion resource secret url",
    read_only="disabledReason disabledSince disabledUntil",
    defaults={"action": "*", "resource": "*", "active": True, "payloadVersion": 1},
)

_OPPORTUNITY_WRITABLE = """
    amount amountPrecise closeDate currencyType customId description externalCreatedAt
    externalUpdatedAt forecastCategory leadSource lostReason mapLink mapNextSteps mapStatus name
    nextStep opportunityType probability prospectingRepId recordType sharingTeamId tags trashedAt
"""

# Requires the Opportunities SKU in Outreach; the sandbox org has it.
OPPORTUNITY = _schema(
    "opportunity",
    "opportunities",
    writable=_OPPORTUNITY_WRITABLE,
    shown="amount closeDate createdAt currencyType customId name tags updatedAt",
    read_only="touchedAt",
    arrays="tags",
    relationships={
        "account": "accounts",
        "owner": "users",
        "opportunityStage": "opportunityStages",
        "primaryProspect": "prospects",
    },
    custom_fields=True,
)

# The default pipeline of a new org; `order` is the position in it, `isClosed` ends a deal.
DEFAULT_OPPORTUNITY_STAGES: tuple[dict[str, Any], ...] = (
    {"name": "Prospecting", "order": 1, "isClosed": False},
    {"name": "Qualification", "order": 2, "isClosed": False},
    {"name": "Negotiation", "order": 3, "isClosed": False},
    {"name": "Closed Won", "order": 4, "isClosed": True},
    {"name": "Closed Lost", "order": 5, "isClosed": True},
)

OPPORTUNITY_STAGE = _schema(
    "opportunityStage",
    "opportunityStages",
    writable="color isClosed name order",
    shown="color createdAt isClosed name order updatedAt",
    seeds=DEFAULT_OPPORTUNITY_STAGES,
)

# A prospect's role on an opportunity: the only way to attach prospects to one.
OPPORTUNITY_PROSPECT_ROLE = _schema(
    "opportunityProspectRole",
    "opportunityProspectRoles",
    writable="primary role",
    shown="createdAt primary role updatedAt",
    relationships={"opportunity": "opportunities", "prospect": "prospects"},
)

# A regulatory request to delete an individual's PII (docs/outreach-api.md#opt-out-and-erasure);
# created and read through ``compliance.py`` only (Outreach offers no update or delete of one).
COMPLIANCE_REQUEST = _schema(
    "complianceRequest",
    "complianceRequests",
    writable="requestType objectType requestObjectId",
    shown="createdAt objectType requestObjectId requestType state updatedAt",
    read_only="state",
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
