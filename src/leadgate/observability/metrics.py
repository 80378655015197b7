"""Prometheus metrics: the one registry and the objects every worker updates.

Label values are closed sets (stage names, outcomes, reasons, HTTP methods and status codes,
topic names): never an email, a messageId or anything a visitor typed, so a scrape can neither
leak PII nor explode in cardinality.
"""

from __future__ import annotations

import contextlib

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

from leadgate.domain.trace import VendorExchange

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS = Counter(
    "leadgate_events",
    "Events by stage (processor, delivery), outcome and reason.",
    ["stage", "outcome", "reason"],
    registry=REGISTRY,
)
VENDOR_REQUESTS = Counter(
    "leadgate_vendor_requests",
    "Requests sent to Outreach, by method and response status ('error' when none came back).",
    ["method", "status"],
    registry=REGISTRY,
)
VENDOR_LATENCY = Histogram(
    "leadgate_vendor_request_seconds",
    "Latency of requests to Outreach.",
    ["method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
PROCESS_LATENCY = Histogram(
    "leadgate_process_seconds",
    "Processor time per event (a batch's time to acknowledged outputs, per record).",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1),
    registry=REGISTRY,
)
DELIVERY_LATENCY = Histogram(
    "leadgate_delivery_seconds",
    "From the collector's receivedAt to the final delivery outcome.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0),
    registry=REGISTRY,
)
RATE_LIMIT_REMAINING = Gauge(
    "leadgate_outreach_ratelimit_remaining",
    "X-RateLimit-Remaining of the last Outreach response.",
    registry=REGISTRY,
)
OUTREACH_GATE_CLOSED = Gauge(
    "leadgate_outreach_gate_closed",
    "1 while Outreach as a whole is failing and delivery waits behind the health gate.",
    registry=REGISTRY,
)
OUTREACH_GATE_PROBES = Counter(
    "leadgate_outreach_gate_probes",
    "Requests let through the closed health gate as probes.",
    registry=REGISTRY,
)
RETRIES = Counter(
    "leadgate_delivery_retries",
    "Delivery attempts that will be retried, by reason.",
    ["reason"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "leadgate_dead_letters",
    "Records written to the dead-letter topic, by stage and reason.",
    ["stage", "reason"],
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "leadgate_consumer_lag",
    "Records behind the partition's end, per consumer group, topic and partition.",
    ["group", "topic", "partition"],
    registry=REGISTRY,
)
UNDECODABLE_BATCHES = Counter(
    "leadgate_undecodable_batches",
    "Record batches a consumer could not decode, by topic, why (crc_mismatch, "
    "unsupported_codec, corrupt) and what it did (dead_lettered, halted).",
    ["topic", "detail", "action"],
    registry=REGISTRY,
)
PARTITION_HALTED = Gauge(
    "leadgate_partition_halted",
    "1 while a partition is stopped at a batch it cannot decode (kafka.errors_tolerance=none).",
    ["group", "topic", "partition"],
    registry=REGISTRY,
)
KEY_MISMATCH = Counter(
    "leadgate_key_mismatch",
    "Records whose Kafka key is not their event's anonymousId (else userId): processed as they "
    "are, but a person's events may then be spread over partitions (ordering risk).",
    ["topic"],
    registry=REGISTRY,
)
WORKER_UP = Gauge(
    "leadgate_worker_up",
    "1 while a supervised worker or background task runs; 0 once it died (until restarted).",
    ["worker"],
    registry=REGISTRY,
)
WORKER_RESTARTS = Counter(
    "leadgate_worker_restarts",
    "Restarts of a supervised worker or background task after it died.",
    ["worker"],
    registry=REGISTRY,
)
PRESET_RELOADS = Counter(
    "leadgate_preset_reloads",
    "Preset hot reloads by result (ok, error).",
    ["result"],
    registry=REGISTRY,
)
PRESET_ERROR = Gauge(
    "leadgate_preset_error",
    "1 while the newest edit of a preset file failed to load (the last good one is in use).",
    ["preset"],
    registry=REGISTRY,
)
WEBHOOKS = Counter(
    "leadgate_outreach_webhooks",
    "Outreach webhook deliveries received, by outcome (accepted, duplicate, ignored, "
    "unauthenticated, replayed, conflict, too_large, malformed, unavailable).",
    ["outcome"],
    registry=REGISTRY,
)
MIRROR_CHANGES = Counter(
    "leadgate_outreach_mirror_changes",
    "Outreach changes seen by the inbound worker, by source and outcome (applied, unchanged, "
    "ignored_resource, dead_lettered).",
    ["source", "outcome"],
    registry=REGISTRY,
)
ROUTING_OWNERS = Counter(
    "leadgate_routing_owner",
    "Owner decisions of routed leads: the link that chose (user, field, rotation), none, or "
    "unknown_user (a link named a user Outreach does not know; the owner stays blank).",
    ["result"],
    registry=REGISTRY,
)
ROUTING_ENROLMENTS = Counter(
    "leadgate_routing_enrolment",
    "Enrolment decisions of routed leads (enrolled, already_enrolled, skipped_policy, refused).",
    ["result"],
    registry=REGISTRY,
)
ROUTING_STAGES = Counter(
    "leadgate_routing_stage",
    "Stage decisions of routed leads (set, unknown_stage).",
    ["result"],
    registry=REGISTRY,
)
OUTCOMES = Counter(
    "leadgate_outcomes",
    "Outcomes written back to their source (leadgate.outcomes), by status and action.",
    ["status", "action"],
    registry=REGISTRY,
)
OUTCOME_LATENCY = Histogram(
    "leadgate_outcome_seconds",
    "From a record's final delivery result to its outcome acknowledged on leadgate.outcomes.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
    registry=REGISTRY,
)
CALLBACKS = Counter(
    "leadgate_outcome_callbacks",
    "Outcome callback POSTs by result (delivered, http_<status>, timeout, ...).",
    ["result"],
    registry=REGISTRY,
)
INSPECTOR_TRACES = Gauge(
    "leadgate_inspector_traces",
    "Traces held by this inspector's bounded store.",
    registry=REGISTRY,
)


# The processor counts every event: a ``labels()`` lookup per event costs more than the count,
# so the children are kept (a few dozen: stages x outcomes x reasons).
_event_counters: dict[tuple[str, str, str | None], Counter] = {}


def record_event(stage: str, outcome: str, reason: str | None) -> None:
    """Count one event outcome at a stage."""
    key = (stage, outcome, reason)
    counter = _event_counters.get(key)
    if counter is None:
        counter = EVENTS.labels(stage=stage, outcome=outcome, reason=reason or "")
        _event_counters[key] = counter
    counter.inc()


def record_exchange(exchange: VendorExchange) -> None:
    """Count one request to Outreach, its latency and the budget it reported."""
    status = str(exchange.status) if exchange.status is not None else "error"
    VENDOR_REQUESTS.labels(method=exchange.method.upper(), status=status).inc()
    VENDOR_LATENCY.labels(method=exchange.method.upper()).observe(exchange.latency_ms / 1000.0)
    for name, value in exchange.rate_limit.items():
        if name.lower() == "x-ratelimit-remaining":
            with contextlib.suppress(ValueError):  # a malformed header must not fail delivery
                RATE_LIMIT_REMAINING.set(float(value))
