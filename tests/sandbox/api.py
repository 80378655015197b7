"""A bare JSON:API caller for the sandbox tests: raw status, headers and body, no client logic."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from tests.plugins.sandbox import SandboxHandle

JSONAPI = "application/vnd.api+json"


@dataclasses.dataclass(slots=True)
class Reply:
    """One HTTP answer."""

    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return orjson.loads(self.text)

    @property
    def error_id(self) -> str:
        return str(self.json["errors"][0]["id"])

    @property
    def detail(self) -> str:
        return str(self.json["errors"][0]["detail"])


@dataclasses.dataclass(slots=True)
class Api:
    """Requests against one sandbox with one bearer token."""

    sandbox: SandboxHandle
    token: str | None = None

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str | None = JSONAPI,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Reply:
        sent: dict[str, str] = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            if content_type is not None:
                sent["Content-Type"] = content_type
        url = path if path.startswith("http") else f"{self.sandbox.url}{path}"
        async with self.sandbox.session.request(
            method, url, data=data, headers=sent, params=params
        ) as response:
            return Reply(response.status, dict(response.headers), await response.text())

    async def get(self, path: str, **params: str) -> Reply:
        return await self.call("GET", path, params=params or None)

    async def create(self, plural: str, attributes: dict[str, Any], **rels: int) -> Reply:
        kind = plural.removesuffix("s")
        data: dict[str, Any] = {"type": kind, "attributes": attributes}
        if rels:
            data["relationships"] = {
                name: {"data": {"type": "account" if name == "account" else "user", "id": id_}}
                for name, id_ in rels.items()
            }
        return await self.call("POST", f"/api/v2/{plural}", {"data": data})

    async def patch(self, plural: str, id_: int, attributes: dict[str, Any]) -> Reply:
        kind = plural.removesuffix("s")
        body = {"data": {"type": kind, "id": id_, "attributes": attributes}}
        return await self.call("PATCH", f"/api/v2/{plural}/{id_}", body)


async def token_request(
    sandbox: SandboxHandle, *, as_json: bool = False, **params: str
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """POST /oauth/token with the dev client credentials plus ``params``."""
    form = {"client_id": sandbox.config.client_id, "client_secret": sandbox.config.client_secret}
    form.update(params)
    kwargs: dict[str, Any] = {"json": form} if as_json else {"data": form}
    async with sandbox.session.post(f"{sandbox.url}/oauth/token", **kwargs) as response:
        return response.status, await response.json(content_type=None), dict(response.headers)


async def authed(sandbox: SandboxHandle) -> Api:
    """An Api holding a fresh access token minted with the dev refresh token."""
    return Api(sandbox, await sandbox.access_token())


async def authed_with(sandbox: SandboxHandle, *scopes: str) -> Api:
    """An Api holding an access token of a refresh token of its own, granted only ``scopes``."""
    return Api(sandbox, await sandbox.token_for(await sandbox.issue_refresh_token(*scopes)))


async def enrol(api: Api, prospect_id: int, sequence_id: int = 1, mailbox_id: int = 1) -> Reply:
    """POST a sequenceState enrolling the prospect (the default org has sequence 1, mailbox 1)."""
    body: dict[str, Any] = {
        "data": {
            "type": "sequenceState",
            "relationships": {
                "prospect": {"data": {"type": "prospect", "id": prospect_id}},
                "sequence": {"data": {"type": "sequence", "id": sequence_id}},
                "mailbox": {"data": {"type": "mailbox", "id": mailbox_id}},
            },
        }
    }
    return await api.call("POST", "/api/v2/sequenceStates", body)


async def file_delete_request(api: Api, prospect_id: int) -> Reply:
    """POST a compliance request (requestType Delete) for the prospect."""
    attributes = {
        "requestType": "Delete",
        "objectType": "Prospect",
        "requestObjectId": str(prospect_id),
    }
    body = {"data": {"type": "complianceRequest", "attributes": attributes}}
    return await api.call("POST", "/api/v2/complianceRequests", body)
