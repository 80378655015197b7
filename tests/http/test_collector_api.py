"""The collector's Tracking API: endpoints, write keys, records produced to Kafka."""

from __future__ import annotations

import uuid

import aiohttp
import pytest

from tests.plugins.collector import OTHER_KEY, WRITE_KEY, CollectorHandle, basic

IDENTIFY = {
    "userId": "user-123",
    "traits": {
        "email": "jane.doe@acme.com",
        "firstName": "Jane",
        "lastName": "Doe",
        "company": "Acme Inc",
        "title": "Head of Growth",
        "phone": "+44 7700 900123",
    },
    "context": {"consent": {"categories": {"marketing": True}}},
}


async def test_identify_with_basic_auth_is_acked_and_produced(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """A Segment-style identify (key as Basic username) gets 200 and lands in Kafka, keyed by
    userId, with a server receivedAt, a generated messageId and the source's name."""
    async with http.post(
        f"{collector.url}/v1/identify", json=IDENTIFY, headers=basic(WRITE_KEY)
    ) as r:
        assert r.status == 200
        assert await r.json() == {"success": True}
        message_id = r.headers["X-Leadgate-Message-Id"]
    [record] = await collector.records()
    assert record.key == "user-123"
    value = record.value
    assert value["type"] == "identify"
    assert value["messageId"] == message_id
    assert uuid.UUID(message_id).version == 4
    assert value["receivedAt"].endswith("Z")
    assert value["context"]["leadgate"] == {"source": "web"}
    assert value["context"]["consent"] == {"categories": {"marketing": True}}
    assert value["traits"]["email"] == "jane.doe@acme.com"
    assert WRITE_KEY not in str(value)


async def test_bearer_and_body_write_keys_are_accepted(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """The write key also works as a Bearer token and as a writeKey body field (which is then
    not stored in the record)."""
    track = {"anonymousId": "anon-1", "event": "Signed Up", "messageId": "m-bearer"}
    headers = {"Authorization": f"Bearer {OTHER_KEY}"}
    async with http.post(f"{collector.url}/v1/track", json=track, headers=headers) as r:
        assert r.status == 200
    body = {**track, "messageId": "m-body", "writeKey": WRITE_KEY}
    async with http.post(f"{collector.url}/v1/track", json=body) as r:
        assert r.status == 200
    records = {rec.value["messageId"]: rec for rec in await collector.records()}
    assert records["m-bearer"].value["context"]["leadgate"]["source"] == "other"
    assert records["m-body"].value["context"]["leadgate"]["source"] == "web"
    assert "writeKey" not in records["m-body"].value
    assert records["m-body"].key == "anon-1"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/v1/identify", "identify"),
        ("/v1/track", "track"),
        ("/v1/page", "page"),
        ("/v1/i", "identify"),
        ("/v1/t", "track"),
        ("/v1/p", "page"),
    ],
)
async def test_endpoints_and_aliases_set_the_event_type(
    collector: CollectorHandle, http: aiohttp.ClientSession, path: str, kind: str
) -> None:
    """Each endpoint (and its Datafly-style alias) produces an event of its own type, whatever
    type the body claims."""
    event = {"anonymousId": "a-1", "event": "Lead Submitted", "type": "alias", "messageId": path}
    async with http.post(f"{collector.url}{path}", json=event, headers=basic(WRITE_KEY)) as r:
        assert r.status == 200, await r.text()
    [record] = await collector.records()
    assert record.value["type"] == kind


async def test_key_is_anonymous_id_before_user_id(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """The partition key is the anonymousId when there is one, else the userId."""
    both = {"anonymousId": "anon-9", "userId": "user-9", "event": "X", "messageId": "both"}
    async with http.post(f"{collector.url}/v1/track", json=both, headers=basic(WRITE_KEY)) as r:
        assert r.status == 200
    [record] = await collector.records()
    assert record.key == "anon-9"


async def test_batch_produces_every_event(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """A batch of mixed types is acknowledged once all its events are in Kafka."""
    batch = [
        {"type": "identify", "userId": "u1", "traits": {"email": "a@b.co"}, "messageId": "b1"},
        {"type": "track", "userId": "u1", "event": "Demo Requested", "messageId": "b2"},
        {"type": "page", "anonymousId": "x", "name": "Home", "messageId": "b3"},
    ]
    async with http.post(
        f"{collector.url}/v1/batch", json={"batch": batch}, headers=basic(WRITE_KEY)
    ) as r:
        assert r.status == 200
        assert await r.json() == {"success": True, "accepted": 3}
    assert sorted(rec.value["messageId"] for rec in await collector.records()) == ["b1", "b2", "b3"]


async def test_health_and_readiness(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """/healthz answers, and /readyz says ready while the broker is reachable."""
    async with http.get(f"{collector.url}/healthz") as r:
        assert r.status == 200
    async with http.get(f"{collector.url}/readyz") as r:
        assert r.status == 200
        assert (await r.json())["status"] == "ready"
