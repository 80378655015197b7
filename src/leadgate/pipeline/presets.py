"""Presets: which events become Outreach prospects, with which tags, and how traits map.

A preset is one YAML file (ARCHITECTURE §3.4), validated once at load into a frozen ``Preset``.
Loading is strict: see ``leadgate.pipeline.yamlsafe`` for the YAML rules; the schema below
rejects unknown fields, wrong types (including YAML 1.1 surprises such as an unquoted ``on``
where text is due) and unusable tags. Every error reads ``file:line: field: message``.
Event names match exactly (no patterns, so no regex backtracking and no rule overlap).
"""

from __future__ import annotations

import re
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

from leadgate.errors import PresetError
from leadgate.pipeline.mapping import LIST_ATTRIBUTES, is_prospect_attribute
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
    """What to do with one event name."""

    model_config = _STRICT

    action: Literal["upsert_prospect", "drop"] = Field(
        description="upsert_prospect creates or updates the prospect; drop ignores the event"
    )
    tags: tuple[Tag, ...] = Field(default=(), description="tags added to the prospect")


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
    events: dict[EventName, EventRule] = Field(description="event name (exact match) -> rule")
    mappings: dict[ShortText, Targets] = Field(
        description="trait -> Outreach prospect attribute(s)"
    )

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

    def rule_for(self, event_name: str) -> EventRule | None:
        """The rule that sends this event, or None when it is dropped (unlisted or ``drop``)."""
        rule = self.events.get(event_name)
        return rule if rule is not None and rule.action == "upsert_prospect" else None


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
            return (found[1], found[2]), False, found[3]
    return path, "[key]" in loc, None


def _errors(source: str, doc: Document, exc: ValidationError) -> list[str]:
    found: list[tuple[int, str]] = []
    for error in exc.errors(include_url=False):
        path, is_key, model_message = _located(error)
        raw = doc.sources.get((*path, "[key]") if is_key else path)
        shown = (*path[:-1], raw) if is_key and raw is not None else path
        field = ".".join(str(part) for part in shown) or "(preset)"
        message = model_message or _message(error, raw)
        line = doc.line_of(path)
        found.append((line, f"{source}:{line}: {field}: {message}"))
    return [text for _, text in sorted(set(found))]


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
