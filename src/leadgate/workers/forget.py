"""Forgetting one person everywhere leadgate keeps them (``leadgate privacy forget`` and
``POST /privacy/forget``), as a restartable job (``store.forget_jobs``).

Steps, each recorded when finished, so a restart resumes after the last one:

1. ``suppress``  suppression entries for what was asked (from now on the processor drops the
   person's events as ``suppressed``);
2. ``resolve``   find the rest of the person: the identities that carried the email (person index),
   the identities linked to those (``StateStore.linked_identities``: a body's aliases), the email
   their profiles hold, the Outreach prospect id (prospect record, else SYNC's mirror);
   suppress those identifiers too;
3. ``erase``     profiles, person index entries, prospect record, mirror (``mirror.*``,
   ``sent.prospect``), enrolments (``enrolment``, by ``<prospectId>:``);
4. ``traces``    every inspector forgets the person's traces (a marker on the traces topic; the
   local trace store directly when one is given);
5. ``outreach``  with ``outreach``: file one compliance request (Delete) and follow it to done;
6. the job is deleted.

What cannot be erased in place is listed in the report (``NOT_ERASED``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from leadgate.domain.mirror import emails_of
from leadgate.domain.trace import ExchangeRecorder
from leadgate.kafka.traces import publish_privacy_marker
from leadgate.outreach.compliance import ComplianceRequest, ComplianceRequests
from leadgate.pipeline.privacy import email_identifier, profile_email
from leadgate.settings import Settings
from leadgate.store.base import StateStore
from leadgate.store.forget_jobs import ForgetJob, ForgetJobs
from leadgate.store.mirror import EMAILS as MIRROR_EMAIL
from leadgate.store.mirror import PROSPECTS as MIRROR_PROSPECT
from leadgate.store.mirror import SENT as SENT_PROSPECT
from leadgate.store.mirror import email_key as mirror_key
from leadgate.store.person_index import PersonIndex
from leadgate.store.routing import ENROLMENT
from leadgate.store.suppression import PersonHasher, SuppressionList, load_salt
from leadgate.store.traces import TraceStore

STEPS = ("suppress", "resolve", "erase", "traces", "outreach", "done")


def not_erased(settings: Settings) -> list[str]:
    """What a forget cannot erase in place, for the operator to know (and answer) about."""
    kafka = settings.kafka
    return [
        f"Kafka topic {kafka.events_topic}: the person's raw events, until the topic's retention",
        f"Kafka topic {kafka.delivery_topic}: lead intents (email, mapped attributes), until "
        "retention; the delivery worker skips a suppressed address",
        f"Kafka topic {kafka.traces_topic}: traces, until retention; inspectors drop them",
        f"Kafka topic {kafka.deadletter_topic}: dead letters, until retention; "
        "'leadgate dlq replay' skips a suppressed person",
        "suppression entries: salted hashes of the email and ids (no raw value), until "
        "'leadgate privacy unsuppress'",
    ]


@dataclass(slots=True)
class ForgetReport:
    """How one forget went."""

    hashes: list[str]
    erased: dict[str, int]
    compliance_id: int | None
    compliance_state: str | None
    resumed: bool
    finished: bool
    not_erased: list[str]
    notes: list[str] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        """The report as JSON (hashes only: never a raw identifier)."""
        return {
            "hashes": self.hashes,
            "erased": self.erased,
            "complianceRequest": (
                {"id": self.compliance_id, "state": self.compliance_state}
                if self.compliance_id is not None
                else None
            ),
            "resumed": self.resumed,
            "finished": self.finished,
            "notErased": self.not_erased,
            "notes": self.notes,
        }


class Forgetter:
    """Runs forget jobs over one state store."""

    def __init__(
        self,
        settings: Settings,
        store: StateStore,
        *,
        producer: Any = None,
        compliance: ComplianceRequests | None = None,
        trace_store: TraceStore | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        after_step: Callable[[str], Awaitable[None]] | None = None,
        follow_s: float | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self.hash = PersonHasher(load_salt(settings))
        self.suppressions = SuppressionList(store, self.hash, clock=clock)
        self._index = PersonIndex(store, self.hash)
        self.jobs = ForgetJobs(store)
        self._producer = producer
        self._compliance = compliance
        self._trace_store = trace_store
        self._clock = clock
        self._sleep = sleep
        # Called after each finished step (tests stop a job there to restart it).
        self._after_step = after_step
        # How long to follow a compliance request (None: privacy.compliance_timeout_s; the HTTP
        # endpoint uses 0 and answers 202 until a repeated request finds it done).
        self._follow_s = follow_s

    def attach_trace_store(self, trace_store: TraceStore) -> None:
        """Also erase directly from this (local) trace store; it must hash with ``self.hash``."""
        self._trace_store = trace_store

    async def forget(self, targets: list[str], *, outreach: bool) -> ForgetReport:
        """Forget the person these identifiers name (``email:<normalised>``, ``user:…``,
        ``anon:…``); resumes the job for the same identifiers if one was interrupted."""
        wanted = sorted(set(targets))
        key = self.hash("forget-job:" + "\n".join(wanted))
        job = await self.jobs.get(key)
        resumed = job is not None
        if job is None:
            job = ForgetJob(key=key, targets=wanted, outreach=outreach, started=self._clock())
        elif outreach and not job.outreach:
            job.outreach = True
        notes: list[str] = []
        steps = {
            "suppress": self._suppress,
            "resolve": self._resolve,
            "erase": self._erase,
            "traces": self._traces,
            "outreach": self._outreach,
        }
        start = STEPS.index(job.step) + 1 if job.step in STEPS else 0
        for name in STEPS[start:-1]:
            done = await steps[name](job, notes)
            if not done:
                await self.jobs.save(job)
                return self._report(job, resumed, notes, finished=False)
            job.step = name
            await self.jobs.save(job)
            if self._after_step is not None:
                await self._after_step(name)
        await self.jobs.finish(job)
        return self._report(job, resumed, notes, finished=True)

    def _identifiers(self, job: ForgetJob) -> list[str]:
        return sorted({*job.targets, *job.identities, *map(email_identifier, job.emails)})

    def _report(
        self, job: ForgetJob, resumed: bool, notes: list[str], *, finished: bool
    ) -> ForgetReport:
        return ForgetReport(
            hashes=sorted({self.hash(i) for i in self._identifiers(job)}),
            erased=dict(job.erased),
            compliance_id=job.compliance_id,
            compliance_state=job.compliance_state,
            resumed=resumed,
            finished=finished,
            not_erased=not_erased(self._settings),
            notes=notes,
        )

    # -- the steps (each returns False to stop the job here, resumable) ------------------------

    async def _suppress(self, job: ForgetJob, notes: list[str]) -> bool:
        await self.suppressions.add(job.targets)
        return True

    async def _resolve(self, job: ForgetJob, notes: list[str]) -> bool:
        identities = {t for t in job.targets if not t.startswith("email:")}
        emails = {t.removeprefix("email:") for t in job.targets if t.startswith("email:")}
        for _ in range(3):  # email -> identities -> their profiles' emails -> ...
            before = (len(identities), len(emails))
            for email in sorted(emails):
                identities.update((await self._index.identities(email)).values())
            # the aliases of the bodies found (one body per visitor, aliases for the others)
            identities = await self._store.linked_identities(sorted(identities))
            for profile in (await self._store.get_profiles(sorted(identities))).values():
                found = profile_email(profile.traits)
                if found is not None:
                    emails.add(found)
            if (len(identities), len(emails)) == before:
                break
        job.identities = sorted(identities)
        job.emails = sorted(emails)
        for email in job.emails:
            record = await self._store.get_prospect(email)
            if record is not None:
                job.prospect_id = record.prospect_id
                break
            mirrored = (await self._store.get_docs(MIRROR_EMAIL, [email])).get(email)
            if mirrored and isinstance(mirrored.get("prospectId"), int):
                job.prospect_id = int(mirrored["prospectId"])
                break
        await self.suppressions.add(self._identifiers(job))
        return True

    async def _erase(self, job: ForgetJob, notes: list[str]) -> bool:
        store = self._store
        erased = job.erased
        erased["profiles"] = await store.delete_profiles(job.identities)
        index_keys: list[str] = []
        for email in job.emails:
            index_keys.extend(await self._index.identities(email))
        erased["person_index"] = await self._index.forget(index_keys)
        prospects = 0
        for email in job.emails:
            if await store.get_prospect(email) is not None:
                prospects += 1
                await store.forget_prospect(email)
        erased["prospect_records"] = prospects
        emails = set(job.emails)
        if job.prospect_id is not None:  # every address Outreach holds for the prospect
            mirrored = await store.get_docs(MIRROR_PROSPECT, [str(job.prospect_id)])
            emails.update(mirror_key(e) for e in emails_of(mirrored.get(str(job.prospect_id))))
        erased["mirror"] = await store.delete_docs(MIRROR_EMAIL, sorted(emails))
        erased["mirror"] += await store.delete_docs(SENT_PROSPECT, sorted(emails))
        erased["enrolments"] = 0
        if job.prospect_id is not None:
            erased["mirror"] += await store.delete_docs(MIRROR_PROSPECT, [str(job.prospect_id)])
            enrolled = await store.scan_docs(ENROLMENT, prefix=f"{job.prospect_id}:")
            erased["enrolments"] = await store.delete_docs(ENROLMENT, [k for k, _ in enrolled])
        return True

    async def _traces(self, job: ForgetJob, notes: list[str]) -> bool:
        hashes = sorted({self.hash(i) for i in self._identifiers(job)})
        if self._trace_store is not None:
            job.erased["traces"] = self._trace_store.forget(hashes)
        if self._producer is not None:
            await publish_privacy_marker(self._producer, self._settings, "forget", hashes)
        else:
            notes.append("no Kafka producer: running inspectors were not told to forget")
        return True

    async def _outreach(self, job: ForgetJob, notes: list[str]) -> bool:
        if not job.outreach:
            return True
        if self._compliance is None:
            notes.append("no Outreach client: no compliance request was filed")
            return True
        target = str(job.prospect_id) if job.prospect_id is not None else None
        if target is None and job.emails:
            target = job.emails[0]
        if target is None:
            notes.append("no prospect id or email known: nothing to ask Outreach to delete")
            return True
        exchanges = ExchangeRecorder()
        request: ComplianceRequest | None = None
        if job.compliance_id is None:
            if job.compliance_target is not None:  # filed before a crash, id not saved
                request = await self._compliance.find(job.compliance_target, exchanges)
            if request is None:
                job.compliance_target = target
                await self.jobs.save(job)
                request = await self._compliance.file(target, exchanges)
            job.compliance_id = request.id
            job.compliance_state = request.state
            await self.jobs.save(job)
        return await self._follow(job, notes, exchanges)

    async def _follow(self, job: ForgetJob, notes: list[str], exchanges: ExchangeRecorder) -> bool:
        assert self._compliance is not None
        assert job.compliance_id is not None
        privacy = self._settings.privacy
        follow = privacy.compliance_timeout_s if self._follow_s is None else self._follow_s
        deadline = self._clock() + follow
        while True:
            request = await self._compliance.get(job.compliance_id, exchanges)
            job.compliance_state = request.state
            if request.final:
                if request.state == "failed":
                    notes.append("Outreach reports the compliance request failed")
                return True
            if self._clock() >= deadline:
                notes.append(
                    f"the compliance request is still {request.state}; run the same forget "
                    "again to keep following it"
                )
                return False
            await self._sleep(privacy.compliance_poll_s)
