"""Pydantic models built from values the pipeline made itself, without validating them again.

``model_construct`` is pydantic's way to skip validation, but it walks every field in Python
(~4 µs for a two-field model: more than a whole page view costs in ``process``). For a plain
model (no aliases, extras, private attributes or post-init hook) it only sets four attributes;
``trusted`` sets the same four. Callers pass every field, with values of the declared types.

The set of fields a frozen model was built with is then every field of its class, and nothing
may change it in place (pydantic adds to it only when a field is assigned, which a frozen model
refuses, and ``model_copy`` copies it before adding): one set per class is shared by all such
instances instead of a new one each: a lead intent's eighteen names need a 1 KiB hash table,
too big for Python's small-object allocator, so each new set cost a ``malloc`` and cold cache
lines (bench P1 loop, cachegrind: 988 → 964 first-level data misses per event).

This relies on pydantic's instance layout, so pyproject pins pydantic to the range that
``tests/pipeline/test_trusted.py`` checked (it compares every slot with ``model_construct``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__
# Per model class: the one set of its field names its trusted instances share, or None when the
# class is not frozen (assigning a field adds to the instance's own set in place).
_shared_fields: dict[type[BaseModel], set[str] | None] = {}


def _fields_to_share(cls: type[BaseModel]) -> set[str] | None:
    return set(cls.model_fields) if cls.model_config.get("frozen") else None


def trusted(cls: type[M], values: dict[str, Any]) -> M:
    """An instance of ``cls`` holding ``values`` (every field of ``cls``), not validated."""
    model = cls.__new__(cls)
    _set(model, "__dict__", values)
    try:
        shared = _shared_fields[cls]
    except KeyError:
        shared = _shared_fields[cls] = _fields_to_share(cls)
    every_field = shared is not None and len(shared) == len(values)
    _set(model, "__pydantic_fields_set__", shared if every_field else set(values))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model
