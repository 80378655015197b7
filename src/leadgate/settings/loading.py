"""Reading the settings once: unknown variables refused, errors described without their values."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ValidationError

from leadgate.errors import ConfigError
from leadgate.settings.model import ENV_PREFIX, Settings


def load_settings(**overrides: object) -> Settings:
    """Read the settings once; CLI flags come in as ``overrides``.

    A mistake raises ``ConfigError`` naming every wrong field and what is wrong with it, never
    the value given (it may be a secret); a ``LEADGATE_*`` variable that names no setting is a
    mistake too (a typo would otherwise be ignored and its default used without a word).
    """
    unknown = unknown_variables(os.environ)
    if unknown:
        raise ConfigError(
            "no such setting: " + ", ".join(unknown) + " (docs/operations.md lists every setting)"
        )
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from None


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """The ``LEADGATE_*`` variables that name no setting (``__`` separates the levels)."""
    unknown = []
    for name in sorted(environ):
        if not name.upper().startswith(ENV_PREFIX) or name.upper() == "LEADGATE_CONFIG":
            continue
        model: type[BaseModel] | None = Settings
        for part in name[len(ENV_PREFIX) :].lower().split("__"):
            if model is None:
                break  # below a value that is not a model (e.g. a JSON list): pydantic checks it
            field = model.model_fields.get(part)
            if field is None:
                unknown.append(name)
                break
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                model = annotation
            else:
                model = None
    return unknown


def describe_errors(exc: ValidationError) -> str:
    """One line per error: the dotted field and pydantic's message, without the input value."""
    return "\n".join(
        f"  {'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    )
