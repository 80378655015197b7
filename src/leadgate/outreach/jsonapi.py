"""JSON:API reading helpers: resource fields and bounded collection paging (V19)."""

from __future__ import annotations

from typing import Any

from yarl import URL

from leadgate.domain.reasons import RetryReason
from leadgate.domain.trace import ExchangeRecorder
from leadgate.errors import PermanentError, RetriableError
from leadgate.outreach.classify import Verdict
from leadgate.outreach.client import OutreachClient


def resource_id(resource: object) -> int | None:
    """The integer id of a resource object (Outreach ids are integers)."""
    if isinstance(resource, dict):
        value = resource.get("id")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def attributes(resource: object) -> dict[str, Any]:
    """A resource's attributes ({} when missing)."""
    if isinstance(resource, dict) and isinstance(resource.get("attributes"), dict):
        return dict(resource["attributes"])
    return {}


def related_id(resource: object, name: str) -> int | None:
    """The id of a to-one relationship (``relationships.<name>.data.id``), if set."""
    if not isinstance(resource, dict):
        return None
    relationships = resource.get("relationships")
    if not isinstance(relationships, dict):
        return None
    relation = relationships.get(name)
    return resource_id(relation.get("data")) if isinstance(relation, dict) else None


async def collect(
    client: OutreachClient,
    path: str,
    params: dict[str, str],
    exchanges: ExchangeRecorder,
    *,
    max_pages: int,
) -> list[dict[str, Any]]:
    """Every resource of a filtered list, following ``links.next`` for at most ``max_pages``."""
    url = client.url(path, params)
    origin = url.origin()
    visited = {str(url)}
    found: list[dict[str, Any]] = []
    for _ in range(max_pages):
        response = await client.request("GET", url, exchanges)
        data = response.data
        if response.verdict is not Verdict.OK or not isinstance(data, list):
            raise RetriableError(
                f"GET {path}: Outreach answered {response.status} without a list",
                reason=RetryReason.VENDOR_AMBIGUOUS,
                status=response.status,
            )
        found.extend(item for item in data if isinstance(item, dict))
        links = response.document.get("links") if response.document else None
        following = links.get("next") if isinstance(links, dict) else None
        if not following:
            return found
        url = _absolute(url, str(following))
        if url.origin() != origin or str(url) in visited:
            raise PermanentError(
                f"GET {path}: Outreach's links.next loops or leaves the API host",
                reason="vendor_permanent",
            )
        visited.add(str(url))
    raise PermanentError(
        f"GET {path}: more than {max_pages} pages for one lookup", reason="vendor_permanent"
    )


def _absolute(current: URL, link: str) -> URL:
    """``links.next`` is absolute in Outreach; resolve a relative one against the current page."""
    target = URL(link)
    return target if target.is_absolute() else current.join(target)
