"""Privacy through the whole stream, against the sandbox (issue 13's "done when"): the seed
visitor's paid demo request makes a prospect and its sequenceState; a later event withdrawing
marketing consent opts the prospect out and finishes the sequence; ``leadgate privacy forget
--email jane.doe@acme.com --outreach`` files one compliance request; afterwards a fresh demo
request from the same visitor is dropped as ``suppressed`` with no request to Outreach, and the
inspector holds nothing for that email. A forget interrupted in the middle resumes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio

from leadgate.cli import main
from leadgate.domain.lead import LeadIntent
from leadgate.kafka.traces import TraceConsumer
from leadgate.runtime.roles import Role, workers
from leadgate.settings import Settings
from leadgate.store.sqlite import open_store
from leadgate.store.suppression import PersonHasher, load_salt
from leadgate.store.traces import TraceQuery, TraceStore
from tests.e2e.conftest import MakePipeline, Pipeline
from tests.plugins.sandbox import SandboxHandle
from tests.plugins.streams import key_of, produce, read_topic, wait_for, worker_env
from tests.sandbox.api import Api, authed_with

CONSUMERS: list[TraceConsumer] = []  # the inspector feed of the running test (last one)
ROUTING = Path(__file__).resolve().parents[2] / "presets" / "outreach-demo-routing.yaml"
JANE = "jane.doe@acme.com"
USER, ANON = "user-123", "anon-9f2c"


def _event(kind: str, *, marketing: bool, **fields: Any) -> dict[str, Any]:
    """A seed-visitor event with a fresh messageId and marketing consent as given."""
    return {
        "type": kind,
        "messageId": f"{kind}-{uuid.uuid4().hex[:8]}",
        "userId": USER,
        "anonymousId": ANON,
        "context": {"consent": {"categories": {"marketing": marketing, "analytics": True}}},
        "receivedAt": "2026-11-23T10:00:00.000Z",
        **fields,
    }


def _identify() -> dict[str, Any]:
    traits = {"email": JANE, "firstName": "Jane", "lastName": "Doe", "company": "Acme Inc"}
    return _event("identify", marketing=True, traits=traits)


def _demo(*, marketing: bool = True) -> dict[str, Any]:
    return _event(
        "track", marketing=marketing, event="Demo Requested", properties={"plan": "enterprise"}
    )


async def _send(settings: Settings, *events: dict[str, Any]) -> None:
    kafka = settings.kafka
    await produce(
        kafka.bootstrap_servers, kafka.events_topic, [(key_of(e), orjson.dumps(e)) for e in events]
    )


async def _api(sandbox: SandboxHandle) -> Api:
    return await authed_with(sandbox, "prospects.all", "sequenceStates.all")


async def _traces(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    kafka = settings.kafka
    by_id: dict[str, list[dict[str, Any]]] = {}
    for record in await read_topic(kafka.bootstrap_servers, kafka.traces_topic):
        trace = orjson.loads(record.value)
        by_id.setdefault(str(trace["messageId"]), []).append(trace)
    return by_id


@pytest_asyncio.fixture
async def running(
    make_pipeline: MakePipeline, tmp_path: Path
) -> AsyncIterator[tuple[Pipeline, TraceStore]]:
    """The pipeline on the routing preset (sandbox compliance steps of 0.2 s), with an inspector
    trace store fed from the start."""
    made = await make_pipeline(start=False, sandbox={"compliance_step_s": 0.2})
    settings = made.settings.model_copy(
        update={
            "pipeline": made.settings.pipeline.model_copy(update={"presets": (ROUTING,)}),
            "privacy": made.settings.privacy.model_copy(update={"compliance_poll_s": 0.05}),
        }
    )
    pipeline = Pipeline(settings, made.sandbox)
    traces = TraceStore(None, person_hash=PersonHasher(load_salt(settings)))
    stop = asyncio.Event()
    feeding = TraceConsumer(settings, traces)
    CONSUMERS.append(feeding)
    consumer = asyncio.create_task(feeding.run(stop))
    try:
        async with workers(settings, Role.ALL, stop) as running_workers:
            pipeline.workers = running_workers
            await pipeline.ready()
            yield pipeline, traces
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer, 15)


async def _prospect_with_a_sequence(pipeline: Pipeline) -> tuple[int, int]:
    """The seed visitor's paid demo request through the stream: the prospect, and the
    sequenceState the routing preset enrolled it in (as the router remembers it)."""
    settings, sandbox = pipeline.settings, pipeline.sandbox
    await _send(settings, _identify(), _demo())
    store = await open_store(settings.state_dir)
    try:

        async def enrolled() -> bool:
            prospects = await sandbox.prospects()
            if len(prospects) != 1:
                return False
            found = await store.scan_docs("enrolment", prefix=f"{prospects[0]['id']}:")
            return bool(found) and found[0][1].get("sequenceStateId") is not None

        await wait_for(enrolled, timeout_s=60)
        (prospect,) = await sandbox.prospects()
        ((_, doc),) = await store.scan_docs("enrolment", prefix=f"{prospect['id']}:")
        return int(prospect["id"]), int(doc["sequenceStateId"])
    finally:
        await store.close()


async def _cli(monkeypatch: pytest.MonkeyPatch, settings: Settings, *args: str) -> int:
    for name, value in worker_env(settings).items():
        if name.startswith("LEADGATE_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("LEADGATE_PRIVACY__COMPLIANCE_POLL_S", "0.05")
    return await asyncio.to_thread(main, list(args))


async def test_withdrawal_then_forget_through_the_stream(
    running: tuple[Pipeline, TraceStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's done-when, end to end (see the module docstring)."""
    pipeline, inspector = running
    settings, sandbox = pipeline.settings, pipeline.sandbox
    prospect_id, state_id = await _prospect_with_a_sequence(pipeline)
    api = await _api(sandbox)

    # A page view withdrawing marketing consent opts Jane out and finishes her sequence.
    withdraw = _event("page", marketing=False, name="Pricing")
    await _send(settings, withdraw)

    async def withdrawn() -> bool:
        prospect = (await api.get(f"/api/v2/prospects/{prospect_id}")).json["data"]
        state = (await api.get(f"/api/v2/sequenceStates/{state_id}")).json["data"]
        return bool(
            prospect["attributes"]["emailsOptStatus"] == "opted_out"
            and state["attributes"]["state"] == "finished"
        )

    await wait_for(withdrawn, timeout_s=60)

    async def traced() -> bool:
        entry = inspector.get(withdraw["messageId"])
        return entry is not None and entry.outcome == "delivered"

    await wait_for(traced, timeout_s=30)
    assert inspector.query(TraceQuery(email=JANE))  # the inspector knew Jane until now

    # Forget Jane, in Outreach too: one compliance request, followed to done.
    code = await _cli(monkeypatch, settings, "privacy", "forget", "--email", JANE, "--outreach")
    assert code == 0
    (request,) = await sandbox.compliance_requests()
    assert request["attributes"]["requestObjectId"] == str(prospect_id)
    assert request["attributes"]["state"] == "done"
    assert await sandbox.prospects() == []

    # A fresh demo request (consent true) is dropped as suppressed and costs Outreach nothing.
    before = len(await sandbox.api_requests())
    again = _demo()
    await _send(settings, again)

    async def suppressed() -> bool:
        return any(
            t.get("reason") == "suppressed"
            for t in (await _traces(settings)).get(again["messageId"], [])
        )

    await wait_for(suppressed, timeout_s=30)
    kafka = settings.kafka
    leads = await read_topic(kafka.bootstrap_servers, kafka.delivery_topic)
    assert not any(again["messageId"] in orjson.loads(r.value)["message_ids"] for r in leads)

    # A lead intent that was already in the delivery topic when Jane was forgotten is dropped.
    in_flight = LeadIntent(
        email=JANE, attributes={"emails": [JANE]}, message_ids=("in-flight-1",), event="Demo"
    )
    await produce(
        kafka.bootstrap_servers, kafka.delivery_topic, [(JANE.encode(), in_flight.to_bytes())]
    )

    async def skipped() -> bool:
        found = (await _traces(settings)).get("in-flight-1", [])
        return any(t.get("reason") == "suppressed" for t in found)

    await wait_for(skipped, timeout_s=30)
    await asyncio.sleep(1.0)  # anything the suppressed records could cause would have happened
    assert len(await sandbox.api_requests()) == before

    # The inspector finds nothing for that email (and keeps no raw copy of the new event).
    total = 0
    for topic in (kafka.events_topic, kafka.traces_topic):
        total += len(await read_topic(kafka.bootstrap_servers, topic))
    feed = CONSUMERS[-1]

    async def caught_up() -> bool:
        return feed.consumed >= total

    await wait_for(caught_up, timeout_s=30)
    assert inspector.query(TraceQuery(email=JANE)) == []
    assert inspector.get(withdraw["messageId"]) is None
    kept = inspector.get(again["messageId"])  # gone, or kept as a bare "suppressed" line
    assert kept is None or (kept.raw is None and kept.email is None)


async def test_a_forget_interrupted_by_outreach_resumes_and_files_once(
    running: tuple[Pipeline, TraceStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Outreach answering 503 to the compliance request, the forget stops after erasing
    leadgate's copies (exit 1, its job kept); run again, it resumes and files exactly one
    request."""
    pipeline, _ = running
    settings, sandbox = pipeline.settings, pipeline.sandbox
    prospect_id, _ = await _prospect_with_a_sequence(pipeline)
    await sandbox.faults(status=503, count=50, path_prefix="/api/v2/complianceRequests")
    code = await _cli(monkeypatch, settings, "privacy", "forget", "--email", JANE, "--outreach")
    assert code == 1
    assert await sandbox.compliance_requests() == []
    store = await open_store(settings.state_dir)
    try:
        assert await store.get_prospect(JANE) is None  # leadgate's copies went first
        assert len(await store.scan_docs("forget")) == 1
    finally:
        await store.close()
    await sandbox.faults(clear=True)
    code = await _cli(monkeypatch, settings, "privacy", "forget", "--email", JANE, "--outreach")
    assert code == 0
    (request,) = await sandbox.compliance_requests()
    assert request["attributes"]["requestObjectId"] == str(prospect_id)
    store = await open_store(settings.state_dir)
    try:
        assert await store.scan_docs("forget") == []
    finally:
        await store.close()
