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
from leadgate.store.base import StateStore


class ContactProspects:
    """A ``ProspectFinder`` over the prospect upsert."""

    def __init__(self, upserter: Upserter, store: StateStore) -> None:
        self._upserter = upserter
        self._store = store

    async def __call__(self, email: str, exchanges: ExchangeRecorder) -> int:
        """The prospect id of ``email`` (a normalised address)."""
        known = await self._store.get_prospect(email)
        if known is not None:
            return known.prospect_id
        intent = LeadIntent(email=email, attributes={"emails": [email]}, on_existing="skip")
        result = await self._upserter.upsert(intent, exchanges)
        if result.record_id is None:
            raise RetriableError("no prospect id for an opportunity contact", reason=WINDOW_REASON)
        return result.record_id
