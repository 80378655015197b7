"""Test-suite wiring: each area's fixtures live in tests/plugins/<area>.py."""

pytest_plugins = [
    "tests.plugins.broker",
    "tests.plugins.collector",
    "tests.plugins.events",
    "tests.plugins.inspector",
    "tests.plugins.callbacks",
    "tests.plugins.redis",
    "tests.plugins.sandbox",
    "tests.plugins.streams",
    "tests.plugins.dev",
]
