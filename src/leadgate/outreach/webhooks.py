"""leadgate's webhook registration in Outreach (``/api/v2/webhooks``,
docs/outreach-api.md#webhooks).

leadgate owns exactly one webhook: the one whose ``url`` is ``outreach.webhook_url``. ``ensure``
reuses it (re-activating it, or setting the secret, resource ``*`` and action ``*`` when they
drifted; any PATCH also clears Outreach's ``disabled*`` fields) or creates it; ``remove`` deletes
only it. Other webhooks of the org are never touched. The secret registered is the first of
``outreach.webhook_secrets`` (during a rotation: put the new one first, ``ensure``, then drop the
old one once Outreach signs with the new).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from leadgate.domain.reasons import RetryReason
from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import ConfigError, RetriableError
from leadgate.outreach.classify import Verdict
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.jsonapi import attributes, collect, resource_id

WEBHOOKS = "/api/v2/webhooks"
WANTED = {"resource": "*", "action": "*", "active": True}


@dataclass(frozen=True, slots=True)
class Registration:
    """What ``ensure`` found or did."""

    action: Literal["created", "repaired", "unchanged"]
    webhook_id: int
    url: str


def _target(client: OutreachClient) -> tuple[str, str]:
    settings = client.settings
    if not settings.webhook_url:
        raise ConfigError(
            "set LEADGATE_OUTREACH__WEBHOOK_URL to the public URL of /outreach/webhooks"
        )
    if not settings.webhook_secrets:
        raise ConfigError("set LEADGATE_OUTREACH__WEBHOOK_SECRETS (Outreach signs with the first)")
    return settings.webhook_url, settings.webhook_secrets[0].get_secret_value()


async def list_webhooks(
    client: OutreachClient, exchanges: ExchangeRecorder | None = None
) -> list[dict[str, Any]]:
    """Every webhook of the org (resource objects)."""
    params = {"page[size]": "100", "count": "false"}
    return await collect(
        client,
        WEBHOOKS,
        params,
        exchanges if exchanges is not None else ExchangeRecorder(),
        max_pages=50,
    )


def ours(hooks: list[dict[str, Any]], url: str) -> list[dict[str, Any]]:
    """The webhooks pointing at ``url`` (leadgate's), oldest first."""
    mine = [h for h in hooks if attributes(h).get("url") == url and resource_id(h) is not None]
    return sorted(mine, key=lambda h: resource_id(h) or 0)


async def ensure(client: OutreachClient, exchanges: ExchangeRecorder | None = None) -> Registration:
    """Make sure Outreach delivers every change to leadgate's URL, signed with our secret."""
    trace = exchanges if exchanges is not None else ExchangeRecorder()
    url, secret = _target(client)
    found = ours(await list_webhooks(client, trace), url)
    if found:
        hook = found[0]
        hook_id = resource_id(hook)
        assert hook_id is not None
        current = attributes(hook)
        drift = {k: v for k, v in WANTED.items() if current.get(k) != v}
        if current.get("secret") != secret:
            drift["secret"] = secret
        if not drift and not current.get("disabledReason"):
            return Registration("unchanged", hook_id, url)
        document = {
            "data": {"type": "webhook", "id": hook_id, "attributes": {**drift, "active": True}}
        }
        response = await client.request("PATCH", f"{WEBHOOKS}/{hook_id}", trace, document=document)
        _expect(response.verdict, response.status, "PATCH")
        return Registration("repaired", hook_id, url)
    document = {"data": {"type": "webhook", "attributes": {"url": url, "secret": secret, **WANTED}}}
    response = await client.request("POST", WEBHOOKS, trace, document=document)
    _expect(response.verdict, response.status, "POST")
    hook_id = resource_id(response.data)
    if hook_id is None:
        raise RetriableError(
            "Outreach created no readable webhook", reason=RetryReason.VENDOR_AMBIGUOUS
        )
    return Registration("created", hook_id, url)


async def remove(client: OutreachClient, exchanges: ExchangeRecorder | None = None) -> list[int]:
    """Delete leadgate's webhook(s) (those with our URL); the ids removed."""
    trace = exchanges if exchanges is not None else ExchangeRecorder()
    url = client.settings.webhook_url
    if not url:
        raise ConfigError(
            "set LEADGATE_OUTREACH__WEBHOOK_URL: only the webhook with that URL is removed"
        )
    removed: list[int] = []
    for hook in ours(await list_webhooks(client, trace), url):
        hook_id = resource_id(hook)
        assert hook_id is not None
        response = await client.request("DELETE", f"{WEBHOOKS}/{hook_id}", trace)
        if response.verdict is not Verdict.NOT_FOUND:
            _expect(response.verdict, response.status, "DELETE")
        removed.append(hook_id)
    return removed


def _expect(verdict: Verdict, status: int, method: str) -> None:
    if verdict is not Verdict.OK:
        raise RetriableError(
            f"{method} {WEBHOOKS}: Outreach answered {status}",
            reason=RetryReason.VENDOR_AMBIGUOUS,
            status=status,
        )
