"""The inspector's trace store: folding per messageId, filters, bounds, persistence at rest."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import orjson

from leadgate.store.traces import TraceQuery, TraceStore, parse_time
from tests.plugins.clock import FakeClock
from tests.plugins.inspector import delivery_trace, dropped_trace, processor_trace


def test_fold_is_order_independent() -> None:
    """A delivery record arriving before the processor's still ends as one delivered trace."""
    for order in ("processor-first", "delivery-first"):
        store = TraceStore(None)
        proc = processor_trace()
        records = [proc, delivery_trace(proc["messageId"])]
        if order == "delivery-first":
            records.reverse()
        for record in records:
            store.add_trace(record)
        entry = store.get(proc["messageId"])
        assert entry is not None
        detail = entry.detail()
        assert detail["outcome"] == "delivered", order
        assert detail["prospectId"] == 42
        assert [s["stage"] for s in detail["stages"]][-1] == "delivery"
        assert detail["exchanges"][0]["status"] == 201


def test_retry_then_success_and_dead_letter_outcomes() -> None:
    """A pending retry shows as pending with its reason; the later final record wins."""
    store = TraceStore(None)
    proc = processor_trace()
    mid = proc["messageId"]
    store.add_trace(proc)
    store.add_trace(delivery_trace(mid, "pending", reason="rate_limited"))
    entry = store.get(mid)
    assert entry is not None
    assert (entry.outcome, entry.reason) == ("pending", "rate_limited")
    store.add_trace(delivery_trace(mid, "dead_lettered", reason="vendor_validation"))
    assert (entry.outcome, entry.reason) == ("dead_lettered", "vendor_validation")
    assert [s["status"] for s in entry.detail()["stages"][-2:]] == ["warn", "drop"]


def test_filters_match_normalised_email_event_outcome_reason_and_time() -> None:
    """Each filter narrows the list; the email filter matches the normalised address."""
    store = TraceStore(None)
    jane = processor_trace(receivedAt="2026-11-23T10:00:00Z")
    store.add_trace(jane)
    store.add_trace(delivery_trace(jane["messageId"]))
    sam = dropped_trace(
        "no_consent",
        normalized={"email": "sam@example.org"},
        event="Lead Submitted",
        receivedAt="2026-11-23T11:00:00Z",
    )
    store.add_trace(sam)

    def ids(**filters: object) -> list[str]:
        return [e.message_id for e in store.query(TraceQuery(**filters))]  # type: ignore[arg-type]

    assert ids(email="  Jane.Doe@ACME.com ") == [jane["messageId"]]
    # the pipeline's normalisation: a mailto: link finds the same trace
    assert ids(email="mailto:Jane.Doe@acme.com") == [jane["messageId"]]
    assert ids(event="lead submitted") == [sam["messageId"]]
    assert ids(outcome="delivered") == [jane["messageId"]]
    assert ids(reason="no_consent") == [sam["messageId"]]
    half_past = parse_time("2026-11-23T10:30:00Z")
    assert ids(since=half_past) == [sam["messageId"]]
    assert ids(until=half_past) == [jane["messageId"]]
    assert ids() == [sam["messageId"], jane["messageId"]]
    assert ids(limit=1) == [sam["messageId"]]


def test_bounded_by_count_and_age() -> None:
    """The store keeps at most N events and forgets those older than its age limit."""
    clock = FakeClock(1_795_000_000.0)
    store = TraceStore(None, max_events=3, max_age_s=60.0, clock=clock)
    ids = []
    for _ in range(5):
        record = processor_trace()
        ids.append(record["messageId"])
        store.add_trace(record)
    assert len(store) == 3
    assert store.get(ids[0]) is None
    assert store.get(ids[4]) is not None
    clock.now += 61
    assert store.query(TraceQuery()) == []
    assert len(store) == 0


def test_persisted_owner_only_and_reloaded(tmp_path: Path) -> None:
    """A restarted store finds recent traces and raw events; its files are owner-only and the
    email index holds a salted hash, not the address."""
    state = tmp_path / "state"
    store = TraceStore(state)
    raw = orjson.dumps({"type": "track", "messageId": "m-1", "traits": {"email": "x@corp.io"}})
    store.add_event("m-1", raw)
    store.add_trace(processor_trace(messageId="m-1", normalized={"email": "x@corp.io"}))
    store.close()

    assert (state / "traces.sqlite3").stat().st_mode & 0o077 == 0
    assert (state / "inspector.key").stat().st_mode & 0o077 == 0
    with sqlite3.connect(state / "traces.sqlite3") as db:
        keys = [row[0] for row in db.execute("SELECT email_key FROM traces")]
    assert keys
    assert all(key and "@" not in key for key in keys)

    again = TraceStore(state)
    assert again.recent_events(10) == [("m-1", raw)]
    assert [e.message_id for e in again.query(TraceQuery(email="X@corp.io"))] == ["m-1"]
    again.close()


async def test_subscribers_receive_each_change() -> None:
    """A subscriber (the live page) gets a summary whenever a trace changes."""
    store = TraceStore(None)
    queue = store.subscribe()
    proc = processor_trace()
    store.add_trace(proc)
    store.add_trace(delivery_trace(proc["messageId"]))
    first = await asyncio.wait_for(queue.get(), 1)
    second = await asyncio.wait_for(queue.get(), 1)
    assert (first["outcome"], second["outcome"]) == ("pending", "delivered")
    store.unsubscribe(queue)
    store.add_trace(processor_trace())
    assert queue.empty()
