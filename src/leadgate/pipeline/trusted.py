"""Pydantic models built from values the pipeline made itself, without validating them again.

``model_construct`` is pydantic's way to skip validation, but it walks every field in Python
(~4 µs for a two-field model: more than a whole page view costs in ``process``). For a plain
model (no aliases, extras, private attributes or post-init hook) it only sets four attributes;
``trusted`` sets the same four. Callers pass every field, with values of the declared types.

This relies on pydantic's instance layout, so pyproject pins pydantic to the range that
``tests/pipeline/test_trusted.py`` checked (it compares every slot with ``model_construct``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__


def trusted(cls: type[M], values: dict[str, Any]) -> M:
    """An instance of ``cls`` holding ``values`` (every field of ``cls``), not validated."""
    model = cls.__new__(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(values))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model
