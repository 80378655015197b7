"""Every settings error a user can make, set the way a user sets it (environment variables or
the LEADGATE_CONFIG YAML file), fails at start-up with a message naming the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadgate.errors import ConfigError
from leadgate.settings import load_settings

# (environment, the field the error names, words of the message)
BAD_ENVIRONMENTS = [
    (
        {"LEADGATE_KAFKA__DRAIN_TIMEOUT_S": "90", "LEADGATE_KAFKA__REBALANCE_TIMEOUT_MS": "60000"},
        "kafka",
        "drain_timeout_s must fit inside rebalance_timeout_ms",
    ),
    (
        {"LEADGATE_OUTREACH__RETRY_WINDOW_S": "10", "LEADGATE_OUTREACH__BACKOFF_CAP_S": "60"},
        "outreach",
        "retry_window_s must be at least backoff_cap_s",
    ),
    (
        {"LEADGATE_OUTREACH__BASE_URL": "https://api.outreach.io\r\nX-Injected: 1"},
        "outreach.base_url",
        "must not contain control characters",
    ),
    (
        {
            "LEADGATE_COLLECTOR__WRITE_KEYS": '[{"key": "a", "name": "web"},'
            ' {"key": "b", "name": "web"}]'
        },
        "collector",
        "write key names must be unique",
    ),
    (
        {
            "LEADGATE_COLLECTOR__WRITE_KEYS": '[{"key": "a", "name": "web"}]',
            "LEADGATE_COLLECTOR__DEMO_WRITE_KEY": "site",
        },
        "collector",
        "demo_write_key 'site' names no write key",
    ),
    (
        {"LEADGATE_OUTCOMES__CALLBACK_URL": "https://crm.example/hook"},
        "outcomes",
        "callback_url needs a callback_secret to sign with",
    ),
    (
        {"LEADGATE_STATE__URL": "http://redis.internal:6379/0"},
        "state.url",
        "must be a redis://, rediss:// or unix:// URL",
    ),
    ({"LEADGATE_HTTP_PORT": "70000"}, "http_port", "less than or equal to 65535"),
    ({"LEADGATE_KAFKA__PARTITIONS": "0"}, "kafka.partitions", "greater than or equal to 1"),
    ({"LEADGATE_LOG_LEVEL": "verbose"}, "log_level", "'debug', 'info', 'warning' or 'error'"),
]


@pytest.mark.parametrize(("environment", "field", "message"), BAD_ENVIRONMENTS)
def test_a_bad_environment_names_the_field_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], field: str, message: str
) -> None:
    """Start-up fails with one line that names the field and says what is wrong."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    [line] = str(caught.value).splitlines()
    assert line.strip().startswith(f"{field}: ")
    assert message in line


@pytest.mark.parametrize(
    "name", ["LEADGATE_OUTREACH__RETRY_WINDW_S", "LEADGATE_KAFKA__PARTITION", "LEADGATE_PORT"]
)
def test_a_misspelt_setting_is_refused_not_ignored(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A LEADGATE_ variable that names no setting stops start-up and is named (C2)."""
    monkeypatch.setenv(name, "3")
    with pytest.raises(ConfigError, match=f"no such setting: {name}"):
        load_settings()


def test_a_secret_in_a_bad_setting_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Redis URL with a password that fails validation does not print the password."""
    monkeypatch.setenv("LEADGATE_STATE__URL", "http://:hunter2-secret@redis.internal:6379/0")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "state.url" in str(caught.value)
    assert "hunter2-secret" not in str(caught.value)


def test_the_config_file_is_validated_like_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The same rules hold for LEADGATE_CONFIG's YAML file, and a good file is read."""
    config = tmp_path / "leadgate.yaml"
    config.write_text("outreach:\n  retry_window_s: 10\n  backoff_cap_s: 60\n")
    monkeypatch.setenv("LEADGATE_CONFIG", str(config))
    with pytest.raises(ConfigError, match="retry_window_s must be at least backoff_cap_s"):
        load_settings()
    config.write_text("http_port: 8500\nkafka:\n  partitions: 12\n")
    settings = load_settings()
    assert settings.http_port == 8500
    assert settings.kafka.partitions == 12
