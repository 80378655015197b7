"""The handlers every dispatcher of this process is built with: one ``register`` line per kind."""

from __future__ import annotations

from leadgate.domain.trace import ExchangeRecorder
from leadgate.outreach.accounts import AccountLinker
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.directory import Directory
from leadgate.outreach.dispatch import Dispatcher
from leadgate.outreach.opportunities import NameResolver, OpportunityWriter
from leadgate.outreach.opportunity_contacts import ContactProspects
from leadgate.outreach.opportunity_stages import OpportunityStages
from leadgate.outreach.upsert import Upserter
from leadgate.outreach.withdrawal import WithdrawalHandler
from leadgate.settings import OutreachSettings
from leadgate.store.base import StateStore
from leadgate.store.opportunities import OpportunityMemories
from leadgate.store.suppression import SuppressionList


class DirectoryOwners:
    """Owners by username (or email) through routing's user directory: one cache of users for
    prospects and opportunities alike."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    async def __call__(self, name: str, exchanges: ExchangeRecorder) -> int | None:
        """The user id of ``name``, or None when Outreach has no such user."""
        user = await self._directory.user(name, exchanges)
        return user.id if user is not None else None


def opportunity_writer(
    client: OutreachClient,
    store: StateStore,
    settings: OutreachSettings,
    upserter: Upserter,
    owners: NameResolver | None,
    suppressions: SuppressionList | None = None,
) -> OpportunityWriter:
    """The ``upsert_opportunity`` handler's writer over the same client, store and upsert."""
    pages = settings.max_lookup_pages
    return OpportunityWriter(
        client,
        OpportunityMemories(store),
        AccountLinker(client, store),
        stages=OpportunityStages(client, store, max_pages=pages),
        owners=owners,
        prospects=ContactProspects(upserter, store, suppressions),
        max_pages=pages,
    )


def build_dispatcher(
    client: OutreachClient,
    store: StateStore,
    settings: OutreachSettings,
    suppressions: SuppressionList | None = None,
) -> Dispatcher:
    """The dispatcher of the delivery worker and ``leadgate send`` (``suppressions``: forgotten
    people, never made prospects again as an opportunity's contacts)."""
    dispatcher = Dispatcher(health=client.health)
    upserter = Upserter(client, store, settings)
    dispatcher.register("upsert_prospect", upserter.upsert)
    owners = DirectoryOwners(upserter.router.directory)
    writer = opportunity_writer(client, store, settings, upserter, owners, suppressions)
    dispatcher.register("upsert_opportunity", writer.upsert)
    dispatcher.register("consent_withdrawn", WithdrawalHandler(client, store))
    return dispatcher
