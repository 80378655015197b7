"""The production packaging holds together without Docker: docker-compose.yml and the Dockerfile
name real commands, real settings and the topics leadgate uses."""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from leadgate.cli import build_parser
from leadgate.kafka.broker import topics_of
from leadgate.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
LEADGATE_SERVICES = ("processor", "delivery", "http", "sandbox")
_INTERPOLATION = re.compile(r"^\$\{(?P<name>\w+)(?::-(?P<default>[^}]*))?\}$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The parsed docker-compose.yml (anchors and merge keys resolved)."""
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose["services"]
    return services


def _leadgate_env(compose: dict[str, Any]) -> dict[str, object]:
    """Every LEADGATE_* variable any service sets, with its value (None: passed through)."""
    names: dict[str, object] = {}
    for service in _services(compose).values():
        names.update(
            (k, v)
            for k, v in (service.get("environment") or {}).items()
            if k.startswith("LEADGATE_")
        )
    return names


def _field_path(env_name: str) -> list[str]:
    """Walk ``Settings`` along ``LEADGATE_A__B``; returns the path, failing on a dead name."""
    parts = env_name.removeprefix("LEADGATE_").lower().split("__")
    model: type[BaseModel] = Settings
    for depth, part in enumerate(parts):
        assert part in model.model_fields, (
            f"{env_name}: {part!r} is not a field of {model.__name__}"
        )
        annotation = model.model_fields[part].annotation
        if depth < len(parts) - 1:
            assert isinstance(annotation, type), env_name
            assert issubclass(annotation, BaseModel), env_name
            model = annotation
    return parts


def test_kafka_runs_in_kraft_mode(compose: dict[str, Any]) -> None:
    """The broker is Apache Kafka's image as a combined KRaft broker/controller, no ZooKeeper."""
    kafka = _services(compose)["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    listeners = {item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")}
    assert {"PLAINTEXT", "CONTROLLER"} <= listeners
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert "zookeeper" not in (ROOT / "docker-compose.yml").read_text().lower()


def test_topics_service_creates_every_leadgate_topic(compose: dict[str, Any]) -> None:
    """The one-shot topics service creates exactly the topics the default settings use, and the
    workers wait for it."""
    topics = _services(compose)["topics"]
    script = "\n".join(topics["command"])
    created = set(re.findall(r"^\s*create (\S+) \d+$", script, flags=re.MULTILINE))
    assert created == set(topics_of(Settings().kafka))
    assert "--if-not-exists" in script
    for name in ("processor", "delivery", "http"):
        depends = _services(compose)[name]["depends_on"]
        assert depends["topics"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", LEADGATE_SERVICES)
def test_leadgate_services_run_real_commands(compose: dict[str, Any], name: str) -> None:
    """Each leadgate service's command parses with leadgate's own CLI (roles included)."""
    service = _services(compose)[name]
    assert service["build"] == "."
    args = build_parser().parse_args(service["command"])
    assert args.command == service["command"][0]
    assert callable(args.handler)


def test_worker_roles_and_scaling(compose: dict[str, Any]) -> None:
    """Processor and delivery are split roles, and delivery can be scaled (no fixed name/port)."""
    services = _services(compose)
    assert services["processor"]["command"] == ["run", "--role", "processor"]
    assert services["delivery"]["command"] == ["run", "--role", "delivery"]
    for name in ("processor", "delivery"):
        assert "container_name" not in services[name]
        assert "ports" not in services[name]
    state = "leadgate-state:/var/lib/leadgate"
    assert state in services["processor"]["volumes"]
    assert state in services["delivery"]["volumes"]


def test_state_lives_in_a_persistent_redis(compose: dict[str, Any]) -> None:
    """Redis keeps its data on a volume (append-only file and snapshots), never evicts, answers a
    health check, and every leadgate worker and the HTTP service wait for it and use it."""
    services = _services(compose)
    redis = services["redis"]
    assert redis["image"].startswith("redis:")
    args = redis["command"]
    assert args[0] == "redis-server"
    options = dict(zip(args[1::2], args[2::2], strict=True))
    assert options["--appendonly"] == "yes"
    assert options["--maxmemory-policy"] == "noeviction"
    assert options["--save"]
    assert any(v.startswith("redis-data:/data") for v in redis["volumes"])
    assert "redis-data" in compose["volumes"]
    assert "ping" in redis["healthcheck"]["test"]
    for name in ("processor", "delivery", "http"):
        service = services[name]
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        url = _INTERPOLATION.match(service["environment"]["LEADGATE_STATE__URL"])
        assert url is not None
        assert url["default"] == "redis://redis:6379/0"


def test_sandbox_only_under_its_profile(compose: dict[str, Any]) -> None:
    """The Outreach sandbox starts only with ``--profile sandbox``; everything else always."""
    for name, service in _services(compose).items():
        assert service.get("profiles", []) == (["sandbox"] if name == "sandbox" else []), name


def test_every_leadgate_env_name_is_a_setting(compose: dict[str, Any]) -> None:
    """Every LEADGATE_* name in the compose file is a real settings field (a typo would be
    rejected at start-up in production)."""
    names = _leadgate_env(compose)
    assert "LEADGATE_KAFKA__BOOTSTRAP_SERVERS" in names
    for name in names:
        _field_path(name)


def test_compose_values_load_into_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The values the compose file sets (defaults of ``${VAR:-default}`` included) are valid."""
    for name in list(os.environ):
        if name.startswith("LEADGATE_"):
            monkeypatch.delenv(name)
    for name, value in _leadgate_env(compose).items():
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        match = _INTERPOLATION.match(text)
        if match:
            if match["default"] is None:
                continue
            text = match["default"]
        monkeypatch.setenv(name, text)
    settings = Settings()
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert settings.kafka.enable_idempotence is True
    assert settings.state_dir == Path("/var/lib/leadgate")
    assert settings.state.url is not None
    assert settings.state.url.get_secret_value() == "redis://redis:6379/0"
    assert settings.http_host == "0.0.0.0"


def test_dockerfile_runs_leadgate_unprivileged() -> None:
    """The image is python:3.11-slim, installs the package, drops root and runs ``leadgate``."""
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    froms = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert froms
    assert all(image == "python:3.11-slim" for image in froms)
    final = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM ")) :]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["leadgate"]' in final
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["leadgate"] == "leadgate.cli:main"
    env_lines = " ".join(line for line in final if line.startswith("ENV ") or "=" in line)
    for name in re.findall(r"(LEADGATE_\w+)=", env_lines):
        _field_path(name)
    default_cmd = next(line for line in final if line.startswith("CMD "))
    build_parser().parse_args(shlex.split(default_cmd[4:].strip("[]").replace(",", " ")))


@pytest.mark.parametrize("name", ["processor", "delivery"])
def test_workers_get_a_stop_grace_that_fits_a_bounded_stop(
    compose: dict[str, Any], name: str
) -> None:
    """Docker waits at least the worst stop (drain + one session timeout) before its SIGKILL."""
    grace = _services(compose)[name]["stop_grace_period"]
    match = re.fullmatch(r"(\d+)s", str(grace))
    assert match is not None, f"{name}: stop_grace_period {grace!r} is not in seconds"
    kafka = Settings().kafka
    worst_stop_s = kafka.drain_timeout_s + kafka.session_timeout_ms / 1000
    assert int(match.group(1)) >= worst_stop_s, (name, grace, worst_stop_s)
