"""Structured logs: JSON lines in production, a readable console in development.

One line per outcome, with fixed keys and the Hull connector's event names, so that the
questions of its troubleshooting table ("check the logs for outgoing.user.error") have an answer
here too:

==========================  =====================================================
``incoming.event.dropped``  the processor dropped an event (``reason`` says why)
``outgoing.prospect.success``  a prospect was created or updated (``action``)
``outgoing.prospect.error``    a delivery failed (``reason``, ``status``, ``retriable``)
==========================  =====================================================

Every value passes through the masking processor before it is rendered: emails, phone numbers,
bearer tokens and the known secret values (write keys, client secret, tokens registered with
``register_secret``) never reach a log line, whatever key they hide under.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import orjson
import structlog

from leadgate.domain.cache import BoundedCache
from leadgate.observability.masking import HIDDEN, mask_value, secret_forms
from leadgate.settings import Settings

INCOMING_EVENT_DROPPED = "incoming.event.dropped"
OUTGOING_PROSPECT_SUCCESS = "outgoing.prospect.success"
OUTGOING_PROSPECT_ERROR = "outgoing.prospect.error"

_secrets: set[str] = set()


def register_secret(*values: str | None) -> None:
    """Remember secret values (e.g. a freshly minted access token) so no log line shows them."""
    global _secret_forms
    fresh = {value for value in values if value and len(value) >= 4} - _secrets
    if not fresh:
        return
    _secrets.update(fresh)
    forms = {form for secret in _secrets for form in secret_forms(secret)}
    _secret_forms = tuple(sorted(forms, key=len, reverse=True))
    _masked.clear()
    _plain_keys.clear()


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


# Masking a line's values runs a dozen regexes per value, which cost more than the rest of the
# processor's work per event (bench P2). The values of most keys recur from line to line (event
# names, reasons, details, module names), so their masked form is kept (bounded; forgotten when
# a secret is registered); UUIDs and ISO timestamps (messageIds, structlog's own stamp) cannot
# hold an email, a phone number or a token, so under a key that does not change them they only
# lose known secret values.
_MASKED_MAX = 4096
_masked: BoundedCache[tuple[str, type, object], tuple[str, object]] = BoundedCache(_MASKED_MAX)
_plain_keys: BoundedCache[str, tuple[str, bool]] = BoundedCache(_MASKED_MAX)
_secret_forms: tuple[str, ...] = ()
_CACHED_MAX_CHARS = 256
_CACHEABLE = frozenset({str, int, bool, type(None)})
_OPAQUE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)"
)
_OPAQUE_PROBES = ("8e621b33-fa04-449d-a2a2-d42330a1b7c5", "2024-01-31T23:59:59.123456Z")


def _mask_item(key: str, value: object) -> tuple[str, object]:
    """One key and value as ``mask_value`` masks them inside a mapping."""
    ((name, masked),) = mask_value({key: value}, secrets=_secrets).items()
    return name, masked


def _scrub(text: str) -> str:
    for form in _secret_forms:  # longest first, like masking.scrub_secrets
        if form in text:
            text = text.replace(form, HIDDEN)
    return text


def _masked_pair(key: str, value: object) -> tuple[str, object]:
    kind = value.__class__
    if kind not in _CACHEABLE:
        return _mask_item(key, value)
    cache_key = (key, kind, value)
    pair = _masked.get(cache_key)
    if pair is not None:
        return pair
    if isinstance(value, str):
        if len(value) > _CACHED_MAX_CHARS:
            return _mask_item(key, value)
        if _OPAQUE.fullmatch(value):  # unique per line: not worth a cache entry
            plain = _plain_keys.get(key)
            if plain is None:
                name = _mask_item(key, "")[0]
                unchanged = all(_mask_item(key, p)[1] == p for p in _OPAQUE_PROBES)
                plain = _plain_keys.put(key, (name, unchanged))
            if plain[1]:
                return plain[0], _scrub(value)
    return _masked.put(cache_key, _mask_item(key, value))


def _json_line(event_dict: Any, **_: Any) -> str:
    """A log line's JSON (orjson: a few times cheaper than the stdlib's, per line)."""
    return orjson.dumps(event_dict, default=repr).decode()


def mask_event_dict(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask PII and hide secrets in every value (and in the event name)."""
    masked = dict(_masked_pair(key, value) for key, value in event_dict.items())
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
        structlog.processors.JSONRenderer(serializer=_json_line)
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
    log: Any,
    *,
    message_id: str | None,
    event: str | None,
    reason: str,
    detail: str | None,
    routine: bool = False,
) -> None:
    """The processor's outcome line for a dropped event; a ``routine`` drop (an event the preset
    does not map: most of a site's traffic) is logged at debug, the rest at info."""
    (log.debug if routine else log.info)(
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
