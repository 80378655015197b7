"""The pure pipeline's knobs: presets, phone region, how long message ids are remembered."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from leadgate.settings.checks import STRICT


class PipelineSettings(BaseModel):
    """The pure pipeline's knobs."""

    model_config = STRICT

    presets: tuple[Path, ...] = (Path("presets/outreach-lead-capture.yaml"),)
    default_phone_region: str | None = None
    dedupe_ttl_s: float = Field(
        default=24 * 3600.0,
        gt=0,
        description=(
            "how long the messageId of an event that changed a profile or made a lead is "
            "remembered, so a redelivery or replay within it is skipped (other events are "
            "not remembered: their repeat changes nothing)"
        ),
    )
    presets_poll_s: float = Field(default=1.0, gt=0)
