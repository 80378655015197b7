"""Account linking: a prospect's company becomes an Outreach account, found by domain.

Like Hull's connector (accounts are resolved by domain) and Workbooks' (prospects are linked to
their organisation): the domain comes from the lead's company hint, else from a *corporate*
email address. Free-mail domains never become accounts, and a company name without any domain
links nothing (Outreach does not dedupe accounts, so creating them from free-text names would
breed duplicates; the name still reaches the prospect's ``company`` attribute). Known domains
are cached in the state store, so a returning company costs no request, and the lookups of
concurrent leads go out together (``filter[domain]=a.com,b.com``, ``outreach/lookup.py``).
"""

from __future__ import annotations

from typing import Any

from leadgate.domain.freemail import corporate_domain, normalize_domain
from leadgate.domain.lead import AccountHint
from leadgate.domain.reasons import RetryReason
from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import RetriableError
from leadgate.outreach.classify import Verdict
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.jsonapi import attributes, resource_id
from leadgate.outreach.locks import KeyedLocks
from leadgate.outreach.lookup import BatchLookup, Ticket
from leadgate.store.base import StateStore

ACCOUNTS = "/api/v2/accounts"


def account_domain(hint: AccountHint | None, email: str) -> str | None:
    """The corporate domain to link by, or None (free-mail, no domain at all)."""
    return corporate_domain(hint.domain if hint is not None and hint.domain else email)


class AccountLinker:
    """Finds (or creates) the Outreach account of a domain, once per domain."""

    def __init__(self, client: OutreachClient, store: StateStore) -> None:
        self._client = client
        self._store = store
        self._locks = KeyedLocks()
        self._lookups = BatchLookup(client, ACCOUNTS, "domain", _has_domain)

    async def resolve(
        self, hint: AccountHint | None, email: str, exchanges: ExchangeRecorder
    ) -> int | None:
        """The account id to link the prospect to, or None when it has no company domain."""
        domain = account_domain(hint, email)
        if domain is None:
            return None
        ticket = self._lookups.ticket()
        try:
            known = await self._store.get_account(domain)
            if known is not None:
                return known
            async with self._locks.hold(domain):
                known = await self._store.get_account(domain)
                if known is None:
                    known = await self._find_or_create(domain, hint, exchanges, ticket)
                    await self._store.put_account(domain, known)
                return known
        finally:
            ticket.close()

    async def forget(self, hint: AccountHint | None, email: str) -> None:
        """Forget the account remembered for this lead's domain: Outreach no longer has it (an
        account deleted or merged away there), so the next attempt finds or creates it again."""
        domain = account_domain(hint, email)
        if domain is not None:
            await self._store.forget_account(domain)

    async def _find_or_create(
        self,
        domain: str,
        hint: AccountHint | None,
        exchanges: ExchangeRecorder,
        ticket: Ticket,
    ) -> int:
        found = await ticket.find(domain, exchanges)
        ids = sorted(i for i in (resource_id(a) for a in found) if i is not None)
        if ids:
            # Outreach allows duplicate accounts; the oldest one is the stable choice.
            return ids[0]
        name = hint.name if hint is not None and hint.name else domain
        document = {"data": {"type": "account", "attributes": {"name": name, "domain": domain}}}
        response = await self._client.request("POST", ACCOUNTS, exchanges, document=document)
        account_id = resource_id(response.data)
        if response.verdict is not Verdict.OK or account_id is None:
            raise RetriableError(
                f"POST {ACCOUNTS}: no account id in Outreach's answer ({response.status})",
                reason=RetryReason.VENDOR_AMBIGUOUS,
                status=response.status,
            )
        return account_id


def _has_domain(account: dict[str, Any], domain: str) -> bool:
    """Whether a looked-up account is the one of ``domain``."""
    value = attributes(account).get("domain")
    return isinstance(value, str) and normalize_domain(value) == domain
