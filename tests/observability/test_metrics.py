"""``/metrics``: Prometheus text with the pipeline's counters, and no PII in any label."""

from __future__ import annotations

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from leadgate.domain.trace import VendorExchange
from leadgate.http.metrics import setup_metrics
from leadgate.observability.metrics import DEAD_LETTERS, record_event, record_exchange

Sample = tuple[str, tuple[tuple[str, str], ...]]


async def _scrape() -> tuple[str, dict[Sample, float]]:
    """One ``GET /metrics`` of a real server: the text and every sample by name and labels."""
    app = web.Application()
    setup_metrics(app)
    async with TestServer(app, host="127.0.0.1") as server, ClientSession() as session:
        response = await session.get(server.make_url("/metrics"))
        assert response.status == 200
        text = await response.text()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return text, samples


async def test_metrics_expose_outcomes_requests_and_budget() -> None:
    """One counted outcome, vendor request and dead letter each move their counter by exactly
    one in the scrape (the registry is process-wide: deltas, not presence), and the budget
    gauge shows the last X-RateLimit-Remaining."""
    outcome: Sample = (
        "leadgate_events_total",
        (("outcome", "dropped"), ("reason", "unmapped_event"), ("stage", "processor")),
    )
    request: Sample = ("leadgate_vendor_requests_total", (("method", "POST"), ("status", "201")))
    latency: Sample = ("leadgate_vendor_request_seconds_count", ())
    dead: Sample = (
        "leadgate_dead_letters_total",
        (("reason", "vendor_validation"), ("stage", "delivery")),
    )
    _, before = await _scrape()
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
    text, after = await _scrape()
    for sample in (outcome, request, dead):
        assert after[sample] == before.get(sample, 0.0) + 1, sample
    latency_samples = [k for k in after if k[0] == latency[0]]
    assert sum(after[k] - before.get(k, 0.0) for k in latency_samples) == 1
    assert after[("leadgate_outreach_ratelimit_remaining", ())] == 4321
    assert "@" not in text
