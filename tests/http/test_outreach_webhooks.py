"""POST /outreach/webhooks against the real broker: only authentic, fresh, first-time deliveries
reach leadgate.inbound.outreach, 200 only after the broker's ack (docs/reliability.md W1-W12,
P27-P30)."""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest_asyncio
from aiohttp import web

from leadgate.http.app import build_http_app
from leadgate.kafka.broker import EmbeddedBroker, ensure_topics
from leadgate.settings import KafkaSettings, OutreachSettings, Settings
from leadgate.store.memory import MemoryStore
from tests.plugins.collector import default_write_keys, kafka_producer, topic_records

OLD = "old-secret-0123456789abcdef"
NEW = "new-secret-0123456789abcdef"
# Outreach abandons a webhook delivery that gets no answer within 5 s (docs/outreach-api.md,
# Webhooks).
OUTREACH_WEBHOOK_TIMEOUT_S = 5.0
UNAUTHORIZED = {"error": "unauthorized"}


def delivery(prospect_id: int = 7, *, at: float | None = None, **attributes: Any) -> bytes:
    """A prospect.updated delivery body, as Outreach serialises it."""
    stamp = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    body = {
        "data": {
            "type": "prospect",
            "id": prospect_id,
            "attributes": {"title": "VP Growth", **attributes},
            "relationships": {"owner": {"type": "owner", "id": 2}},
        },
        "meta": {
            "deliveredAt": stamp.isoformat(timespec="milliseconds"),
            "eventName": "prospect.updated",
        },
    }
    return orjson.dumps(body)


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Endpoint:
    """A running HTTP service with webhooks on; ``post`` sends one delivery."""

    def __init__(self, url: str, settings: Settings, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.settings = settings
        self.session = session

    async def post(
        self,
        body: bytes,
        *,
        secret: str | None = NEW,
        signature: str | None = None,
        event_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        sent = {"Content-Type": "application/vnd.api+json", **(headers or {})}
        if signature is None and secret is not None:
            signature = sign(secret, body)
        if signature is not None:
            sent["Outreach-Webhook-Signature"] = signature
        if event_id is not None:
            sent["Outreach-Webhook-Event-Id"] = event_id
        async with self.session.post(f"{self.url}/outreach/webhooks", data=body, headers=sent) as r:
            return r.status, await r.json(content_type=None)

    async def records(self) -> list[Any]:
        kafka = self.settings.kafka
        return await topic_records(kafka, kafka.inbound_topic)


MakeEndpoint = Callable[..., Awaitable[Endpoint]]


@pytest_asyncio.fixture
async def make_endpoint(
    kafka_settings: KafkaSettings,
) -> AsyncIterator[MakeEndpoint]:
    """Factory: the HTTP service with ``secrets`` configured, producing to this test's topics."""
    kafka = kafka_settings.model_copy(
        update={
            "inbound_topic": f"{kafka_settings.events_topic}.inbound",
            "changes_topic": f"{kafka_settings.events_topic}.changes",
        }
    )
    await ensure_topics(kafka.bootstrap_servers, [kafka.inbound_topic], kafka.partitions)
    store = MemoryStore()
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())

        async def make(*secrets: str, broker_kafka: KafkaSettings | None = None) -> Endpoint:
            used = broker_kafka or kafka
            settings = Settings(
                kafka=used,
                collector={"write_keys": default_write_keys()},
                outreach=OutreachSettings(webhook_secrets=secrets or (OLD, NEW)),
            )
            producer = kafka_producer(used)
            await producer.start()
            stack.push_async_callback(producer.stop)
            app = build_http_app(settings, producer=producer, state_store=store)
            runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            return Endpoint(f"http://127.0.0.1:{runner.addresses[0][1]}", settings, session)

        yield make


async def test_a_signed_delivery_is_produced_keyed_by_type_and_id(
    make_endpoint: MakeEndpoint,
) -> None:
    """200 comes after the raw body is on leadgate.inbound.outreach with key prospect:7."""
    endpoint = await make_endpoint()
    body = delivery()
    assert await endpoint.post(body, event_id="e-1") == (200, {"status": "accepted"})
    [record] = await endpoint.records()
    assert record.key == "prospect:7"
    assert record.value == orjson.loads(body)


async def test_unauthentic_deliveries_get_one_fixed_401_and_change_nothing(
    make_endpoint: MakeEndpoint,
) -> None:
    """W1-W3: no signature, another secret, a sha256= prefix, upper-case hex, a re-serialised
    body: each 401 with the same body, nothing produced."""
    endpoint = await make_endpoint()
    body = delivery()
    good = sign(NEW, body)
    reserialised = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)
    answers = [
        await endpoint.post(body, secret=None),
        await endpoint.post(body, secret="another-secret-0123456789"),
        await endpoint.post(body, signature=f"sha256={good}"),
        await endpoint.post(body, signature=good.upper()),
        await endpoint.post(reserialised, signature=good),
        await endpoint.post(body, signature=""),
    ]
    assert answers == [(401, UNAUTHORIZED)] * len(answers)
    assert await endpoint.records() == []


async def test_mutated_deliveries_are_all_refused(make_endpoint: MakeEndpoint) -> None:
    """P27 (scaled down for a shared machine): 300 bit flips in the body or the signature of a
    valid delivery are all 401 with the identical body."""
    endpoint = await make_endpoint()
    body = delivery()
    good = sign(NEW, body)
    rng = random.Random(27)
    statuses: set[tuple[int, str]] = set()
    for n in range(300):
        if n % 2:
            flipped = bytearray(body)
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            status, answer = await endpoint.post(bytes(flipped), signature=good)
            statuses.add((status, repr(answer)))
        else:
            chars = list(good)
            at = rng.randrange(len(chars))
            chars[at] = "0" if chars[at] != "0" else "1"
            status, answer = await endpoint.post(body, signature="".join(chars))
            statuses.add((status, repr(answer)))
    assert statuses == {(401, repr(UNAUTHORIZED))}
    assert await endpoint.records() == []


async def test_stale_or_future_deliveries_are_replays(make_endpoint: MakeEndpoint) -> None:
    """W4, W5: a signed deliveredAt more than 300 s old or ahead is refused; 299 s is fine."""
    endpoint = await make_endpoint()
    now = time.time()
    assert (await endpoint.post(delivery(at=now - 301)))[0] == 401
    assert (await endpoint.post(delivery(at=now + 301)))[0] == 401
    assert (await endpoint.post(delivery(at=now - 299)))[0] == 200
    assert len(await endpoint.records()) == 1


async def test_redeliveries_are_deduplicated_and_a_reused_id_is_refused(
    make_endpoint: MakeEndpoint,
) -> None:
    """W6: the same id and body again is 200 with no second record (so is the same body without
    an id); W7: another body under a used id is 409."""
    endpoint = await make_endpoint()
    body = delivery()
    assert (await endpoint.post(body, event_id="e-1"))[0] == 200
    assert await endpoint.post(body, event_id="e-1") == (200, {"status": "duplicate"})
    other = delivery(title="CEO")
    assert await endpoint.post(other, event_id="e-1") == (409, {"error": "event_id_reused"})
    anonymous = delivery(prospect_id=8)
    assert (await endpoint.post(anonymous))[0] == 200
    assert await endpoint.post(anonymous) == (200, {"status": "duplicate"})
    assert sorted(r.key for r in await endpoint.records()) == ["prospect:7", "prospect:8"]


async def test_oversized_malformed_and_shapeless_bodies(make_endpoint: MakeEndpoint) -> None:
    """W8: over 256 KB is 413; W9: valid signature over non-JSON is 400; W10: a JSON body with
    no data.type/id is acknowledged and not forwarded."""
    endpoint = await make_endpoint()
    huge = b"{" + b" " * (256 * 1024) + b"}"
    assert (await endpoint.post(huge))[0] == 413
    assert await endpoint.post(b"{not json") == (400, {"error": "malformed_json"})
    assert await endpoint.post(b'{"meta": {}}') == (200, {"status": "ignored"})
    assert await endpoint.records() == []


async def test_other_methods_and_paths(make_endpoint: MakeEndpoint) -> None:
    """W11: GET on the endpoint is 405, a wrong path 404."""
    endpoint = await make_endpoint()
    async with endpoint.session.get(f"{endpoint.url}/outreach/webhooks") as r:
        assert r.status == 405
    async with endpoint.session.post(f"{endpoint.url}/outreach/webhook") as r:
        assert r.status == 404


async def test_secrets_rotate_without_downtime(make_endpoint: MakeEndpoint) -> None:
    """P30: with old and new configured both sign valid deliveries; with only new, old fails."""
    both = await make_endpoint(OLD, NEW)
    assert (await both.post(delivery(1), secret=OLD))[0] == 200
    assert (await both.post(delivery(2), secret=NEW))[0] == 200
    rotated = await make_endpoint(NEW)
    assert (await rotated.post(delivery(3), secret=OLD))[0] == 401
    assert (await rotated.post(delivery(4), secret=NEW))[0] == 200


async def test_broker_down_is_503_well_inside_outreachs_timeout(
    make_endpoint: MakeEndpoint,
) -> None:
    """W12, P29: with the broker gone, deliveries get 503 inside Outreach's 5 s timeout, never 200.

    The bound is the promise itself (Outreach gives up after 5 s), not a speed figure: the
    endpoint answers after the producer's 3 s request timeout.
    """
    broker = EmbeddedBroker()
    await broker.start()
    try:
        kafka = KafkaSettings(
            bootstrap_servers=broker.bootstrap, partitions=1, request_timeout_ms=3000
        )
        await ensure_topics(broker.bootstrap, [kafka.inbound_topic], 1)
        endpoint = await make_endpoint(NEW, broker_kafka=kafka)
        assert (await endpoint.post(delivery(1)))[0] == 200
    finally:
        broker.stop()
    for n in range(3):
        started = time.monotonic()
        status, _ = await endpoint.post(delivery(10 + n))
        assert status == 503
        assert time.monotonic() - started < OUTREACH_WEBHOOK_TIMEOUT_S
