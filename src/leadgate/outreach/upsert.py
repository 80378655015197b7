"""Upsert one lead as an Outreach prospect: the Hull connector's identity resolution, race-free.

1. A prospect id we remember for the email -> PATCH it (404: forget it and fall through).
2. Else ``GET /prospects?filter[emails]=<email>`` -> PATCH the match with what differs. The
   lookups of concurrent upserts go out together, comma-listed (``outreach/lookup.py``), and a
   lookup runs alongside the account resolution.
3. Else POST; a 422 "email hash has already been taken" (someone created it meanwhile) ->
   look up and PATCH the match.

Updates never destroy someone else's work (``outreach/merge.py``): an update of a known prospect
sends only what the lead changed since leadgate last sent it (remembered per email in
``sent.prospect``), never clears a value, and merges tags and other arrays into Outreach's current
value (the mirror's when webhooks keep it fresh, else a GET just before the PATCH). Emails are
never overwritten (Outreach replaces array attributes wholesale, Hull's edge case "Email as an
identifier"): a PATCH by remembered id sends no ``emails``; a PATCH of a looked-up match appends
the lead's address only when it is missing. If the attributes and tags are what we last sent, no
request is made at all. Every answer carrying the prospect updates the mirror (source
``own_write``). A create is always preceded by a lookup in the
same attempt, so an ambiguous create (2xx without an id, connection reset after sending) is
resolved by the next attempt's lookup instead of a blind second POST (V1-V3). One lock per email
serialises concurrent upserts of one address within this process (lenient orgs allow duplicate
emails, so the vendor would not stop a double create).

A lead with a routing plan goes through a ``Route`` (``outreach/routing.py``): its owner and stage
ride inside the create document (or, when the rule allows, in the PATCH of an existing prospect,
and in the no-op digest), and after the write the route enrols the prospect in its sequence.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, Literal

from leadgate.domain.lead import LeadIntent
from leadgate.domain.mirror import MalformedChange, from_resource
from leadgate.domain.reasons import RetryReason
from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import PermanentError, RetriableError
from leadgate.outreach.accounts import AccountLinker
from leadgate.outreach.classify import Verdict, names_missing_account
from leadgate.outreach.client import OutreachClient, Response
from leadgate.outreach.dispatch import DeliveryResult
from leadgate.outreach.jsonapi import attributes, related_id, resource_id
from leadgate.outreach.locks import KeyedLocks
from leadgate.outreach.lookup import BatchLookup, Ticket
from leadgate.outreach.merge import merge_match, plan_update, resolve
from leadgate.outreach.prospect_document import (
    PROSPECTS,
    Wanted,
    has_email,
    oldest,
    prospect_document,
    sent_after,
    sent_link_key,
    wanted_prospect,
)
from leadgate.outreach.routing import Route, Router
from leadgate.settings import OutreachSettings
from leadgate.store.base import ProspectRecord, StateStore
from leadgate.store.mirror import Mirror, SentRecord, get_sent, put_sent


async def _nothing() -> None:
    return None


class Upserter:
    """Upserts leads through one ``OutreachClient``; remembers what it sent in the store."""

    def __init__(
        self, client: OutreachClient, store: StateStore, settings: OutreachSettings
    ) -> None:
        self._client = client
        self._store = store
        self._settings = settings
        self._accounts = AccountLinker(client, store)
        self._locks = KeyedLocks()
        self._prospects = BatchLookup(client, PROSPECTS, "emails", has_email)
        self.mirror = Mirror(store)
        self.router = Router(client, store)

    async def upsert(self, lead: LeadIntent, exchanges: ExchangeRecorder) -> DeliveryResult:
        """One attempt at the upsert and its routing (the ``upsert_prospect`` handler); raises
        the ``errors`` types on failure."""
        async with self._locks.hold(lead.email):
            ticket = self._prospects.ticket()
            route = self.router.start(lead, exchanges)
            try:
                result = await self._upsert(lead, exchanges, ticket, route)
            except PermanentError as exc:
                if not names_missing_account(exc):
                    raise
                # Deleted or merged away in Outreach since leadgate remembered it: forget it,
                # and the next attempt finds or creates the company's account again.
                await self._accounts.forget(lead.account, lead.email)
                raise RetriableError(
                    "the Outreach account leadgate remembered for this company no longer "
                    "exists; it is looked up again on the next attempt",
                    reason=RetryReason.RECORD_MOVED,
                    status=exc.status,
                ) from exc
            finally:
                ticket.close()
            if route is None or result.prospect_id is None:
                return result
            routed = await route.finish(result.prospect_id, created=result.action == "created")
            return replace(result, routing=routed).noted(*routed.notes())

    async def _upsert(
        self, lead: LeadIntent, exchanges: ExchangeRecorder, ticket: Ticket, route: Route | None
    ) -> DeliveryResult:
        known = await self._store.get_prospect(lead.email)
        if known is not None:
            ticket.close()  # a remembered prospect needs no lookup (unless it was deleted)
        # The prospect lookup and the account resolution are independent: run them together.
        lookup = ticket.find(lead.email, exchanges) if known is None else _nothing()
        resolve = (
            self._accounts.resolve(lead.account, lead.email, exchanges)
            if self._settings.link_accounts
            else _nothing()
        )
        account_id, found = await asyncio.gather(resolve, lookup)
        links = await route.update_links() if route is not None else {}
        wanted = wanted_prospect(lead, account_id, links)
        if found is not None:
            return await self._patch_or_create(wanted, exchanges, ticket, oldest(found), route)
        if known is not None:
            if known.attributes_hash == wanted.digest and wanted.tags <= known.tags:
                return DeliveryResult("prospect", known.prospect_id, "unchanged", known.account_id)
            result = await self._update_known(known, wanted, exchanges)
            if result is not None:
                return result
            await self._store.forget_prospect(lead.email)
        match = await self._lookup(wanted.email, exchanges, ticket)
        return await self._patch_or_create(wanted, exchanges, ticket, match, route)

    async def _update_known(
        self, known: ProspectRecord, wanted: Wanted, exchanges: ExchangeRecorder
    ) -> DeliveryResult | None:
        """Only what the lead changed since it was last sent; arrays merged into Outreach's
        current value. None when Outreach no longer has the prospect (V8)."""
        sent = await get_sent(self._store, wanted.email)
        if sent is None or sent.prospect_id != known.prospect_id:
            sent = SentRecord(known.prospect_id, {}, known.tags, known.account_id)
        plan = plan_update(
            wanted.attributes,
            wanted.tags,
            wanted.account_id,
            sent.attributes,
            sent.tags,
            sent.account_id,
        )
        current: dict[str, Any] | None = None
        # Routing's owner/stage go out when the rule's choice changed since it was last sent.
        last = sent.attributes
        links = {
            n: link for n, link in wanted.links.items() if last.get(sent_link_key(n)) != link[1]
        }
        path = f"{PROSPECTS}/{known.prospect_id}"
        if plan.needs_current:
            current = await self._current(known.prospect_id, path, exchanges)
            if current is None:
                return None
        changes = resolve(plan, current)
        if not changes and not plan.relink and not links:
            return await self._remember(wanted, known.prospect_id, known.tags, "unchanged", sent)
        account = wanted.account_id if plan.relink else None
        document = prospect_document(changes, account, known.prospect_id, links)
        response = await self._client.request("PATCH", path, exchanges, document=document)
        if response.verdict is Verdict.NOT_FOUND:
            return None  # deleted in Outreach since we last wrote it (V8): resolve again
        self._expect_written(response, "PATCH", path)
        await self._mirror_answer(response)
        tags = known.tags | wanted.tags
        return await self._remember(wanted, known.prospect_id, tags, "updated", sent)

    async def _current(
        self, prospect_id: int, path: str, exchanges: ExchangeRecorder
    ) -> dict[str, Any] | None:
        """Outreach's current attributes: the mirror's while webhooks keep it fresh, else a GET
        (None: the prospect is gone)."""
        if await self.mirror.trusted(self._settings.mirror_fresh_s):
            doc = await self.mirror.get("prospect", prospect_id)
            if doc is not None:
                return dict(doc["attributes"])
        response = await self._client.request("GET", path, exchanges)
        if response.verdict is Verdict.NOT_FOUND:
            return None
        self._expect_written(response, "GET", path)
        await self._mirror_answer(response)
        return attributes(response.data)

    async def _mirror_answer(self, response: Response) -> None:
        """Own writes (and reads) keep the mirror true: Outreach answered with the resource."""
        try:
            change = from_resource(response.data, "own_write")
        except MalformedChange:
            return
        await self.mirror.apply([change])

    async def _lookup(
        self, email: str, exchanges: ExchangeRecorder, ticket: Ticket
    ) -> dict[str, Any] | None:
        return oldest(await ticket.find(email, exchanges))

    async def _patch_or_create(
        self,
        wanted: Wanted,
        exchanges: ExchangeRecorder,
        ticket: Ticket,
        match: dict[str, Any] | None,
        route: Route | None = None,
    ) -> DeliveryResult:
        """PATCH ``match`` (what an earlier lookup found) or, when there is none, POST a new
        prospect; a POST that finds the email taken looks up once more and PATCHes that."""
        if match is not None:
            return await self._patch_match(match, wanted, exchanges)
        attrs = {**wanted.attributes, "emails": wanted.emails}
        if wanted.tags:
            attrs["tags"] = sorted(wanted.tags)
        links = await route.create_links() if route is not None else None
        document = prospect_document(attrs, wanted.account_id, None, links)
        response = await self._client.request("POST", PROSPECTS, exchanges, document=document)
        if response.verdict is Verdict.EMAIL_TAKEN:
            # Created by someone else between our lookup and our POST (V10).
            match = await self._lookup(wanted.email, exchanges, ticket)
            if match is None:
                raise RetriableError(
                    "Outreach says the email is taken but the lookup finds no prospect",
                    reason=RetryReason.RECORD_MOVED,
                    status=response.status,
                )
            return await self._patch_match(match, wanted, exchanges)
        self._expect_written(response, "POST", PROSPECTS)
        prospect_id = resource_id(response.data)
        if prospect_id is None:
            raise RetriableError(
                "Outreach created no readable prospect",
                reason=RetryReason.VENDOR_AMBIGUOUS,
                status=response.status,
            )
        await self._mirror_answer(response)
        return await self._remember(wanted, prospect_id, wanted.tags, "created", None)

    async def _patch_match(
        self, match: dict[str, Any], wanted: Wanted, exchanges: ExchangeRecorder
    ) -> DeliveryResult:
        prospect_id = resource_id(match)
        assert prospect_id is not None  # _lookup keeps only resources with ids
        if wanted.on_existing == "skip":
            # Workbooks' duplicate rule: a prospect leadgate did not create is left as it is (and
            # not remembered, so the next sync of this person finds it again and skips again).
            return DeliveryResult(
                "prospect",
                prospect_id,
                "matched_existing",
                related_id(match, "account"),
                notes=("a prospect with this email exists: left as it is (on_existing: skip)",),
            )
        remote = attributes(match)
        sent = await get_sent(self._store, wanted.email)
        last = sent.attributes if sent is not None and sent.prospect_id == prospect_id else {}
        remote_tags = frozenset(t for t in remote.get("tags") or [] if isinstance(t, str))
        tags = remote_tags | wanted.tags
        changes = merge_match(wanted.attributes, wanted.tags, remote, last)
        remote_emails = [e for e in remote.get("emails") or [] if isinstance(e, str)]
        if wanted.email.lower() not in (e.lower() for e in remote_emails):
            changes["emails"] = [*remote_emails, wanted.email]
        relink = wanted.account_id is not None and related_id(match, "account") != wanted.account_id
        links = {n: link for n, link in wanted.links.items() if related_id(match, n) != link[1]}
        # A rule with on_existing reports a prospect it found (rather than made) as such.
        matched: Literal["matched_existing"] | None = (
            "matched_existing" if wanted.on_existing is not None else None
        )
        if not changes and not relink and not links:
            return await self._remember(wanted, prospect_id, tags, matched or "unchanged", sent)
        path = f"{PROSPECTS}/{prospect_id}"
        account = wanted.account_id if relink else None
        document = prospect_document(changes, account, prospect_id, links)
        response = await self._client.request("PATCH", path, exchanges, document=document)
        self._expect_written(response, "PATCH", path)
        await self._mirror_answer(response)
        return await self._remember(wanted, prospect_id, tags, matched or "updated", sent)

    def _expect_written(self, response: Response, method: str, path: str) -> None:
        if response.verdict in (Verdict.OK, Verdict.NO_CHANGE):
            return
        # 404 after a fresh lookup, or "email taken" on a PATCH: the prospect moved under us.
        raise RetriableError(
            f"{method} {path.rsplit('/', 1)[0]}: {response.message or response.verdict}",
            reason=RetryReason.RECORD_MOVED,
            status=response.status,
        )

    async def _remember(
        self,
        wanted: Wanted,
        prospect_id: int,
        tags: frozenset[str],
        action: Literal["created", "updated", "unchanged", "matched_existing"],
        sent: SentRecord | None,
    ) -> DeliveryResult:
        record = ProspectRecord(prospect_id, tags, wanted.digest, wanted.account_id)
        await self._store.put_prospect(wanted.email, record)
        await put_sent(self._store, wanted.email, sent_after(wanted, prospect_id, sent))
        return DeliveryResult("prospect", prospect_id, action, wanted.account_id)
