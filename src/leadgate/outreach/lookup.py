"""Batched lookups: the prospects (or accounts) many concurrent upserts ask for, in one GET.

Outreach's list filters take comma lists (``filter[emails]=a@x.com,b@x.com``,
``filter[domain]=a.com,b.com``; docs/outreach-api.md#listing). Every upsert that may need a lookup
takes a ``Ticket`` first; the lookups asked for are sent as soon as every ticket holder has either
asked or said it needs none (``Ticket.close``), at most ``max_wait_s`` after the first one,
one GET per ``max_keys`` keys. A lone lead is sent at once with its own one-key GET, as before.

Each waiter's trace gets its own view of the shared exchange: the path names only its key and
the response only its matches, so one person's trace never shows another's address.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from leadgate.domain.trace import ExchangeRecorder, VendorExchange
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.jsonapi import collect

Resource = dict[str, Any]
Matches = Callable[[Resource, str], bool]


@dataclass(slots=True)
class _Waiter:
    future: asyncio.Future[list[Resource]]
    exchanges: ExchangeRecorder


class BatchLookup:
    """Gathers ``filter[<name>]`` lookups of one collection into comma-list GETs."""

    def __init__(
        self,
        client: OutreachClient,
        path: str,
        name: str,
        matches: Matches,
        *,
        max_keys: int = 50,
        max_wait_s: float = 0.01,
    ) -> None:
        self._client = client
        self._path = path
        self._name = name
        self._matches = matches
        self._max_keys = max_keys
        self._max_wait_s = max_wait_s
        self._expected = 0
        self._pending: dict[str, list[_Waiter]] = {}
        self._soon: asyncio.Handle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._fetches: set[asyncio.Task[None]] = set()

    def ticket(self) -> Ticket:
        """Announce a caller that may look up a key soon (the batch waits for it)."""
        self._expected += 1
        return Ticket(self)

    async def _find(self, key: str, exchanges: ExchangeRecorder, *, expected: bool) -> Any:
        future: asyncio.Future[list[Resource]] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(key, []).append(_Waiter(future, exchanges))
        if expected:
            self._expected -= 1
        self._schedule()
        return await future

    def _arrived(self) -> None:
        self._expected -= 1
        self._schedule()

    def _schedule(self) -> None:
        if not self._pending:
            return
        loop = asyncio.get_running_loop()
        if self._expected <= 0:
            if self._soon is None:
                self._soon = loop.call_soon(self._flush)
        elif self._timer is None:
            self._timer = loop.call_later(self._max_wait_s, self._flush)

    def _flush(self) -> None:
        for handle in (self._soon, self._timer):
            if handle is not None:
                handle.cancel()
        self._soon = self._timer = None
        pending, self._pending = self._pending, {}
        keys = list(pending)
        for start in range(0, len(keys), self._max_keys):
            chunk = {key: pending[key] for key in keys[start : start + self._max_keys]}
            task = asyncio.create_task(self._fetch(chunk))
            self._fetches.add(task)
            task.add_done_callback(self._fetches.discard)

    async def _fetch(self, waiters: dict[str, list[_Waiter]]) -> None:
        keys = list(waiters)
        size = min(1000, max(50, 2 * len(keys)))
        params = {f"filter[{self._name}]": ",".join(keys), "page[size]": str(size)}
        params["count"] = "false"
        shared = ExchangeRecorder()
        try:
            found = await collect(
                self._client,
                self._path,
                params,
                shared,
                max_pages=self._client.settings.max_lookup_pages,
            )
        except asyncio.CancelledError:
            for each in waiters.values():
                for waiter in each:
                    waiter.future.cancel()
            raise
        except Exception as exc:
            for key, each in waiters.items():
                for waiter in each:
                    self._share(shared, waiter, key, len(keys), None)
                    if not waiter.future.done():
                        waiter.future.set_exception(exc)
            return
        for key, each in waiters.items():
            mine = [r for r in found if self._matches(r, key)]
            for waiter in each:
                self._share(shared, waiter, key, len(keys), mine)
                if not waiter.future.done():
                    waiter.future.set_result(mine)

    def _share(
        self,
        shared: ExchangeRecorder,
        waiter: _Waiter,
        key: str,
        batch: int,
        mine: list[Resource] | None,
    ) -> None:
        """Record the shared exchanges in one waiter's trace (stamped with its attempt)."""
        for exchange in shared:
            waiter.exchanges.record(self._view(exchange, key, batch, mine))

    def _view(
        self, exchange: VendorExchange, key: str, batch: int, mine: list[Resource] | None
    ) -> VendorExchange:
        """The exchange as one waiter's trace shows it: its key and its matches only."""
        if batch == 1:
            return exchange
        path = f"{exchange.path.partition('?')[0]}?filter[{self._name}]={key}"
        path += f" (one of {batch} in this request)"
        response = exchange.response
        if response is not None:
            response = {"data": mine if mine is not None else []}
        return replace(exchange, path=path, response=response)


class Ticket:
    """One caller's place in a ``BatchLookup``: ``find`` once, or ``close`` to say it needs none."""

    def __init__(self, lookup: BatchLookup) -> None:
        self._lookup = lookup
        self._open = True

    async def find(self, key: str, exchanges: ExchangeRecorder) -> list[Resource]:
        """The resources matching ``key`` (their exchanges recorded in ``exchanges``)."""
        expected, self._open = self._open, False
        found: list[Resource] = await self._lookup._find(key, exchanges, expected=expected)
        return found

    def close(self) -> None:
        """No (further) lookup is expected from this caller."""
        if self._open:
            self._open = False
            self._lookup._arrived()
