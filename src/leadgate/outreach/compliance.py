"""Outreach compliance requests (docs/privacy.md): asking Outreach to delete one person's PII.

``POST /api/v2/complianceRequests`` with ``requestType`` "Delete", ``objectType`` "Prospect" and
``requestObjectId`` the prospect id (or the email address when leadgate knows no prospect id);
Outreach then moves it ``pending`` → ``running`` → ``done`` (or ``failed``) on its own time, and
``GET /api/v2/complianceRequests/{id}`` tells where it is. Needs the
``complianceRequests.write`` and ``complianceRequests.read`` scopes.
"""

from __future__ import annotations

from dataclasses import dataclass

from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import PermanentError
from leadgate.outreach.client import OutreachClient
from leadgate.outreach.jsonapi import attributes, resource_id

PATH = "/api/v2/complianceRequests"
FINAL_STATES = frozenset({"done", "failed"})


@dataclass(frozen=True, slots=True)
class ComplianceRequest:
    """One request as Outreach last described it."""

    id: int
    state: str

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def _parsed(data: object) -> ComplianceRequest:
    request_id = resource_id(data)
    if request_id is None:
        raise PermanentError(
            "Outreach answered a compliance request without an id", reason="vendor_permanent"
        )
    return ComplianceRequest(request_id, str(attributes(data).get("state") or "pending"))


class ComplianceRequests:
    """File, find and follow compliance requests through one ``OutreachClient``."""

    def __init__(self, client: OutreachClient) -> None:
        self._client = client

    async def file(self, target: str, exchanges: ExchangeRecorder) -> ComplianceRequest:
        """File a Delete request for a prospect id (or an email address)."""
        document = {
            "data": {
                "type": "complianceRequest",
                "attributes": {
                    "requestType": "Delete",
                    "objectType": "Prospect",
                    "requestObjectId": target,
                },
            }
        }
        response = await self._client.request("POST", PATH, exchanges, document=document)
        return _parsed(response.data)

    async def find(self, target: str, exchanges: ExchangeRecorder) -> ComplianceRequest | None:
        """An open or done request already filed for this target (a filing that was
        interrupted before its id was saved), else None."""
        params = {"filter[requestObjectId]": target, "sort": "-id", "page[size]": "10"}
        response = await self._client.request("GET", PATH, exchanges, params=params)
        for data in response.data or []:
            found = _parsed(data)
            if found.state != "failed":
                return found
        return None

    async def get(self, request_id: int, exchanges: ExchangeRecorder) -> ComplianceRequest:
        """Where one request is now."""
        response = await self._client.request("GET", f"{PATH}/{request_id}", exchanges)
        return _parsed(response.data)
