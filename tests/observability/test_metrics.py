"""``/metrics``: Prometheus text with the pipeline's counters, and no PII in any label."""

from __future__ import annotations

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from leadgate.domain.trace import VendorExchange
from leadgate.http.metrics import setup_metrics
from leadgate.observability.metrics import (
    DEAD_LETTERS,
    RATE_LIMIT_REMAINING,
    record_event,
    record_exchange,
)


async def test_metrics_expose_outcomes_requests_and_budget() -> None:
    """Counted outcomes, vendor requests and the rate-limit budget show in the scrape."""
    record_event("processor", "dropped", "unmapped_event")
    record_exchange(
        VendorExchange(
            method="post",
            path="/api/v2/prospects?filter[emails]=jane@acme.com",
            status=201,
            latency_ms=12.0,
            attempt=1,
            rate_limit={"X-RateLimit-Remaining": "4321"},
        )
    )
    DEAD_LETTERS.labels(stage="delivery", reason="vendor_validation").inc()
    app = web.Application()
    setup_metrics(app)
    async with TestServer(app, host="127.0.0.1") as server, ClientSession() as session:
        response = await session.get(server.make_url("/metrics"))
        assert response.status == 200
        text = await response.text()
    assert (
        'leadgate_events_total{outcome="dropped",reason="unmapped_event",stage="processor"}' in text
    )
    assert 'leadgate_vendor_requests_total{method="POST",status="201"}' in text
    assert "leadgate_vendor_request_seconds_bucket" in text
    assert 'leadgate_dead_letters_total{reason="vendor_validation",stage="delivery"}' in text
    assert RATE_LIMIT_REMAINING._value.get() == 4321
    assert "@" not in text
