"""The ``consent_withdrawn`` handler: stop Outreach from emailing a person who withdrew consent.

For the prospect leadgate knows for the intent's email (its prospect record, else SYNC's mirror):

- ``opt_out``: ``PATCH /prospects/{id}`` with ``emailsOptStatus: "opted_out"`` (Outreach stamps
  ``emailsOptedAt``; docs/outreach-api.md#opt-out-and-erasure in our own words: docs/privacy.md);
- ``finish_sequences``: ``POST /sequenceStates/{id}/actions/finish`` for every sequenceState
  leadgate enrolled it in (``store.routing.Enrolments``: the ``enrolment`` collection), and the
  enrolment is remembered as finished; an enrolment whose POST answer was lost is looked up.

Both are idempotent (the same status again, finishing a finished state), so a retried or
replayed withdrawal is harmless. A person leadgate knows no prospect for is not looked up in
Outreach: the withdrawal is delivered as ``unchanged`` with a note. A prospect or state that
Outreach no longer has (404) is noted, not retried. Nothing here opts a prospect back in.
"""

from __future__ import annotations

from dataclasses import replace

from leadgate.domain.lead import LeadIntent, Withdrawal
from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import PermanentError
from leadgate.outreach.classify import Verdict
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.dispatch import DeliveryResult
from leadgate.outreach.jsonapi import resource_id
from leadgate.store.base import StateStore
from leadgate.store.mirror import EMAILS as MIRROR_EMAIL
from leadgate.store.routing import Enrolment, Enrolments

PROSPECTS = "/api/v2/prospects"
SEQUENCE_STATES = "/api/v2/sequenceStates"
OPT_OUT = {"emailsOptStatus": "opted_out"}


class WithdrawalHandler:
    """``async (intent, exchanges) -> DeliveryResult`` for ``consent_withdrawn`` intents."""

    def __init__(self, client: OutreachClient, store: StateStore) -> None:
        self._client = client
        self._store = store

    async def __call__(self, intent: LeadIntent, exchanges: ExchangeRecorder) -> DeliveryResult:
        """One attempt; raises the ``errors`` types on failure (the worker retries)."""
        withdrawal = intent.withdrawal
        if withdrawal is None:
            raise PermanentError(
                "a consent_withdrawn intent without its withdrawal", reason="deserialize"
            )
        prospect_id = await self._prospect_id(intent.email)
        if prospect_id is None:
            return DeliveryResult(
                "prospect",
                None,
                "unchanged",
                notes=("no Outreach prospect is known for this person: nothing to withdraw",),
            )
        notes: list[str] = [f"withdrew {', '.join(withdrawal.categories)}"]
        action = "unchanged"
        if withdrawal.opts_out:
            if await self._opt_out(prospect_id, exchanges):
                action = "opted_out"
                notes.append("emailsOptStatus set to opted_out")
            else:
                notes.append("the prospect is gone from Outreach (404): nothing to opt out")
        if withdrawal.finishes_sequences:
            finished = await self._finish(prospect_id, withdrawal, exchanges, notes)
            if finished and action == "unchanged":
                action = "sequences_finished"
        return DeliveryResult("prospect", prospect_id, action, notes=tuple(notes))

    async def _prospect_id(self, email: str) -> int | None:
        record = await self._store.get_prospect(email)
        if record is not None:
            return record.prospect_id
        mirrored = (await self._store.get_docs(MIRROR_EMAIL, [email])).get(email) or {}
        found = mirrored.get("prospectId")
        return found if isinstance(found, int) and not isinstance(found, bool) else None

    async def _opt_out(self, prospect_id: int, exchanges: ExchangeRecorder) -> bool:
        """True when Outreach holds the prospect opted out now; False when it is gone."""
        document = {"data": {"type": "prospect", "id": prospect_id, "attributes": OPT_OUT}}
        response = await self._client.request(
            "PATCH", f"{PROSPECTS}/{prospect_id}", exchanges, document=document
        )
        return response.verdict is not Verdict.NOT_FOUND

    async def _finish(
        self,
        prospect_id: int,
        withdrawal: Withdrawal,
        exchanges: ExchangeRecorder,
        notes: list[str],
    ) -> int:
        """Finish every state leadgate enrolled the prospect in; how many it finished."""
        enrolments = Enrolments(self._store)
        enrolled = await enrolments.of_prospect(prospect_id)
        if not enrolled:
            notes.append("leadgate enrolled this prospect in no sequence")
            return 0
        finished = 0
        for enrolment in enrolled:
            state_id = enrolment.sequence_state_id
            if state_id is None:  # a POST whose answer was lost: ask Outreach for the state
                state_id = await self._find_state(enrolment, exchanges)
            if state_id is None:
                notes.append(f"sequence {enrolment.sequence_id}: Outreach has no state for it")
                continue
            path = f"{SEQUENCE_STATES}/{state_id}/actions/finish"
            response = await self._client.request("POST", path, exchanges)
            if response.verdict is Verdict.NOT_FOUND:
                notes.append(f"sequenceState {state_id} is gone from Outreach (404)")
                continue
            finished += 1
            notes.append(f"sequenceState {state_id} finished")
            await enrolments.confirm(
                replace(enrolment, state="finished", sequence_state_id=state_id)
            )
        return finished

    async def _find_state(self, enrolment: Enrolment, exchanges: ExchangeRecorder) -> int | None:
        params = {
            "filter[prospect][id]": str(enrolment.prospect_id),
            "filter[sequence][id]": str(enrolment.sequence_id),
        }
        response = await self._client.request("GET", SEQUENCE_STATES, exchanges, params=params)
        found = [resource_id(data) for data in response.data or []]
        return next((i for i in found if i is not None), None)
