"""Conditions: declarative tests on fields of an event and of the remembered profile.

A condition (a preset rule's ``when``) maps dotted field paths to tests; it holds when every
test holds::

    when:
      properties.plan: {one_of: [enterprise, business]}
      traits.country: GB                      # shorthand for {equals: GB}
      context.page.path: {prefix: /pricing}
      properties.seats: {gte: 10, lt: 500}
      traits.title: {exists: true}

Tests: ``equals``, ``not_equals``, ``one_of``, ``not_one_of``, ``exists``, ``glob`` (``*`` any
run of characters, ``?`` one character), ``prefix``, and the numeric ``gt``, ``gte``, ``lt``,
``lte`` (a number, or text that reads as one). Several tests on one field must all hold.
Nothing is evaluated as code: a condition is data, checked by the preset schema, and the glob
matcher runs in linear time (no regular expressions built from preset text).

Public API (CRM reuses it for its record filters): ``Condition`` / ``FieldTest`` (pydantic
models for a schema), ``lookup(data, path)``, ``check(condition, data) -> Verdict`` and
``describe(condition)``. ``data`` maps each path's first segment to a mapping, e.g.
``{"properties": {...}, "traits": {...}, "context": {...}}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from leadgate.observability.masking import mask_text


def _one_scalar(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """One readable error instead of one per member of the union."""
    if not isinstance(value, (str, int, float, bool)):
        # pydantic turns a ValueError (not a TypeError) into a located validation error
        raise ValueError("expected text, a number or true/false")  # noqa: TRY004
    try:
        return handler(value)
    except ValidationError as exc:
        raise ValueError(str(exc.errors()[0]["msg"])) from None


Scalar = Annotated[
    Annotated[str, StringConstraints(strict=True, max_length=500)] | int | float | bool,
    WrapValidator(_one_scalar),
]
_MISSING = object()
_SHOWN_CHARS = 40


def _path(value: str) -> str:
    parts = value.split(".")
    if len(parts) < 2 or any(not part or part != part.strip() for part in parts):
        raise ValueError(
            f"{value!r} is not a field path such as properties.plan (dot-separated, no empty "
            "or padded segments)"
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("must not contain control characters")
    return value


FieldPath = Annotated[
    str, StringConstraints(strict=True, min_length=3, max_length=200), AfterValidator(_path)
]


class FieldTest(BaseModel):
    """The tests one field must pass (at least one; all must hold)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    equals: Scalar | None = Field(default=None, description="the value equals this")
    not_equals: Scalar | None = Field(default=None, description="the value is not this")
    one_of: tuple[Scalar, ...] | None = Field(default=None, description="the value is one of these")
    not_one_of: tuple[Scalar, ...] | None = Field(
        default=None, description="the value is none of these (a missing field passes)"
    )
    exists: bool | None = Field(
        default=None, description="true: the field has a non-empty value; false: it has none"
    )
    glob: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200)] | None = (
        Field(default=None, description="text matching a pattern: * any run, ? one character")
    )
    prefix: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200)] | None = (
        Field(default=None, description="text starting with this")
    )
    gt: float | None = Field(default=None, description="a number greater than this")
    gte: float | None = Field(default=None, description="a number at least this")
    lt: float | None = Field(default=None, description="a number less than this")
    lte: float | None = Field(default=None, description="a number at most this")

    @model_validator(mode="after")
    def _some_test(self) -> FieldTest:
        if not self.model_fields_set:
            raise ValueError("a field test needs at least one of: " + ", ".join(_ORDER))
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name}: must not be empty")
        return self


_ORDER = (
    "exists", "equals", "not_equals", "one_of", "not_one_of", "prefix", "glob",
    "gt", "gte", "lt", "lte",
)  # fmt: skip


def _shorthand(value: object) -> object:
    """``field: value`` means ``field: {equals: value}``; a list means ``{one_of: [...]}``."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {"one_of": value}
    return {"equals": value}


Test = Annotated[
    FieldTest,
    BeforeValidator(_shorthand, json_schema_input_type=FieldTest | Scalar | list[Scalar]),
]
Condition = Annotated[dict[FieldPath, Test], Field(min_length=1)]


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a condition holds and, when it does not, the test that failed (PII masked)."""

    holds: bool
    failed: str = ""


HOLDS = Verdict(True)


def lookup(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (``_MISSING`` sentinel is hidden: returns None when absent)."""
    value = _lookup(data, path)
    return None if value is _MISSING else value


def _lookup(data: Mapping[str, Any], path: str) -> Any:
    current: Any = data
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part, _MISSING)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
        if current is _MISSING:
            return _MISSING
    return current


def _present(value: Any) -> bool:
    return (
        value is not _MISSING
        and value is not None
        and value != ""
        and value != []
        and (value != {})
    )


def _same(value: Any, wanted: Any) -> bool:
    """Equality that keeps booleans apart from numbers and compares 10 with 10.0."""
    if isinstance(wanted, bool) or isinstance(value, bool):
        return type(value) is type(wanted) and value == wanted
    if isinstance(wanted, (int, float)) and isinstance(value, (int, float)):
        return bool(value == wanted)
    return type(value) is type(wanted) and value == wanted


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and len(value) <= 40:
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def glob_match(pattern: str, text: str) -> bool:
    """``*`` matches any run (also empty), ``?`` one character; linear time, no regex."""
    p = t = 0
    star = -1
    mark = 0
    while t < len(text):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == text[t]):
            p += 1
            t += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, mark = p, t
            p += 1
        elif star != -1:
            p = star + 1
            mark += 1
            t = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def _shown(value: Any) -> str:
    """A value as a trace may show it: masked (emails, phones) and cut short."""
    if value is _MISSING or value is None:
        return "missing"
    if isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    text = mask_text(value if isinstance(value, str) else repr(value))
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 1] + "…"
    return repr(text) if isinstance(value, str) else text


def _list(values: tuple[Any, ...]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


def _fails(test: FieldTest, value: Any) -> str | None:
    """What the value fails, or None when every test of ``test`` holds."""
    present = _present(value)
    if test.exists is not None and present != test.exists:
        return "is missing" if test.exists else f"is {_shown(value)}, expected no value"
    if test.equals is not None and not _same(value, test.equals):
        return f"is {_shown(value)}, not {test.equals}"
    if test.not_equals is not None and _same(value, test.not_equals):
        return f"is {test.not_equals}"
    if test.one_of is not None and not any(_same(value, w) for w in test.one_of):
        return f"is {_shown(value)}, not one of {_list(test.one_of)}"
    if test.not_one_of is not None and any(_same(value, w) for w in test.not_one_of):
        return f"is {_shown(value)}, one of {_list(test.not_one_of)}"
    if test.prefix is not None and not (isinstance(value, str) and value.startswith(test.prefix)):
        return f"is {_shown(value)}, not starting with {test.prefix!r}"
    if test.glob is not None and not (isinstance(value, str) and glob_match(test.glob, value)):
        return f"is {_shown(value)}, not matching {test.glob!r}"
    bounds = ((test.gt, ">"), (test.gte, ">="), (test.lt, "<"), (test.lte, "<="))
    if any(bound is not None for bound, _ in bounds):
        number = _number(value)
        if number is None:
            return f"is {_shown(value)}, not a number"
        for bound, op in bounds:
            if bound is not None and not _compare(number, op, bound):
                return f"is {_number_text(number)}, not {op} {_number_text(bound)}"
    return None


def _compare(number: float, op: str, bound: float) -> bool:
    if op == ">":
        return number > bound
    if op == ">=":
        return number >= bound
    if op == "<":
        return number < bound
    return number <= bound


def _number_text(number: float) -> str:
    return str(int(number)) if number.is_integer() else str(number)


def check(condition: Mapping[str, FieldTest], data: Mapping[str, Any]) -> Verdict:
    """Whether every field test holds on ``data``; the first failure says which and why."""
    for path, test in condition.items():
        failure = _fails(test, _lookup(data, path))
        if failure is not None:
            return Verdict(False, f"{path} {failure}")
    return HOLDS


def describe_test(path: str, test: FieldTest) -> str:
    """``properties.plan one of [enterprise, business]``."""
    parts: list[str] = []
    for name in _ORDER:
        if name not in test.model_fields_set:
            continue
        wanted = getattr(test, name)
        if name == "exists":
            parts.append("exists" if wanted else "is empty")
        elif name in ("one_of", "not_one_of"):
            parts.append(f"{name.replace('_', ' ')} {_list(wanted)}")
        elif name in ("gt", "gte", "lt", "lte"):
            op = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[name]
            parts.append(f"{op} {_number_text(wanted)}")
        elif name == "not_equals":
            parts.append(f"!= {wanted}")
        elif name == "equals":
            parts.append(f"= {wanted}")
        else:
            parts.append(f"{name} {wanted!r}")
    return f"{path} {' and '.join(parts)}"


def describe(condition: Mapping[str, FieldTest]) -> str:
    """The whole condition as one line: ``a = x, b one of [y, z]``."""
    return ", ".join(describe_test(path, test) for path, test in condition.items())
