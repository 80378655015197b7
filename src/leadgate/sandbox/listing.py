"""Collection GETs: ``filter[...]`` (legacy syntax: comma lists, inclusive ``a..b`` ranges of ids
and of ``updatedAt``/``createdAt`` with ``inf``/``neginf`` open ends, relationship ids; the new
syntax's ``filter[updatedAt][gte]=...``), ``sort``, and cursor pagination with an opaque
``page[after]`` inside an absolute ``links.next`` that is absent on the last page
(docs/outreach-api.md#listing, #change-feeds).
"""

from __future__ import annotations

import base64
import operator
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from yarl import URL

from leadgate.sandbox.errors import ApiError, bad_request
from leadgate.sandbox.schema import CASELESS_FILTERS, ResourceSchema
from leadgate.sandbox.store import Record, email_key, iso_ms

DEFAULT_PAGE = 50
MAX_PAGE = 1000
_FILTER = re.compile(r"^filter\[(\w+)\](?:\[(\w+)\])?$")

Predicate = Callable[[Record], bool]


def _value(record: Record, name: str) -> Any:
    if name == "id":
        return record.id
    if name == "createdAt":
        return iso_ms(record.created)
    if name == "updatedAt":
        return iso_ms(record.updated)
    return record.attributes.get(name)


def _id_predicate(raw: str) -> Predicate:
    """``filter[id]=1,2,3`` or ``filter[id]=5..10`` (inclusive, ``inf``/``neginf`` open)."""
    try:
        if ".." in raw:
            low, _, high = raw.partition("..")
            lo = float("-inf") if low in ("", "neginf") else int(low)
            hi = float("inf") if high in ("", "inf") else int(high)
            return lambda r: lo <= r.id <= hi
        wanted = {int(v) for v in raw.split(",") if v}
    except ValueError:
        raise ApiError(
            bad_request(
                "filterParameter.invalidValue",
                "Invalid Filter Value",
                "filter[id] takes integers, a comma list or a range a..b.",
            )
        ) from None
    return lambda r: r.id in wanted


_STAMPS = frozenset({"updatedAt", "createdAt"})
_BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "gte": operator.ge,
    "gt": operator.gt,
    "lte": operator.le,
    "lt": operator.lt,
}


def _ms(record: Record, name: str) -> int:
    """A timestamp as the API shows it (whole milliseconds), so a bound read back matches."""
    return int((record.updated if name == "updatedAt" else record.created) * 1000)


def _parse_ms(name: str, raw: str) -> int:
    """An ISO-8601 bound in milliseconds; 400 ``filterParameter.invalidDatetimeFormat`` if not."""
    try:
        stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            bad_request(
                "filterParameter.invalidDatetimeFormat",
                "Invalid Datetime Format",
                f"filter[{name}] takes ISO-8601 timestamps, e.g. 2026-11-01T00:00:00.000Z..inf.",
            )
        ) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return round(stamp.timestamp() * 1000)


def _stamp_predicate(name: str, raw: str) -> Predicate:
    """``filter[updatedAt]=a..b`` (inclusive; ``neginf``/``inf`` or empty for an open end) or one
    exact timestamp."""
    low, sep, high = raw.partition("..")
    if not sep:
        exact = _parse_ms(name, raw)
        return lambda r: _ms(r, name) == exact
    lo = None if low in ("", "neginf") else _parse_ms(name, low)
    hi = None if high in ("", "inf") else _parse_ms(name, high)
    return lambda r: (lo is None or _ms(r, name) >= lo) and (hi is None or _ms(r, name) <= hi)


def _bound_predicate(name: str, bound: str, raw: str) -> Predicate:
    """The new filter syntax's ``filter[updatedAt][gte]=...`` (and ``gt``, ``lte``, ``lt``)."""
    compare = _BOUNDS[bound]
    if name == "id":
        try:
            limit = int(raw)
        except ValueError:
            raise ApiError(_unknown_filter(f"filter[id][{bound}]")) from None
        return lambda r: compare(r.id, limit)
    stamp = _parse_ms(name, raw)
    return lambda r: compare(_ms(r, name), stamp)


def _attribute_predicate(name: str, raw: str) -> Predicate:
    caseless = name in CASELESS_FILTERS
    wanted = {email_key(v) if caseless else v for v in raw.split(",") if v}

    def matches(record: Record) -> bool:
        value = _value(record, name)
        values = value if isinstance(value, list) else [value]
        found = {email_key(v) if caseless and isinstance(v, str) else str(v) for v in values}
        return bool(found & wanted)

    return matches


def _relationship_predicate(name: str, raw: str) -> Predicate:
    wanted = {v for v in raw.split(",") if v}

    def matches(record: Record) -> bool:
        link = record.relationships.get(name)
        return str(link[1]) in wanted if link else "__null__" in wanted

    return matches


def filters(schema: ResourceSchema, query: Mapping[str, str]) -> list[Predicate]:
    """One predicate per ``filter[...]`` parameter; unknown names are a 400."""
    predicates: list[Predicate] = []
    for key, raw in query.items():
        match = _FILTER.match(key)
        if not key.startswith("filter["):
            continue
        if match is None:
            raise ApiError(_unknown_filter(key))
        name, sub = match.groups()
        if sub is not None and sub in _BOUNDS and (name == "id" or name in _STAMPS):
            predicates.append(_bound_predicate(name, sub, raw))
        elif sub is not None:
            if name not in schema.relationships or sub != "id":
                raise ApiError(_unknown_filter(key))
            predicates.append(_relationship_predicate(name, raw))
        elif name == "id":
            predicates.append(_id_predicate(raw))
        elif name in _STAMPS:
            predicates.append(_stamp_predicate(name, raw))
        elif name in schema.writable or name in schema.read_only:
            predicates.append(_attribute_predicate(name, raw))
        else:
            raise ApiError(_unknown_filter(key))
    return predicates


def _unknown_filter(key: str) -> Any:
    return bad_request(
        "filterParameter.unknownAttribute",
        "Unknown Filter Attribute",
        f"'{key}' is not a filterable attribute.",
    )


def _sort_key(schema: ResourceSchema, raw: str | None) -> list[tuple[str, bool]]:
    if not raw:
        return [("id", False)]
    keys: list[tuple[str, bool]] = []
    for part in raw.split(","):
        name = part.removeprefix("-")
        if name != "id" and name not in schema.writable and name not in schema.read_only:
            raise ApiError(
                bad_request(
                    "sortParameter.unknownAttribute",
                    "Unknown Sort Attribute",
                    f"'{name}' is not a sortable attribute.",
                )
            )
        keys.append((name, part.startswith("-")))
    return keys


def _comparable(value: Any) -> tuple[bool, bool, Any]:
    """A sort key that never compares None, numbers and strings with each other."""
    if value is None:
        return (True, False, 0)
    if isinstance(value, (int, float)):
        return (False, False, value)
    return (False, True, str(value))


def _ordered(records: list[Record], keys: list[tuple[str, bool]]) -> list[Record]:
    ordered = sorted(records, key=lambda r: r.id)
    for name, descending in reversed(keys):
        ordered.sort(key=lambda r: _comparable(_value(r, name)), reverse=descending)
    return ordered


def _page_size(query: Mapping[str, str]) -> int:
    raw = query.get("page[size]", query.get("page[limit]", str(DEFAULT_PAGE)))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise ApiError(
            bad_request(
                "pageParameter.invalidSize",
                "Invalid Page Size",
                f"page[size] must be an integer from 1 to {MAX_PAGE}.",
            )
        )
    return int(raw)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(raw: str) -> int:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        if text.startswith("o:") and text[2:].isdigit():
            return int(text[2:])
    except (ValueError, UnicodeDecodeError):
        pass
    raise ApiError(
        bad_request(
            "pageParameter.invalidCursor",
            "Invalid Page Cursor",
            "page[after] is not a cursor this server issued.",
        )
    )


def page(
    schema: ResourceSchema, records: list[Record], url: URL
) -> tuple[list[Record], dict[str, str], int]:
    """The requested page, its ``links`` and the filtered total (for ``count=true``)."""
    query = url.query
    predicates = filters(schema, query)
    matched = [r for r in records if all(p(r) for p in predicates)]
    ordered = _ordered(matched, _sort_key(schema, query.get("sort")))
    size = _page_size(query)
    offset = _decode_cursor(query["page[after]"]) if "page[after]" in query else 0
    chunk = ordered[offset : offset + size]
    first = url.without_query_params("page[after]")
    links = {"first": str(first)}
    if offset + size < len(ordered):
        links["next"] = str(url.update_query({"page[after]": encode_cursor(offset + size)}))
    return chunk, links, len(matched)
