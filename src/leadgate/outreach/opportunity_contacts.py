"""The prospects of an opportunity's contacts: found, or created with just their email.

A contact is a person the CRM relates to an opportunity; leadgate needs their prospect id for
the role, and must not overwrite what the person's own sync (or a rep) wrote. So: a prospect
leadgate remembers for the email costs nothing; otherwise the upsert runs with
``on_existing: skip`` and only the email (a found prospect is left as it is; a new one gets the
email and its company's account, like any lead). The opportunity remembers each contact's id
(``store/opportunities.py``), so an unchanged contact list costs no request on the next update.
"""

from __future__ import annotations

from leadgate.domain.lead import LeadIntent
from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import RetriableError
from leadgate.outreach.client import WINDOW_REASON
from leadgate.outreach.upsert import Upserter
from leadgate.pipeline.privacy import email_identifier
from leadgate.store.base import StateStore
from leadgate.store.suppression import SuppressionList


class ContactProspects:
    """A ``ProspectFinder`` over the prospect upsert."""

    def __init__(
        self, upserter: Upserter, store: StateStore, suppressions: SuppressionList | None = None
    ) -> None:
        self._upserter = upserter
        self._store = store
        self._suppressions = suppressions

    async def __call__(
        self, email: str, exchanges: ExchangeRecorder, *, known: int | None = None
    ) -> int | None:
        """The prospect id of ``email`` (a normalised address; ``known``: the id the opportunity
        remembers); None for a person who asked to be forgotten (``leadgate privacy forget``):
        no prospect is made, and no role kept, for them again."""
        if self._suppressions is not None and await self._suppressions.suppressed(
            [email_identifier(email)]
        ):
            return None
        if known is not None:
            return known
        remembered = await self._store.get_prospect(email)
        if remembered is not None:
            return remembered.prospect_id
        intent = LeadIntent(email=email, attributes={"emails": [email]}, on_existing="skip")
        result = await self._upserter.upsert(intent, exchanges)
        if result.record_id is None:
            raise RetriableError("no prospect id for an opportunity contact", reason=WINDOW_REASON)
        return result.record_id
