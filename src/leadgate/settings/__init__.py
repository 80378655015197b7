"""leadgate's configuration: one frozen settings object, the only reader of the environment.

Sources, highest first: keyword arguments (the CLI's flags), environment variables
(``LEADGATE_`` prefix, ``__`` between levels, e.g. ``LEADGATE_OUTREACH__CLIENT_ID``), the YAML
file named by ``LEADGATE_CONFIG``, then the defaults (the embedded dev set-up).

Unknown keys are rejected (a typo must not silently fall back to a default), secrets are
``SecretStr`` (rendered ``**********``), and inconsistent values fail before anything starts.
Sub-settings are handed explicitly to the adapter that needs them (``settings.outreach`` to the
Outreach client, ``settings.kafka`` to the consumers), never read from a global.

One module per part: ``kafka``, ``outreach``, ``http`` (collector, inspector), ``pipeline``,
``privacy``, ``outcomes``, ``state``; ``model`` holds the whole ``Settings`` and its sources,
``loading`` reads it once (``load_settings``), ``checks`` holds what the models share. A new
field goes into its part's module; import every name from ``leadgate.settings``.
"""

from __future__ import annotations

from leadgate.settings.http import CollectorSettings, InspectorSettings, WriteKey
from leadgate.settings.kafka import KafkaSettings
from leadgate.settings.loading import describe_errors, load_settings, unknown_variables
from leadgate.settings.model import Settings
from leadgate.settings.outcomes import OutcomesSettings
from leadgate.settings.outreach import OutreachSettings
from leadgate.settings.pipeline import PipelineSettings
from leadgate.settings.privacy import PrivacySettings
from leadgate.settings.state import StateSettings

__all__ = [
    "CollectorSettings",
    "InspectorSettings",
    "KafkaSettings",
    "OutcomesSettings",
    "OutreachSettings",
    "PipelineSettings",
    "PrivacySettings",
    "Settings",
    "StateSettings",
    "WriteKey",
    "describe_errors",
    "load_settings",
    "unknown_variables",
]
