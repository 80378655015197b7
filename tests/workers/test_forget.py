"""Forget jobs against a real sandbox and an in-memory store: what is erased, what is
suppressed, the one compliance request, and resuming a job interrupted in the middle."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio

from leadgate.domain.profile import Profile
from leadgate.errors import PermanentError
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.compliance import ComplianceRequests
from leadgate.settings import Settings
from leadgate.store.base import ProspectRecord
from leadgate.store.memory import MemoryStore
from leadgate.store.person_index import PersonIndex
from leadgate.store.sqlite import open_store
from leadgate.store.traces import TraceStore
from leadgate.workers.forget import Forgetter
from tests.outreach.client.helpers import make_settings
from tests.plugins.sandbox import MakeSandbox, SandboxHandle
from tests.sandbox.api import Api, authed_with, file_delete_request

JANE = "jane.doe@acme.com"


@pytest_asyncio.fixture
async def sandbox(make_sandbox: MakeSandbox) -> SandboxHandle:
    """A sandbox that lets the job's client and the test's caller both mint tokens at once."""
    return await make_sandbox(mint_interval_s=0.0)


class Stop(Exception):
    """Raised by a test's step hook: the process 'dies' after that step."""


def _settings(tmp_path: Path, url: str = "http://127.0.0.1:9") -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        outreach=make_settings(url),
        privacy={"compliance_poll_s": 1.0, "compliance_timeout_s": 30.0},
    )


async def _person(store: MemoryStore, forgetter: Forgetter, prospect_id: int) -> None:
    """Jane as the processor and delivery worker leave her: two profiles (indexed by email), a
    prospect record, SYNC's mirror and sent copy, one enrolment; plus Joe, who stays."""
    jane = Profile(traits={"email": "Jane.Doe@acme.com"}, consent={"marketing": True})
    await store.put_profile(["user:u-1", "anon:a-1"], jane)
    await store.put_profile(["user:u-2"], Profile(traits={"email": "joe@acme.com"}))
    index = PersonIndex(store, forgetter.hash)
    await index.put(index.entries(JANE, ["user:u-1", "anon:a-1"]))
    await store.put_prospect(JANE, ProspectRecord(prospect_id, frozenset({"x"}), "h"))
    other = "Jane@Home.example"  # a second address Outreach holds for her
    await store.put_docs(
        "mirror.email",
        {JANE: {"prospectId": prospect_id}, "jane@home.example": {"prospectId": prospect_id}},
    )
    await store.put_docs(
        "mirror.prospect", {str(prospect_id): {"attributes": {"emails": [JANE, other]}}}
    )
    await store.put_docs("sent.prospect", {JANE: {"attributes": {"firstName": "Jane"}}})
    await store.put_docs(
        "enrolment", {f"{prospect_id}:7": {"sequenceStateId": 3}, "99:7": {"sequenceStateId": 4}}
    )


async def test_forget_by_email_erases_every_copy_and_suppresses_every_identifier(
    tmp_path: Path,
) -> None:
    """Forgetting Jane by email erases both her profiles (found through the person index), her
    prospect record, mirror (every address Outreach holds for her), sent copy and enrolment, and
    suppresses her email and both ids; Joe's profile and another prospect's enrolment stay."""
    store = MemoryStore()
    forgetter = Forgetter(_settings(tmp_path), store)
    await _person(store, forgetter, prospect_id=12)
    report = await forgetter.forget([f"email:{JANE}"], outreach=False)
    assert report.finished
    assert not report.resumed
    assert report.erased == {
        "profiles": 2,
        "person_index": 2,
        "prospect_records": 1,
        "mirror": 4,
        "enrolments": 1,
    }
    assert await store.get_profiles(["user:u-1", "anon:a-1"]) == {}
    assert await store.get_profiles(["user:u-2"]) != {}
    assert await store.get_prospect(JANE) is None
    assert await store.get_docs("mirror.email", [JANE, "jane@home.example"]) == {}
    assert await store.get_docs("enrolment", ["12:7", "99:7"]) == {"99:7": {"sequenceStateId": 4}}
    suppressed = await forgetter.suppressions.suppressed(
        [f"email:{JANE}", "user:u-1", "anon:a-1", "user:u-2"]
    )
    assert suppressed == {f"email:{JANE}", "user:u-1", "anon:a-1"}
    entries = await forgetter.suppressions.entries()
    assert all(JANE not in e.hash and "u-1" not in e.hash for e in entries)
    assert await forgetter.jobs.pending() == []
    assert any("leadgate.deadletter" in line for line in report.not_erased)


async def test_forget_by_user_id_finds_the_email_through_the_profile(tmp_path: Path) -> None:
    """Forgetting by userId reads the email from that profile, so the prospect record and the
    email's suppression follow."""
    store = MemoryStore()
    forgetter = Forgetter(_settings(tmp_path), store)
    await _person(store, forgetter, prospect_id=12)
    report = await forgetter.forget(["user:u-1"], outreach=False)
    assert report.erased["prospect_records"] == 1
    assert await forgetter.suppressions.suppressed([f"email:{JANE}"]) == {f"email:{JANE}"}


async def test_forget_by_user_id_erases_and_suppresses_the_anonymous_ids_linked_to_it(
    tmp_path: Path,
) -> None:
    """A visitor who never gave an email (so no person-index entry) is forgotten by userId with
    every anonymous id whose alias points at that profile (two devices): all erased from the
    SQLite store, all suppressed; another visitor stays."""
    settings = _settings(tmp_path)
    store = await open_store(settings.state_dir)
    try:
        forgetter = Forgetter(settings, store)
        mine = Profile(consent={"marketing": True})
        await store.put_profiles({"user:u-9": mine, "anon:phone": mine})
        await store.put_profiles({"user:u-9": mine, "anon:laptop": mine})
        await store.put_profile(["anon:other"], Profile(consent={"marketing": False}))
        report = await forgetter.forget(["user:u-9"], outreach=False)
        assert report.erased["profiles"] == 3
        assert await store.get_profiles(["user:u-9", "anon:phone", "anon:laptop"]) == {}
        assert await store.get_profiles(["anon:other"]) != {}
        suppressed = await forgetter.suppressions.suppressed(
            ["user:u-9", "anon:phone", "anon:laptop", "anon:other"]
        )
        assert suppressed == {"user:u-9", "anon:phone", "anon:laptop"}
    finally:
        await store.close()


async def test_forget_erases_the_local_inspector_traces(tmp_path: Path) -> None:
    """A trace store given to the job loses Jane's traces (memory and disk) and refuses her
    later records; another visitor's trace stays."""
    store = MemoryStore()
    settings = _settings(tmp_path)
    forgetter = Forgetter(settings, store)
    traces = TraceStore(settings.state_dir, person_hash=forgetter.hash)
    forgetter.attach_trace_store(traces)
    traces.add_trace({"messageId": "m-1", "stage": "processor", "normalized": {"email": JANE}})
    traces.add_event("m-2", b'{"messageId": "m-2", "type": "page", "anonymousId": "a-1"}')
    traces.add_trace({"messageId": "m-3", "stage": "processor", "normalized": {"email": "x@y.io"}})
    report = await forgetter.forget([f"email:{JANE}", "anon:a-1"], outreach=False)
    assert report.erased["traces"] == 2
    assert traces.get("m-1") is None
    assert traces.get("m-2") is None
    traces.add_trace({"messageId": "m-4", "stage": "processor", "normalized": {"email": JANE}})
    assert traces.get("m-4") is None
    traces.close()
    reopened = TraceStore(settings.state_dir, person_hash=forgetter.hash)
    assert reopened.get("m-1") is None
    assert reopened.get("m-3") is not None
    reopened.add_trace({"messageId": "m-5", "stage": "processor", "normalized": {"email": JANE}})
    assert reopened.get("m-5") is None
    reopened.close()


@asynccontextmanager
async def _forgetter(
    tmp_path: Path,
    sandbox: SandboxHandle,
    store: MemoryStore,
    after_step: Callable[[str], Awaitable[None]] | None = None,
) -> AsyncIterator[Forgetter]:
    settings = _settings(tmp_path, sandbox.url)

    async def sleep(seconds: float) -> None:  # waiting on Outreach = moving its clock
        await sandbox.advance_clock(sandbox.config.compliance_step_s)

    async with OutreachClient(settings.outreach, store) as client:
        yield Forgetter(
            settings,
            store,
            compliance=ComplianceRequests(client),
            sleep=sleep,
            after_step=after_step,
        )


async def _api(sandbox: SandboxHandle) -> Api:
    """A test caller with a refresh token of its own (the job's client keeps the dev one)."""
    return await authed_with(sandbox, "prospects.all", "complianceRequests.all")


async def _prospect(sandbox: SandboxHandle) -> int:
    api = await _api(sandbox)
    reply = await api.create("prospects", {"emails": [JANE]})
    prospect_id: int = reply.json["data"]["id"]
    return prospect_id


async def test_forget_with_outreach_files_one_request_and_follows_it_to_done(
    tmp_path: Path, sandbox: SandboxHandle
) -> None:
    """--outreach files one Delete request for the prospect id and follows it to done; the
    sandbox then has no prospect."""
    store = MemoryStore()
    prospect_id = await _prospect(sandbox)
    async with _forgetter(tmp_path, sandbox, store) as forgetter:
        await _person(store, forgetter, prospect_id)
        report = await forgetter.forget([f"email:{JANE}"], outreach=True)
    assert report.finished
    assert report.compliance_state == "done"
    (request,) = await sandbox.compliance_requests()
    assert request["attributes"]["requestObjectId"] == str(prospect_id)
    assert request["id"] == report.compliance_id
    assert await sandbox.prospects() == []


@pytest.mark.parametrize("dies_after", ["suppress", "resolve", "erase", "traces"])
async def test_a_forget_interrupted_after_any_step_resumes_and_files_once(
    tmp_path: Path, sandbox: SandboxHandle, dies_after: str
) -> None:
    """A forget whose process dies after a step resumes from the next one when run again: the
    person ends erased and suppressed, with exactly one compliance request."""
    store = MemoryStore()
    prospect_id = await _prospect(sandbox)

    async def die(step: str) -> None:
        if step == dies_after:
            raise Stop(step)

    async with _forgetter(tmp_path, sandbox, store, after_step=die) as first:
        await _person(store, first, prospect_id)
        with pytest.raises(Stop):
            await first.forget([f"email:{JANE}"], outreach=True)
    (pending,) = await first.jobs.pending()
    assert pending.step == dies_after
    async with _forgetter(tmp_path, sandbox, store) as second:
        report = await second.forget([f"email:{JANE}"], outreach=True)
    assert report.resumed
    assert report.finished
    assert len(await sandbox.compliance_requests()) == 1
    assert await store.get_profiles(["user:u-1", "anon:a-1"]) == {}
    assert await store.get_prospect(JANE) is None
    assert await second.suppressions.suppressed(["user:u-1"]) == {"user:u-1"}
    assert await second.jobs.pending() == []


async def test_a_forget_that_loses_outreach_while_following_resumes_without_refiling(
    tmp_path: Path, sandbox: SandboxHandle
) -> None:
    """When Outreach fails while the request is followed, the job keeps the request id; run
    again, it follows the same request to done instead of filing another."""
    store = MemoryStore()
    prospect_id = await _prospect(sandbox)
    async with _forgetter(tmp_path, sandbox, store) as first:
        await _person(store, first, prospect_id)
        await sandbox.faults(
            status=400, count=1, path_prefix="/api/v2/complianceRequests/1", method="GET"
        )
        with pytest.raises(PermanentError):
            await first.forget([f"email:{JANE}"], outreach=True)
    (pending,) = await first.jobs.pending()
    assert pending.compliance_id == 1
    async with _forgetter(tmp_path, sandbox, store) as second:
        report = await second.forget([f"email:{JANE}"], outreach=True)
    assert report.finished
    assert report.compliance_state == "done"
    assert len(await sandbox.compliance_requests()) == 1


async def test_a_filing_whose_id_was_lost_is_found_not_filed_again(
    tmp_path: Path, sandbox: SandboxHandle
) -> None:
    """A job that recorded it was filing for a prospect but not the request's id (the process
    died during the POST) finds the request Outreach already has and follows it."""
    store = MemoryStore()
    prospect_id = await _prospect(sandbox)
    api = await _api(sandbox)
    assert (await file_delete_request(api, prospect_id)).status == 201

    async def die(step: str) -> None:
        if step == "traces":
            raise Stop(step)

    async with _forgetter(tmp_path, sandbox, store, after_step=die) as first:
        await _person(store, first, prospect_id)
        with pytest.raises(Stop):
            await first.forget([f"email:{JANE}"], outreach=True)
    (job,) = await first.jobs.pending()
    job.compliance_target = str(prospect_id)
    await first.jobs.save(job)
    async with _forgetter(tmp_path, sandbox, store) as second:
        report = await second.forget([f"email:{JANE}"], outreach=True)
    assert report.finished
    assert report.compliance_id == 1
    assert len(await sandbox.compliance_requests()) == 1
