"""Structured logs: one JSON line per outcome with Hull-style names, never PII or a secret."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator

import orjson
import pytest
import structlog

from leadgate.observability.logging import (
    configure_logging,
    get_logger,
    log_dropped,
    log_prospect_error,
    log_prospect_success,
    register_secret,
)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Logs configured as JSON into a buffer; the default configuration comes back afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    configure_logging(fmt="json", stream=buffer)
    yield buffer
    structlog.reset_defaults()
    root.handlers, root.level = saved


def _lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in buffer.getvalue().splitlines()]


def test_outcome_lines_use_hull_names_and_fixed_keys(log_lines: io.StringIO) -> None:
    """Each outcome helper writes one JSON line named like Hull's connector logs."""
    log = get_logger("test")
    log_dropped(log, message_id="m-1", event="Video Played", reason="unmapped_event", detail="x")
    log_prospect_success(
        log, message_ids=["m-2"], prospect_id=7, action="created", email="jane.doe@acme.com"
    )
    log_prospect_error(
        log, message_ids=["m-3"], reason="vendor_validation", status=422, retriable=False
    )
    lines = _lines(log_lines)
    assert [line["event"] for line in lines] == [
        "incoming.event.dropped",
        "outgoing.prospect.success",
        "outgoing.prospect.error",
    ]
    assert lines[0]["reason"] == "unmapped_event"
    assert lines[0]["message_id"] == "m-1"
    assert lines[1]["email"] == "j***@a***.com"
    assert lines[2]["status"] == 422
    assert lines[2]["level"] == "warning"


def test_pii_and_secrets_are_masked_in_any_key(log_lines: io.StringIO) -> None:
    """Emails, phones, bearer tokens and registered secrets (also base64) never reach a line."""
    register_secret("canary-access-token-42")
    basic = base64.b64encode(b"canary-access-token-42:").decode()
    log = get_logger("test")
    log.info(
        "anything",
        note="from jane.doe@acme.com, call +44 20 7946 0123",
        header="Bearer sometoken.abc",
        echoed=f"Basic {basic} / canary-access-token-42",
    )
    logging.getLogger("aiokafka").warning("failed for jane.doe@acme.com")
    text = log_lines.getvalue()
    for leak in (
        "jane.doe@acme.com",
        "7946 0123",
        "sometoken.abc",
        "canary-access-token-42",
        basic,
    ):
        assert leak not in text


def test_console_format_for_development() -> None:
    """The dev format is readable text, masked the same way."""
    buffer = io.StringIO()
    try:
        configure_logging(fmt="console", stream=buffer)
        get_logger("test").info("incoming.event.dropped", email="jane.doe@acme.com")
    finally:
        structlog.reset_defaults()
    assert "incoming.event.dropped" in buffer.getvalue()
    assert "j***@a***.com" in buffer.getvalue()


def test_routine_drops_log_at_debug(log_lines: io.StringIO) -> None:
    """A drop of an unmapped event is a debug line; other drops stay visible at info."""
    log = get_logger("test")
    log_dropped(log, message_id="m-1", event=None, reason="unmapped_event", detail="", routine=True)
    log_dropped(log, message_id="m-2", event="Demo", reason="no_consent", detail="y")
    assert [line["message_id"] for line in _lines(log_lines)] == ["m-2"]
