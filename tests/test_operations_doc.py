"""docs/operations.md tells operators the truth about configuration: its reference table is the
settings model, and every variable it mentions exists."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

from pydantic import BaseModel

from leadgate.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "operations.md"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "settings_reference", ROOT / "scripts" / "settings_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _setting_names(model: type[BaseModel] = Settings, prefix: str = "LEADGATE_") -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _setting_names(annotation, f"{prefix}{name.upper()}__")
        else:
            names.add(prefix + name.upper())
    return names


def test_reference_table_matches_the_settings_model() -> None:
    """The configuration reference is what the generator makes of today's Settings (run
    ``.venv/bin/python scripts/settings_reference.py --write`` after changing a setting)."""
    generator = _generator()
    text = DOC.read_text()
    assert generator.refresh(text) == text


def test_every_setting_is_documented_with_a_meaning() -> None:
    """Each environment variable has a row, and the row says what it does."""
    rows = _generator().render().splitlines()
    for name in _setting_names():
        (row,) = [r for r in rows if r.startswith(f"| `{name}` |")]
        assert row.rstrip(" |").split("|")[-1].strip(), f"{name} has no meaning in the reference"


def test_every_variable_the_doc_mentions_exists() -> None:
    """The prose names no LEADGATE_* variable that leadgate would reject as unknown."""
    words = set(re.findall(r"LEADGATE_[A-Z0-9_]+", DOC.read_text()))
    mentioned = {
        word for word in words if not word.endswith("_")
    }  # LEADGATE_OUTREACH__* is a family
    compose_only = {"LEADGATE_HTTP_PUBLISH", "LEADGATE_SANDBOX_PUBLISH"}
    assert mentioned - compose_only <= _setting_names() | {"LEADGATE_CONFIG"}
