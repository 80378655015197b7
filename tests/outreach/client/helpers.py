"""Builders shared by the sandbox-backed client tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from leadgate.domain.lead import AccountHint, LeadIntent
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.dispatch import Dispatcher
from leadgate.outreach.handlers import build_dispatcher
from leadgate.outreach.upsert import Upserter
from leadgate.settings import OutreachSettings
from leadgate.store.base import StateStore


def make_settings(url: str, **overrides: Any) -> OutreachSettings:
    """Client settings for a sandbox at ``url``: fast backoff, no early refresh."""
    values: dict[str, Any] = {
        "base_url": url,
        "refresh_early_s": 0,
        "backoff_base_s": 0.02,
        "backoff_cap_s": 0.5,
        "retry_after_cap_s": 5,
        "retry_window_s": 60,
        "total_timeout_s": 10,
    }
    values.update(overrides)
    return OutreachSettings(**values)


def make_lead(email: str = "ada@acme.example", **overrides: Any) -> LeadIntent:
    """A demo-request lead for ``email`` at Acme, with a company hint."""
    values: dict[str, Any] = {
        "email": email,
        "attributes": {
            "emails": [email],
            "firstName": "Ada",
            "lastName": "Lovelace",
            "title": "CTO",
            "company": "Acme",
        },
        "tags": ("Signal", "demo-request"),
        "account": AccountHint(domain=email.rpartition("@")[2], name="Acme"),
        "message_ids": ("m-1",),
        "event": "Demo Requested",
    }
    values.update(overrides)
    return LeadIntent(**values)


@asynccontextmanager
async def upserter_for(
    url: str, store: StateStore, **overrides: Any
) -> AsyncIterator[tuple[OutreachClient, Upserter]]:
    """A client and an upserter against the sandbox at ``url``."""
    settings = make_settings(url, **overrides)
    async with OutreachClient(settings, store) as client:
        yield client, Upserter(client, store, settings)


@asynccontextmanager
async def dispatcher_for(
    url: str, store: StateStore, **overrides: Any
) -> AsyncIterator[tuple[OutreachClient, Dispatcher]]:
    """A client and the production dispatcher against the sandbox at ``url``."""
    settings = make_settings(url, **overrides)
    async with OutreachClient(settings, store) as client:
        yield client, build_dispatcher(client, store, settings)
