"""Presets: which events become Outreach prospects, with which tags, and how traits map.

A preset is one YAML file (docs/architecture.md), validated once at load into a frozen ``Preset``.
Loading is strict: see ``leadgate.pipeline.yamlsafe`` for the YAML rules; the schema below
rejects unknown fields, wrong types (including YAML 1.1 surprises such as an unquoted ``on``
where text is due) and unusable tags. Every error reads ``file:line: field: message``.
Event names match exactly (no patterns, so no regex backtracking and no rule overlap). An event
maps to one rule or to a list of rules; the first rule whose ``when`` holds applies
(``pipeline.conditions``), and a rule may route the lead: owner, sequence, stage
(``pipeline.routing``).
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from leadgate.domain.prospect import LIST_ATTRIBUTES, is_prospect_attribute
from leadgate.errors import PresetError
from leadgate.pipeline.conditions import Condition
from leadgate.pipeline.routing import FIELD_ROOTS, Name, OwnerChain, SequenceField
from leadgate.pipeline.yamlsafe import Document, YamlProblem, load_document

SCHEMA_ID = "https://leadgate.dev/schema/preset.json"


def _plain_text(value: str) -> str:
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("must not contain control characters (tabs, newlines, ...)")
    if value != value.strip():
        raise ValueError("must not start or end with spaces")
    return value


_PLAIN = AfterValidator(_plain_text)
Tag = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=255), _PLAIN]
EventName = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200), _PLAIN]
ShortText = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=100), _PLAIN]


def _one_or_many(value: object) -> object:
    return (value,) if isinstance(value, str) else value


# ``title: occupation`` or ``title: [title, occupation]``; always a tuple once loaded.
Targets = Annotated[
    tuple[ShortText, ...],
    Field(min_length=1),
    BeforeValidator(_one_or_many, json_schema_input_type=ShortText | list[ShortText]),
]
_STRICT = ConfigDict(extra="forbid", frozen=True)


class EventRule(BaseModel):
    """What to do with one event name (or, in a list of rules, with the events its ``when``
    selects)."""

    model_config = _STRICT

    name: ShortText | None = Field(
        default=None, description="names the rule in traces and its owner rotation"
    )
    when: Condition | None = Field(
        default=None,
        description="field -> test; the rule applies when every test holds (no when: always)",
    )
    action: Literal["upsert_prospect", "upsert_opportunity", "drop"] = Field(
        description="upsert_prospect creates or updates the prospect; upsert_opportunity writes "
        "the CRM opportunity in properties.opportunity (with its contacts' roles); drop ignores "
        "the event"
    )
    on_existing: Literal["update", "skip"] | None = Field(
        default=None,
        description="a prospect found by email that leadgate did not create: update it, or skip "
        "it (Workbooks flags such a person as a duplicate); either way the result says "
        "matched_existing. Unset: update, reported as updated/unchanged",
    )
    tags: tuple[Tag, ...] = Field(default=(), description="tags added to the prospect")
    owner: OwnerChain | None = Field(
        default=None,
        description="owner of a new prospect: a user, {field: ...}, {rotate: [...]}, or a list "
        "of these tried in order",
    )
    update_owner: bool = Field(
        default=False, description="also set the owner of an existing prospect (never by rotation)"
    )
    sequence: SequenceField | None = Field(
        default=None, description="enrol the prospect in this sequence (name, or {name|id, ...})"
    )
    stage: Name | None = Field(default=None, description="prospect stage, by name")
    update_stage: bool = Field(
        default=False, description="also set the stage of an existing prospect"
    )

    @model_validator(mode="after")
    def _check_routing(self) -> EventRule:
        routes = self.owner is not None or self.sequence is not None or self.stage is not None
        if self.action == "drop" and (routes or self.tags):
            raise ValueError("a drop rule takes no tags, owner, sequence or stage")
        if self.action == "upsert_opportunity" and (routes or self.tags):
            raise ValueError(
                "an upsert_opportunity rule takes no tags, owner, sequence or stage (the "
                "opportunity's stage and owner come with the record)"
            )
        if self.sequence is not None and self.sequence.mailbox is None and self.owner is None:
            raise ValueError(
                "sequence: it sends from the owner's mailbox, so the rule needs an owner "
                "(or name a mailbox: {name: ..., mailbox: rep@example.com})"
            )
        if self.update_owner and self.owner is None:
            raise ValueError("update_owner: the rule has no owner")
        if self.update_stage and self.stage is None:
            raise ValueError("update_stage: the rule has no stage")
        for path in self.when or {}:
            if path.split(".", 1)[0] not in FIELD_ROOTS:
                raise ValueError(f"when: {path!r} must start with one of {', '.join(FIELD_ROOTS)}")
        return self


def _one_or_list(value: object) -> object:
    return [value] if isinstance(value, dict) else value


# One rule, or a list tried in order; always a tuple once loaded.
Rules = Annotated[
    tuple[EventRule, ...],
    Field(min_length=1, max_length=50),
    BeforeValidator(_one_or_list, json_schema_input_type=EventRule | list[EventRule]),
]


class Defaults(BaseModel):
    """What happens to events the preset does not list."""

    model_config = _STRICT

    action: Literal["drop"] = Field(default="drop", description="unlisted events are dropped")


class Preset(BaseModel):
    """One integration preset (``presets/*.yaml``)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, title="leadgate preset", json_schema_extra={"$id": SCHEMA_ID}
    )

    name: ShortText = Field(description="shown in traces and on the lead")
    integration: Literal["outreach"] = Field(description="the destination")
    consent: tuple[ShortText, ...] = Field(
        description="consent categories that must all be granted (literal true) to send"
    )
    defaults: Defaults = Field(default_factory=Defaults)
    events: dict[EventName, Rules] = Field(
        description="event name (exact match) -> a rule, or a list of rules (first whose when "
        "holds applies)"
    )
    identify: Rules | None = Field(
        default=None,
        description="rules for identify calls (CRM people): upsert_prospect or drop; without "
        "this key an identify only updates the profile",
    )
    mappings: dict[ShortText, Targets] = Field(
        description="trait -> Outreach prospect attribute(s)"
    )
    on_consent_withdrawn: Literal["opt_out", "finish_sequences", "both", "nothing"] = Field(
        default="both",
        description="when an event withdraws a required category from a person Outreach knows: "
        "opt_out sets the prospect's emailsOptStatus to opted_out, finish_sequences finishes "
        "the sequences leadgate enrolled it in, both does both, nothing leaves Outreach alone",
    )

    @model_validator(mode="after")
    def _check_rules(self) -> Preset:
        listed = [(f"events.{event}", rules) for event, rules in self.events.items()]
        if self.identify is not None:
            listed.append(("identify", self.identify))
            if any(rule.action == "upsert_opportunity" for rule in self.identify):
                raise ValueError("identify: an identify is a person; use upsert_prospect")
        for where, rules in listed:
            for index, rule in enumerate(rules[:-1]):
                if rule.when is None:
                    raise ValueError(
                        f"{where}.{index}: only the last rule may go without when "
                        "(the rules after it could never apply)"
                    )
            names = [rule.name for rule in rules if rule.name is not None]
            if len(set(names)) != len(names):
                raise ValueError(f"{where}: two rules have the same name")
        return self

    @model_validator(mode="after")
    def _check_mappings(self) -> Preset:
        if self.mappings.get("email") != ("emails",):
            raise ValueError("mappings.email: must map to emails (Outreach dedupes on email)")
        seen: set[str] = set()
        for trait, targets in self.mappings.items():
            for target in targets:
                if target == "tags":
                    raise ValueError(f"mappings.{trait}: tags come from events, not traits")
                if not is_prospect_attribute(target):
                    raise ValueError(f"mappings.{trait}: {target!r} is not a prospect attribute")
                if target in seen:
                    raise ValueError(f"mappings.{trait}: {target!r} is mapped twice")
                if target in LIST_ATTRIBUTES and trait not in ("email", "phone"):
                    raise ValueError(f"mappings.{trait}: {target!r} takes email or phone only")
                seen.add(target)
        return self

    @model_validator(mode="after")
    def _derive(self) -> Preset:
        # computed once here, read for every lead (the properties below cache them)
        _ = self.traits_to_normalize, self.mapping_plan
        return self

    @cached_property
    def traits_to_normalize(self) -> tuple[str, ...]:
        """The traits ``normalize`` works on: every mapped trait but ``email`` (the identity
        stage normalises that one)."""
        return tuple(trait for trait in self.mappings if trait != "email")

    @cached_property
    def mapping_plan(self) -> tuple[tuple[str, tuple[tuple[str, bool], ...]], ...]:
        """Per trait, its target attributes and whether each takes a list, in mapping order."""
        return tuple(
            (trait, tuple((target, target in LIST_ATTRIBUTES) for target in targets))
            for trait, targets in self.mappings.items()
        )

    def rule_for(self, event_name: str) -> EventRule | None:
        """The unconditional rule that sends this event, or None when it is dropped (unlisted or
        ``drop``) or its rules have conditions (see ``rules_for``)."""
        rules = self.events.get(event_name)
        if rules is None or len(rules) != 1 or rules[0].when is not None:
            return None
        return rules[0] if rules[0].action == "upsert_prospect" else None

    def rules_for(self, event_name: str) -> tuple[EventRule, ...]:
        """The rules of this event, in order (empty when unlisted)."""
        return self.events.get(event_name, ())

    def sends(self, event_name: str) -> bool:
        """True when some rule of this event may write to Outreach."""
        return any(rule.action != "drop" for rule in self.rules_for(event_name))


def rule_label(event_name: str, rules: tuple[EventRule, ...], index: int) -> str:
    """How traces (and the owner rotation) name a rule: its name, else ``Event`` or
    ``Event #2`` in a list."""
    rule = rules[index]
    if rule.name is not None:
        return rule.name
    return event_name if len(rules) == 1 else f"{event_name} #{index + 1}"


def preset_json_schema() -> dict[str, Any]:
    """The JSON Schema of a preset file, for editors (``presets/schema.json``)."""
    schema = Preset.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


_YAML_KINDS = {bool: "a boolean", int: "a number", float: "a number", type(None): "empty"}
_MODEL_PATH = re.compile(r"(\w+)\.([^:]+): (.*)", re.DOTALL)
_LIST_TYPES = ("tuple_type", "list_type")


def _yaml_kind(value: object) -> str:
    return _YAML_KINDS.get(type(value), f"a {type(value).__name__}")


def _message(error: ErrorDetails, source: str | None) -> str:
    kind = error["type"]
    if kind == "string_type" and source is not None:
        read = _yaml_kind(error["input"])
        return f'expected text, but YAML read {source} as {read}; write it in quotes: "{source}"'
    if kind in _LIST_TYPES:
        read = f"YAML read {source} as {_yaml_kind(error['input'])}" if source else "got text"
        return f"expected a list such as [a, b], but {read}"
    if kind == "extra_forbidden":
        return "unknown field (see presets/schema.json for the allowed ones)"
    if kind == "string_too_short":
        return "must not be empty"
    return str(error["msg"]).removeprefix("Value error, ")


def _located(error: ErrorDetails) -> tuple[tuple[str | int, ...], bool, str | None]:
    """The path of an error, whether it is about a mapping key, and a model-level message."""
    loc = error["loc"]
    path = tuple(part for part in loc if part != "[key]")
    if not path and error["type"] == "value_error":
        # Cross-field checks name their field in the message: "mappings.city: ...".
        found = _MODEL_PATH.fullmatch(str(error["msg"]).removeprefix("Value error, "))
        if found:
            if found[1] == "events":  # "events.<name>.<index>: ..." (a name may hold spaces)
                name, _, index = found[2].rpartition(".")
                if index.isdigit() and name:
                    return ("events", name, int(index)), False, found[3]
            return (found[1], found[2]), False, found[3]
    return path, "[key]" in loc, None


def _as_written(doc: Document, path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """``events.<name>.0.x`` is ``events.<name>.x`` when the file gives one rule, not a list."""
    if len(path) >= 3 and path[0] == "events" and path[2] == 0:
        events = doc.data.get("events") if isinstance(doc.data, dict) else None
        rules = events.get(path[1]) if isinstance(events, dict) else None
        if isinstance(rules, dict):
            return (*path[:2], *path[3:])
    return path


def _errors(source: str, doc: Document, exc: ValidationError) -> list[str]:
    found: list[tuple[int, str]] = []
    errors = exc.errors(include_url=False)
    for error in errors:
        if error["type"] == "too_short" and _inner_error(error, errors):
            continue  # "a list of rules must not be empty" after its one rule failed to load
        path, is_key, model_message = _located(error)
        path = _as_written(doc, path)
        raw = doc.sources.get((*path, "[key]") if is_key else path)
        shown = (*path[:-1], raw) if is_key and raw is not None else path
        field = ".".join(str(part) for part in shown) or "(preset)"
        message = model_message or _message(error, raw)
        line = doc.line_of(path)
        found.append((line, f"{source}:{line}: {field}: {message}"))
    return [text for _, text in sorted(set(found))]


def _inner_error(error: ErrorDetails, errors: list[ErrorDetails]) -> bool:
    """Whether another error sits deeper under this error's path."""
    loc = error["loc"]
    return any(len(e["loc"]) > len(loc) and e["loc"][: len(loc)] == loc for e in errors)


def parse_preset(text: bytes, source: str) -> Preset:
    """Validate a preset from its bytes; ``source`` names it in errors."""
    try:
        doc = load_document(text)
    except YamlProblem as problem:
        raise PresetError([f"{source}:{problem.line}: yaml: {problem.message}"]) from None
    if not isinstance(doc.data, dict):
        raise PresetError([f"{source}:1: (preset): a preset is a mapping of fields"])
    try:
        return Preset.model_validate(doc.data)
    except ValidationError as exc:
        raise PresetError(_errors(source, doc, exc)) from None


def load_preset(path: Path) -> Preset:
    """Read and validate one preset file; raises ``PresetError`` (``file:line: field: msg``)."""
    try:
        with path.open("rb") as handle:
            text = handle.read(2 * 1024 * 1024)
    except OSError as exc:
        raise PresetError([f"{path}:1: (file): cannot read: {exc.strerror}"]) from None
    return parse_preset(text, str(path))
