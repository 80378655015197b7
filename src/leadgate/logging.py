"""Structured logs: JSON lines in production, a readable console in development.

One line per outcome, with fixed keys and the Hull connector's event names, so that the
questions of its troubleshooting table ("check the logs for outgoing.user.error") have an answer
here too:

==========================  =====================================================
``incoming.event.dropped``  the processor dropped an event (``reason`` says why)
``outgoing.prospect.success``  a prospect was created or updated (``action``)
``outgoing.prospect.error``    a delivery failed (``reason``, ``status``, ``retriable``)
``outgoing.account.success``   an account was found or created and linked
==========================  =====================================================

Every value passes through the masking processor before it is rendered: emails, phone numbers,
bearer tokens and the known secret values (write keys, client secret, tokens registered with
``register_secret``) never reach a log line, whatever key they hide under.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

from leadgate.pipeline.masking import mask_value
from leadgate.settings import Settings

INCOMING_EVENT_DROPPED = "incoming.event.dropped"
OUTGOING_PROSPECT_SUCCESS = "outgoing.prospect.success"
OUTGOING_PROSPECT_ERROR = "outgoing.prospect.error"
OUTGOING_ACCOUNT_SUCCESS = "outgoing.account.success"

_secrets: set[str] = set()


def register_secret(*values: str | None) -> None:
    """Remember secret values (e.g. a freshly minted access token) so no log line shows them."""
    _secrets.update(value for value in values if value and len(value) >= 4)


def known_secrets() -> tuple[str, ...]:
    """Every secret value registered so far."""
    return tuple(_secrets)


def settings_secrets(settings: Settings) -> tuple[str, ...]:
    """The secret values a settings object holds (write keys, OAuth secrets, inspector token)."""
    values = [key.key.get_secret_value() for key in settings.collector.write_keys]
    values.append(settings.outreach.client_secret.get_secret_value())
    if settings.outreach.refresh_token is not None:
        values.append(settings.outreach.refresh_token.get_secret_value())
    if settings.inspector.token is not None:
        values.append(settings.inspector.token.get_secret_value())
    return tuple(value for value in values if value)


def mask_event_dict(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask PII and hide secrets in every value (and in the event name)."""
    masked = mask_value(dict(event_dict), secrets=_secrets)
    event_dict.clear()
    event_dict.update(masked)
    return event_dict


def configure_logging(
    settings: Settings | None = None,
    *,
    fmt: str | None = None,
    level: str | None = None,
    stream: TextIO | None = None,
    extra_secrets: Iterable[str] = (),
) -> None:
    """Configure structlog (and route stdlib logging through the same masking)."""
    if settings is not None:
        register_secret(*settings_secrets(settings))
    register_secret(*extra_secrets)
    fmt = fmt or (settings.log_format if settings is not None else "json")
    level_name = (level or (settings.log_level if settings is not None else "info")).upper()
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    out = stream if stream is not None else sys.stderr
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_event_dict,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level_name]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(_MaskingFormatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(max(logging.getLevelNamesMapping()[level_name], logging.INFO))
    # aiokafka narrates every group join and assignment at INFO: noise in an operator's log
    # (leadgate logs its own assignments and lag). Its warnings and errors still show.
    if level_name != "DEBUG":
        logging.getLogger("aiokafka").setLevel(logging.WARNING)


class _MaskingFormatter(logging.Formatter):
    """Third-party (aiokafka, aiohttp) log lines get the same masking as ours."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        masked: str = mask_value(text, secrets=_secrets)
        return masked


def get_logger(name: str | None = None) -> Any:
    """A structlog logger; ``name`` becomes the ``module`` key."""
    return structlog.get_logger(module=name) if name else structlog.get_logger()


def log_dropped(
    log: Any, *, message_id: str | None, event: str | None, reason: str, detail: str | None
) -> None:
    """The processor's outcome line for a dropped event."""
    log.info(
        INCOMING_EVENT_DROPPED,
        message_id=message_id,
        event_name=event,
        reason=reason,
        detail=detail,
    )


def log_prospect_success(
    log: Any, *, message_ids: Iterable[str], prospect_id: int | None, action: str, email: str
) -> None:
    """The delivery worker's outcome line for a created/updated/unchanged prospect."""
    log.info(
        OUTGOING_PROSPECT_SUCCESS,
        message_ids=list(message_ids),
        prospect_id=prospect_id,
        action=action,
        email=email,
    )


def log_prospect_error(
    log: Any,
    *,
    message_ids: Iterable[str],
    reason: str,
    status: int | None,
    retriable: bool,
    detail: str | None = None,
) -> None:
    """The delivery worker's outcome line for a failed attempt or a dead letter."""
    log.warning(
        OUTGOING_PROSPECT_ERROR,
        message_ids=list(message_ids),
        reason=reason,
        status=status,
        retriable=retriable,
        detail=detail,
    )


def log_account_success(log: Any, *, account_id: int, domain: str, action: str) -> None:
    """The delivery worker's line for an account found or created and linked."""
    log.info(OUTGOING_ACCOUNT_SUCCESS, account_id=account_id, domain=domain, action=action)
