"""Enrolling a prospect in a sequence exactly once, across redelivery, retries and kill -9.

1. The sequence (by name or id, cached) must exist and be enabled: otherwise a permanent,
   explained failure (``sequence_not_found`` / ``sequence_disabled``), never a retry loop.
2. An enrolment we remember as confirmed is done: no request.
3. Policy: ``new`` enrols only a prospect this lead created; ``idle`` also an existing prospect
   that is not active in any sequence (one ``GET /sequenceStates?filter[prospect][id]=``).
4. The mailbox (the owner's, or the rule's named one) must exist: else ``mailbox_missing``.
5. Before the POST, a ``posting`` record is claimed in ``enrolment``. If one is already there, an
   earlier attempt may have enrolled the prospect without hearing back (a timeout, a crash), so
   ``GET /sequenceStates?filter[prospect][id]=P&filter[sequence][id]=S`` decides first.
6. ``POST /sequenceStates``; a 422 "has already been in this sequence" means done (the state is
   looked up for its id). The confirmed enrolment is remembered.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from leadgate.domain.reasons import DeadLetterReason
from leadgate.domain.routing import SequenceTarget
from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import PermanentError, RetriableError
from leadgate.observability.metrics import ROUTING_ENROLMENTS
from leadgate.outreach.classify import Verdict
from leadgate.outreach.client import WINDOW_REASON, OutreachClient
from leadgate.outreach.directory import Directory, Mailbox, Sequence, User
from leadgate.outreach.jsonapi import attributes, related_id, resource_id
from leadgate.store.routing import Enrolment, Enrolments

SEQUENCE_STATES = "/api/v2/sequenceStates"
ALREADY = "has already been in this sequence"
ACTIVE_STATES = frozenset({"active", "pending", "paused"})

EnrolAction = Literal["enrolled", "already_enrolled", "skipped_policy"]
OwnerSource = Callable[[], Awaitable[User | None]]


@dataclass(frozen=True, slots=True)
class EnrolOutcome:
    """What the enrolment step did, and a trace line saying why."""

    action: EnrolAction
    detail: str
    sequence_state_id: int | None = None
    mailbox_id: int | None = None


def _document(prospect_id: int, sequence_id: int, mailbox_id: int) -> dict[str, Any]:
    def link(kind: str, id_: int) -> dict[str, Any]:
        return {"data": {"type": kind, "id": id_}}

    return {
        "data": {
            "type": "sequenceState",
            "relationships": {
                "prospect": link("prospect", prospect_id),
                "sequence": link("sequence", sequence_id),
                "mailbox": link("mailbox", mailbox_id),
            },
        }
    }


class Enroller:
    """Idempotent enrolment through one client."""

    def __init__(
        self, client: OutreachClient, directory: Directory, enrolments: Enrolments
    ) -> None:
        self._client = client
        self._directory = directory
        self._enrolments = enrolments

    async def enrol(
        self,
        prospect_id: int,
        target: SequenceTarget,
        owner: OwnerSource,
        *,
        new: bool,
        exchanges: ExchangeRecorder,
    ) -> EnrolOutcome:
        """Enrol (or explain why not); raises ``PermanentError`` for a refusal retrying cannot
        fix, ``RetriableError`` when the answer is not known. ``owner`` is asked only when the
        owner's mailbox is needed."""
        sequence = await self._sequence(target, exchanges)
        known = await self._enrolments.get(prospect_id, sequence.id)
        if known is not None and known.confirmed:
            return _done(known, f"already enrolled in {sequence.name!r} (remembered)")
        if not new and known is None:
            skipped = await self._policy(prospect_id, sequence, target, exchanges)
            if skipped is not None:
                return skipped
        mailbox = await self._mailbox(target, owner, exchanges)
        if not await self._enrolments.claim(prospect_id, sequence.id, mailbox.id):
            found = await self._find(prospect_id, sequence.id, exchanges)
            if found is not None:
                return await self._remember(
                    found, sequence, "already enrolled (found after an interrupted attempt)"
                )
        return await self._post(prospect_id, sequence, mailbox, exchanges)

    async def _sequence(self, target: SequenceTarget, exchanges: ExchangeRecorder) -> Sequence:
        sequence = await self._directory.sequence(exchanges, name=target.name, id=target.id)
        which = repr(target.name) if target.name is not None else f"#{target.id}"
        if sequence is None:
            ROUTING_ENROLMENTS.labels(result="refused").inc()
            raise PermanentError(
                f"no Outreach sequence {which}: check the rule's sequence name",
                reason=str(DeadLetterReason.SEQUENCE_NOT_FOUND),
            )
        if not sequence.enabled:
            ROUTING_ENROLMENTS.labels(result="refused").inc()
            raise PermanentError(
                f"the Outreach sequence {which} is disabled: enable it, then replay the dead "
                "letter",
                reason=str(DeadLetterReason.SEQUENCE_DISABLED),
            )
        return sequence

    async def _policy(
        self,
        prospect_id: int,
        sequence: Sequence,
        target: SequenceTarget,
        exchanges: ExchangeRecorder,
    ) -> EnrolOutcome | None:
        """For an existing prospect: the skip, or None when it may be enrolled."""
        if target.enrol == "new":
            ROUTING_ENROLMENTS.labels(result="skipped_policy").inc()
            return EnrolOutcome(
                "skipped_policy",
                f"not enrolled in {sequence.name!r}: existing prospect (enrol: new)",
            )
        states = await self._states({"filter[prospect][id]": str(prospect_id)}, exchanges)
        for state in states:
            if related_id(state, "sequence") == sequence.id:
                return await self._remember(state, sequence, "already enrolled (found in Outreach)")
        active = [s for s in states if attributes(s).get("state") in ACTIVE_STATES]
        if active:
            ROUTING_ENROLMENTS.labels(result="skipped_policy").inc()
            return EnrolOutcome(
                "skipped_policy",
                f"not enrolled in {sequence.name!r}: active in another sequence (enrol: idle)",
            )
        return None

    async def _mailbox(
        self, target: SequenceTarget, source: OwnerSource, exchanges: ExchangeRecorder
    ) -> Mailbox:
        owner = None if target.mailbox is not None else await source()
        if target.mailbox is not None:
            mailbox = await self._directory.mailbox(target.mailbox, exchanges)
            why = f"no Outreach mailbox {target.mailbox!r}"
        elif owner is None:
            mailbox, why = None, "the prospect has no owner, so no mailbox to send from"
        else:
            mailbox = await self._directory.mailbox_of(owner.id, exchanges)
            why = f"the owner {owner.name} has no mailbox"
        if mailbox is None:
            ROUTING_ENROLMENTS.labels(result="refused").inc()
            raise PermanentError(
                f"cannot enrol: {why}", reason=str(DeadLetterReason.MAILBOX_MISSING)
            )
        return mailbox

    async def _post(
        self,
        prospect_id: int,
        sequence: Sequence,
        mailbox: Mailbox,
        exchanges: ExchangeRecorder,
    ) -> EnrolOutcome:
        document = _document(prospect_id, sequence.id, mailbox.id)
        try:
            response = await self._client.request(
                "POST", SEQUENCE_STATES, exchanges, document=document
            )
        except PermanentError as error:
            return await self._refused(error, prospect_id, sequence, exchanges)
        state_id = resource_id(response.data)
        if response.verdict is not Verdict.OK or state_id is None:
            raise RetriableError(
                f"POST {SEQUENCE_STATES}: {response.message or response.verdict}",
                reason=WINDOW_REASON,
                status=response.status,
            )
        enrolment = Enrolment(prospect_id, sequence.id, "active", state_id, mailbox.id, time.time())
        await self._enrolments.confirm(enrolment)
        ROUTING_ENROLMENTS.labels(result="enrolled").inc()
        # Ids, not addresses: trace lines and notes carry no email.
        owner = f" of user {mailbox.user_id}" if mailbox.user_id is not None else ""
        where = f"mailbox {mailbox.id}{owner}"
        return EnrolOutcome(
            "enrolled", f"enrolled in {sequence.name!r} from {where}", state_id, mailbox.id
        )

    async def _refused(
        self,
        error: PermanentError,
        prospect_id: int,
        sequence: Sequence,
        exchanges: ExchangeRecorder,
    ) -> EnrolOutcome:
        if error.status == 422 and ALREADY in error.message:
            found = await self._find(prospect_id, sequence.id, exchanges)
            if found is None:
                raise RetriableError(
                    "Outreach says the prospect is in the sequence but lists no state",
                    reason=WINDOW_REASON,
                    status=422,
                ) from None
            return await self._remember(found, sequence, "already enrolled (Outreach said so)")
        await self._enrolments.release(prospect_id, sequence.id)
        ROUTING_ENROLMENTS.labels(result="refused").inc()
        if error.status == 422 and "disabled" in error.message:
            await self._directory.forget_sequence(name=sequence.name)
            raise PermanentError(
                f"the Outreach sequence {sequence.name!r} is disabled: enable it, then replay",
                reason=str(DeadLetterReason.SEQUENCE_DISABLED),
                status=422,
            ) from None
        if error.status == 422 and "mailbox" in error.message.lower():
            raise PermanentError(
                f"cannot enrol: Outreach refused the mailbox ({error.message})",
                reason=str(DeadLetterReason.MAILBOX_MISSING),
                status=422,
            ) from None
        raise error

    async def _find(
        self, prospect_id: int, sequence_id: int, exchanges: ExchangeRecorder
    ) -> dict[str, Any] | None:
        params = {
            "filter[prospect][id]": str(prospect_id),
            "filter[sequence][id]": str(sequence_id),
        }
        states = await self._states(params, exchanges)
        return states[0] if states else None

    async def _states(
        self, params: dict[str, str], exchanges: ExchangeRecorder
    ) -> list[dict[str, Any]]:
        response = await self._client.request(
            "GET", SEQUENCE_STATES, exchanges, params={**params, "count": "false"}
        )
        data = response.data
        if response.verdict is not Verdict.OK or not isinstance(data, list):
            raise RetriableError(
                f"GET {SEQUENCE_STATES}: Outreach answered {response.status} without a list",
                reason=WINDOW_REASON,
                status=response.status,
            )
        return [s for s in data if isinstance(s, dict) and resource_id(s) is not None]

    async def _remember(self, state: dict[str, Any], sequence: Sequence, why: str) -> EnrolOutcome:
        prospect_id = related_id(state, "prospect")
        state_id = resource_id(state)
        mailbox_id = related_id(state, "mailbox")
        if prospect_id is not None:
            status = str(attributes(state).get("state") or "active")
            await self._enrolments.confirm(
                Enrolment(prospect_id, sequence.id, status, state_id, mailbox_id, time.time())
            )
        ROUTING_ENROLMENTS.labels(result="already_enrolled").inc()
        return EnrolOutcome("already_enrolled", f"{why}: {sequence.name!r}", state_id, mailbox_id)


def _done(known: Enrolment, why: str) -> EnrolOutcome:
    ROUTING_ENROLMENTS.labels(result="already_enrolled").inc()
    return EnrolOutcome("already_enrolled", why, known.sequence_state_id, known.mailbox_id)
