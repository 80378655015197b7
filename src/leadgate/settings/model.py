"""The whole settings object: its sub-settings, the cross-field checks, and where it reads from.

Sources, highest first: keyword arguments (the CLI's flags), environment variables
(``LEADGATE_`` prefix, ``__`` between levels), the YAML file named by ``LEADGATE_CONFIG``, then
the defaults (the embedded dev set-up).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from leadgate.settings.http import CollectorSettings, InspectorSettings
from leadgate.settings.kafka import KafkaSettings
from leadgate.settings.outcomes import OutcomesSettings
from leadgate.settings.outreach import OutreachSettings
from leadgate.settings.pipeline import PipelineSettings
from leadgate.settings.privacy import PrivacySettings
from leadgate.settings.state import StateSettings

ENV_PREFIX = "LEADGATE_"


class Settings(BaseSettings):
    """Everything leadgate reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        # A cross-field check's error must not print the whole input: it holds the secrets.
        hide_input_in_errors=True,
    )

    state_dir: Path = Path(".leadgate")
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8400, ge=0, le=65535)
    kafka: KafkaSettings = KafkaSettings()
    outreach: OutreachSettings = OutreachSettings()
    collector: CollectorSettings = CollectorSettings()
    inspector: InspectorSettings = InspectorSettings()
    pipeline: PipelineSettings = PipelineSettings()
    privacy: PrivacySettings = PrivacySettings()
    outcomes: OutcomesSettings = OutcomesSettings()
    state: StateSettings = StateSettings()

    @model_validator(mode="after")
    def _admin_token_is_its_own(self) -> Settings:
        token = self.privacy.admin_token
        if token is None:
            return self
        value = token.get_secret_value()
        if len(value) < 12:
            raise ValueError("privacy.admin_token must be at least 12 characters")
        if value in {key.key.get_secret_value() for key in self.collector.write_keys}:
            raise ValueError("privacy.admin_token must differ from every write key")
        inspector = self.inspector.token
        if inspector is not None and inspector.get_secret_value() == value:
            raise ValueError("privacy.admin_token must differ from the inspector token")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("LEADGATE_CONFIG")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        sources.append(file_secret_settings)
        return tuple(sources)
