"""Test-suite wiring: each area's fixtures live in tests/plugins/<area>.py."""

from __future__ import annotations

import pytest

# The default per-test timeout (pyproject) is 60 s; a test marked slow may take this long.
SLOW_TIMEOUT_S = 420

pytest_plugins = [
    "tests.plugins.broker",
    "tests.plugins.streams",  # before the plugins that import it (assertion rewriting)
    "tests.plugins.collector",
    "tests.plugins.events",
    "tests.plugins.inspector",
    "tests.plugins.callbacks",
    "tests.plugins.redis",
    "tests.plugins.sandbox",
    "tests.plugins.dev",
    "tests.plugins.cli",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give tests marked slow the longer timeout, unless they set their own."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))
