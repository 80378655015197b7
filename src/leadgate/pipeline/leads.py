"""The lead path of ``process()``: an event one of the preset's rules may send.

    condition (which rule applies?) ─► consent ─► identity ─► normalize ─► mapping
    ─► routing (owner, sequence, stage of the rule) ─► lead intent

A mapped track event takes it, and an identify when the preset has identify rules (a CRM
person, whose traits are remembered first and checked as a record). A rule with
``upsert_opportunity`` turns the event into an opportunity intent instead (``pipeline.crm``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from leadgate.domain.events import EventHead, fields
from leadgate.domain.outcome import Drop, Outcome, drop_outcome, fast_outcome
from leadgate.domain.profile import Profile
from leadgate.domain.reasons import DropReason, StageStatus
from leadgate.domain.trace import StageRecord
from leadgate.pipeline.consent import consent_granted, missing_consent
from leadgate.pipeline.crm import (
    check_person,
    opportunity_intent,
    parse_opportunity,
    person_source,
)
from leadgate.pipeline.identity import NO_IDENTITY, find_email, remember
from leadgate.pipeline.mapping import build_lead
from leadgate.pipeline.normalize import normalize_traits
from leadgate.pipeline.outcomes import (
    DECODED,
    REMEMBERED,
    UNCHANGED,
    dropped,
    event_consent,
    validated_fields,
    why,
)
from leadgate.pipeline.presets import EventRule, Preset
from leadgate.pipeline.rules import route, routing_pass, select


def lead_outcome(
    head: EventHead,
    snapshot: Profile,
    preset: Preset,
    rules: tuple[EventRule, ...],
    default_region: str | None,
    *,
    person: bool = False,
) -> Outcome:
    """A mapped track event, or an identify with rules (``person``: a CRM person, its traits
    remembered first): condition, consent, identity, normalise, map, route."""
    found = fields(head) or validated_fields(head)
    if isinstance(found, Drop):
        return dropped(head, found, (StageRecord("decode", StageStatus.DROP, *why(found)),))
    context_traits, raw_consent, traits, properties = found
    consent_told = event_consent(raw_consent)
    told = (
        ({**context_traits, **traits} if context_traits else traits) if person else context_traits
    )
    profile = remember(snapshot, told, consent_told)
    current = profile or snapshot
    stages: list[StageRecord] = [DECODED, UNCHANGED if profile is None else REMEMBERED]
    if person:
        invalid = check_person(told)
        if invalid is not None:
            stages.append(StageRecord("record", StageStatus.DROP, *why(invalid)))
            return dropped(head, invalid, tuple(stages), profile)
    selected = select(rules, head, properties, current.traits)
    if isinstance(selected, Drop):
        stages.append(StageRecord("condition", StageStatus.DROP, *why(selected)))
        return dropped(head, selected, tuple(stages), profile)
    rule = selected.rule
    if selected.stage is not None:
        stages.append(selected.stage)
    if rule.action == "upsert_opportunity":
        return _opportunity(head, properties, preset, current, stages, profile)
    stages.append(_preset_pass(rule.tags))

    consent = current.consent
    if not consent_granted(consent, preset.consent):
        missing = ", ".join(missing_consent(consent, preset.consent))
        where = "this event" if consent_told is not None else "the profile (none on the event)"
        drop = Drop(DropReason.NO_CONSENT, f"not granted in {where}: {missing}")
        stages.append(StageRecord("consent", StageStatus.DROP, *why(drop)))
        return dropped(head, drop, tuple(stages), profile)
    stages.append(_consent_pass(preset.consent))

    sources: list[tuple[str, dict[str, Any]]] = [
        *((("traits", traits),) if person else ()),
        ("context.traits", context_traits),
        ("properties", properties),
        ("profile", snapshot.traits),
    ]
    identity = find_email(sources)
    if isinstance(identity, Drop):
        # The usual drop (no email known yet) has its trace record built once, below.
        stages.append(_NO_IDENTITY_STAGE if identity is NO_IDENTITY else _identity_drop(identity))
        return drop_outcome(head, identity.reason, identity.detail, tuple(stages), profile)
    normalized = normalize_traits(
        current.traits, preset.traits_to_normalize, default_region=default_region
    )
    values = {"email": identity.email, **normalized.values}
    plan = route(preset.name, rules, selected, head, properties, current.traits)
    lead = build_lead(
        values,
        preset,
        rule,
        event=head.name or "",
        consent=consent,
        identities=head.identities,
        message_id=head.message_id,
        received_at=head.received_at,
        routing=plan,
        source=person_source(head) if person else None,
    )
    trace = (
        *stages,
        _identity_pass(identity.source),
        (
            StageRecord("normalize", StageStatus.WARN, detail="; ".join(normalized.warnings))
            if normalized.warnings
            else _NORMALIZED
        ),
        _mapping_pass(len(lead.attributes)),
        *(() if plan is None else (routing_pass(plan),)),
    )
    return fast_outcome(
        message_id=head.message_id,
        event_type=head.type,
        event_name=head.name,
        identities=head.identities,
        drop=None,
        detail=None,
        lead=lead,
        profile=profile,
        stages=trace,
        normalized=values,
        received_at=head.received_at,
    )


def _opportunity(
    head: EventHead,
    properties: dict[str, Any],
    preset: Preset,
    current: Profile,
    stages: list[StageRecord],
    profile: Profile | None,
) -> Outcome:
    """A CRM opportunity record (``upsert_opportunity``): consent, then the record's checks."""
    if not consent_granted(current.consent, preset.consent):
        missing = ", ".join(missing_consent(current.consent, preset.consent))
        drop = Drop(DropReason.NO_CONSENT, f"not granted: {missing}")
        stages.append(StageRecord("consent", StageStatus.DROP, *why(drop)))
        return dropped(head, drop, tuple(stages), profile)
    plan = parse_opportunity(properties)
    if isinstance(plan, Drop):
        stages.append(StageRecord("record", StageStatus.DROP, *why(plan)))
        return dropped(head, plan, tuple(stages), profile)
    lead = opportunity_intent(
        plan,
        head,
        preset=preset.name,
        consent=current.consent,
        required_consent=preset.consent,
    )
    detail = f"opportunity {plan.source_id!r}: {len(plan.contacts)} contact role(s)"
    stages.append(StageRecord("record", StageStatus.PASS, detail=detail))
    return Outcome(
        message_id=head.message_id,
        event_type=head.type,
        event_name=head.name,
        identities=head.identities,
        lead=lead,
        profile=profile,
        stages=tuple(stages),
        received_at=head.received_at,
    )


# The pass records of the lead path depend on the preset only: built once, shared.
_NORMALIZED = StageRecord("normalize", StageStatus.PASS)


def _identity_drop(drop: Drop) -> StageRecord:
    return StageRecord("identity", StageStatus.DROP, *why(drop))


_NO_IDENTITY_STAGE = _identity_drop(NO_IDENTITY)


@lru_cache(maxsize=256)
def _preset_pass(tags: tuple[str, ...]) -> StageRecord:
    return StageRecord("preset", StageStatus.PASS, detail=f"tags: {', '.join(tags) or '-'}")


@lru_cache(maxsize=256)
def _consent_pass(required: tuple[str, ...]) -> StageRecord:
    return StageRecord("consent", StageStatus.PASS, detail=", ".join(required))


@lru_cache(maxsize=16)
def _identity_pass(source: str) -> StageRecord:
    return StageRecord("identity", StageStatus.PASS, detail=f"email from {source}")


@lru_cache(maxsize=256)
def _mapping_pass(count: int) -> StageRecord:
    return StageRecord("mapping", StageStatus.PASS, detail=f"{count} attributes")
