"""The routing keys of a preset rule (``owner``, ``sequence``, ``stage``) and the plan they make.

A rule's keys are validated here as part of the preset schema; ``plan_for`` turns the rule that
applied to one event into the ``RoutingPlan`` the lead intent carries (reading an owner held in
an event field now, so the delivery side never needs the event). Owners::

    owner: alice@acme.com                       # a literal user: email, or username
    owner: {field: properties.assignedTo}       # a user named by a field of the event/profile
    owner: {rotate: [alice, bob]}               # round robin (position kept in the state store)
    owner: [{field: traits.owner}, {rotate: [alice, bob]}]   # a chain: first that resolves wins

Sequences: ``sequence: Inbound Demo Request`` or ``{name | id, mailbox, enrol: new | idle}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)

from leadgate.domain.routing import OwnerLink, RoutingPlan, SequenceTarget
from leadgate.pipeline.conditions import FieldPath, lookup

_STRICT = ConfigDict(extra="forbid", frozen=True)
FIELD_ROOTS = ("properties", "traits", "context")


def _plain(value: str) -> str:
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("must not contain control characters (tabs, newlines, ...)")
    if value != value.strip():
        raise ValueError("must not start or end with spaces")
    return value


def _rooted(value: str) -> str:
    if value.split(".", 1)[0] not in FIELD_ROOTS:
        raise ValueError(f"{value!r}: a field path starts with one of {', '.join(FIELD_ROOTS)}")
    return value


UserName = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=254), AfterValidator(_plain)
]
EventField = Annotated[FieldPath, AfterValidator(_rooted)]
Name = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=255), AfterValidator(_plain)
]


class UserOwner(BaseModel):
    """A literal Outreach user: their email, or their username."""

    model_config = _STRICT
    user: UserName = Field(description="email or username of an Outreach user")


class FieldOwner(BaseModel):
    """The user named (email or exact username) by a field of the event or profile."""

    model_config = _STRICT
    field: EventField = Field(description="e.g. properties.assignedTo or traits.owner")


class RotationOwner(BaseModel):
    """Round robin over users; the position survives restarts and is shared by workers."""

    model_config = _STRICT
    rotate: tuple[UserName, ...] = Field(min_length=1, description="emails or usernames")
    rotation: Name | None = Field(
        default=None,
        description="rules naming the same rotation share its position (default: one per rule)",
    )

    @model_validator(mode="after")
    def _distinct(self) -> RotationOwner:
        if len(set(self.rotate)) != len(self.rotate):
            raise ValueError("rotate: a user is listed twice")
        return self


OwnerSpec = UserOwner | FieldOwner | RotationOwner
_OWNER_KEYS = (("user", UserOwner), ("field", FieldOwner), ("rotate", RotationOwner))


def _owner_kind(value: object) -> str | None:
    for key, model in _OWNER_KEYS:
        if isinstance(value, model) or (isinstance(value, dict) and key in value):
            return key
    return None


TaggedOwner = Annotated[
    Annotated[UserOwner, Tag("user")]
    | Annotated[FieldOwner, Tag("field")]
    | Annotated[RotationOwner, Tag("rotate")],
    Discriminator(
        _owner_kind,
        custom_error_type="owner",
        custom_error_message="an owner is a user (email or username), {field: <path>} or "
        "{rotate: [users]}",
    ),
]


def _owner_link(value: object) -> object:
    return {"user": value} if isinstance(value, str) else value


def _owner_chain(value: object) -> object:
    return [value] if isinstance(value, (str, dict)) else value


OwnerLinkSpec = Annotated[TaggedOwner, BeforeValidator(_owner_link)]
OwnerChain = Annotated[
    tuple[OwnerLinkSpec, ...],
    Field(min_length=1, max_length=10),
    BeforeValidator(
        _owner_chain, json_schema_input_type=UserName | OwnerSpec | list[UserName | OwnerSpec]
    ),
]


class SequenceSpec(BaseModel):
    """Which sequence to enrol in, from which mailbox, and which prospects."""

    model_config = _STRICT

    name: Name | None = Field(default=None, description="the sequence's name in Outreach")
    id: int | None = Field(default=None, strict=True, ge=1, description="or its id")
    mailbox: UserName | None = Field(
        default=None, description="email of the sending mailbox (default: the owner's mailbox)"
    )
    enrol: Literal["new", "idle"] = Field(
        default="new",
        description="new: only prospects this lead created; idle: also existing prospects "
        "not active in any sequence",
    )

    @model_validator(mode="after")
    def _one_target(self) -> SequenceSpec:
        if (self.name is None) == (self.id is None):
            raise ValueError("sequence: give its name or its id (exactly one)")
        return self


def _sequence(value: object) -> object:
    return {"name": value} if isinstance(value, str) else value


SequenceField = Annotated[
    SequenceSpec, BeforeValidator(_sequence, json_schema_input_type=Name | SequenceSpec)
]


def rotation_key(preset: str, rule: str) -> str:
    """The ``rotation`` counter of one rule: ``<preset>:<rule>``."""
    return f"{preset}:{rule}"


def owner_links(
    chain: tuple[OwnerSpec, ...], data: Mapping[str, Any], rotation: str, preset: str
) -> tuple[OwnerLink, ...]:
    """The chain with field values read from ``data`` (an empty field keeps its link, unset)."""
    links: list[OwnerLink] = []
    for spec in chain:
        if isinstance(spec, UserOwner):
            links.append(OwnerLink(via="user", user=spec.user))
        elif isinstance(spec, FieldOwner):
            value = lookup(data, spec.field)
            user = value.strip() if isinstance(value, str) and value.strip() else None
            links.append(OwnerLink(via="field", field=spec.field, user=user))
        else:
            key = rotation if spec.rotation is None else rotation_key(preset, spec.rotation)
            links.append(OwnerLink(via="rotation", users=spec.rotate, rotation=key))
    return tuple(links)


def plan_for(
    *,
    preset: str,
    rule: str,
    condition: str | None,
    owner: tuple[OwnerSpec, ...] | None,
    update_owner: bool,
    sequence: SequenceSpec | None,
    stage: str | None,
    update_stage: bool,
    data: Mapping[str, Any],
) -> RoutingPlan | None:
    """The routing plan of a rule for one event, or None when the rule routes nothing."""
    if owner is None and sequence is None and stage is None:
        return None
    target = None
    if sequence is not None:
        target = SequenceTarget(
            name=sequence.name, id=sequence.id, mailbox=sequence.mailbox, enrol=sequence.enrol
        )
    return RoutingPlan(
        rule=rule,
        condition=condition,
        owner=owner_links(owner, data, rotation_key(preset, rule), preset) if owner else (),
        update_owner=update_owner,
        sequence=target,
        stage=stage,
        update_stage=update_stage,
    )
