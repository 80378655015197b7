"""The handlers every dispatcher of this process is built with: one ``register`` line per kind."""

from __future__ import annotations

from leadgate.outreach.client import OutreachClient
from leadgate.outreach.dispatch import Dispatcher
from leadgate.outreach.upsert import Upserter
from leadgate.outreach.withdrawal import WithdrawalHandler
from leadgate.settings import OutreachSettings
from leadgate.store.base import StateStore


def build_dispatcher(
    client: OutreachClient, store: StateStore, settings: OutreachSettings
) -> Dispatcher:
    """The dispatcher of the delivery worker and ``leadgate send``."""
    dispatcher = Dispatcher(health=client.health)
    dispatcher.register("upsert_prospect", Upserter(client, store, settings).upsert)
    dispatcher.register("consent_withdrawn", WithdrawalHandler(client, store))
    return dispatcher
