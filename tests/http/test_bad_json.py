"""Bad JSON bodies (docs/reliability.md H1, H2, H7-H10, H26, H27): a 400 with a code, nothing
produced, and an error body that never echoes the input."""

from __future__ import annotations

import aiohttp
import pytest

from tests.plugins.collector import WRITE_KEY, CollectorHandle, basic

TRACK_HEAD = b'{"anonymousId": "a-1", "event": "Demo Requested", '

CASES = [
    pytest.param(b'{"anonymousId": "a-1", "event": ', "invalid_json", id="H1-truncated"),
    pytest.param(b"not json at all <script>", "invalid_json", id="H1-not-json"),
    pytest.param(b"", "invalid_json", id="H1-empty"),
    pytest.param(b"[1, 2]", "invalid_shape", id="H2-array"),
    pytest.param(b"42", "invalid_shape", id="H2-number"),
    pytest.param(b"null", "invalid_shape", id="H2-null"),
    pytest.param(b'"a string"', "invalid_shape", id="H2-string"),
    pytest.param(
        TRACK_HEAD + b'"properties": {"x": "\xff\xfe"}}', "invalid_encoding", id="H7-utf8"
    ),
    pytest.param(
        TRACK_HEAD + b'"properties": {"x": "\\ud800"}}', "invalid_encoding", id="H7-surrogate"
    ),
    pytest.param(b"[" * 100_000, "too_deep", id="H8-100k-brackets"),
    pytest.param(
        TRACK_HEAD + b'"properties": ' + b'{"a": ' * 40 + b"1" + b"}" * 40 + b"}",
        "too_deep",
        id="H8-depth-40",
    ),
    pytest.param(TRACK_HEAD + b'"properties": {"x": NaN}}', "invalid_number", id="H9-nan"),
    pytest.param(TRACK_HEAD + b'"properties": {"x": -Infinity}}', "invalid_number", id="H9-inf"),
    pytest.param(TRACK_HEAD + b'"properties": {"x": 1e999}}', "invalid_number", id="H9-overflow"),
    pytest.param(
        TRACK_HEAD + b'"properties": {"x": ' + b"9" * 5000 + b"}}", "invalid_number", id="H9-5000"
    ),
    pytest.param(
        b'{"userId": "a", "userId": "b", "event": "Demo Requested"}',
        "duplicate_key",
        id="H10-duplicate",
    ),
]


@pytest.mark.parametrize(("body", "code"), CASES)
async def test_bad_json_is_refused_with_its_code(
    collector: CollectorHandle, http: aiohttp.ClientSession, body: bytes, code: str
) -> None:
    """Each kind of bad JSON gets 400 and its own error code; nothing reaches Kafka."""
    headers = {**basic(WRITE_KEY), "Content-Type": "application/json"}
    path = "/v1/batch" if len(body) > 30_000 else "/v1/track"  # within the body caps
    async with http.post(f"{collector.url}{path}", data=body, headers=headers) as r:
        assert r.status == 400
        payload = await r.json()
    assert payload["success"] is False
    assert payload["error"]["code"] == code
    assert "<script>" not in payload["error"]["message"]
    assert await collector.records() == []


async def test_hostile_keys_and_markup_are_plain_data(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """__proto__/constructor/$where/dotted keys, <script> and CRLF in values are stored
    verbatim as data (H26, H27)."""
    properties = {
        "__proto__": {"admin": True},
        "constructor": "x",
        "$where": "1 == 1",
        "a.b.c": 1,
        "note": '<script>alert("x")</script>\r\nSet-Cookie: y=1',
    }
    event = {"anonymousId": "a-1", "event": "Lead Submitted", "properties": properties}
    async with http.post(f"{collector.url}/v1/track", json=event, headers=basic(WRITE_KEY)) as r:
        assert r.status == 200
    [record] = await collector.records()
    assert record.value["properties"] == properties


async def test_too_many_properties_are_refused(
    collector: CollectorHandle, http: aiohttp.ClientSession
) -> None:
    """An event with more object keys than allowed (10 000 properties) is refused (H26)."""
    event = {
        "type": "track",
        "anonymousId": "a-1",
        "event": "Lead Submitted",
        "properties": {f"p{i}": 1 for i in range(10_000)},
    }
    async with http.post(
        f"{collector.url}/v1/batch", json={"batch": [event]}, headers=basic(WRITE_KEY)
    ) as r:
        body = await r.json()
    assert body["errors"] == [
        {"index": 0, "code": "too_many_keys", "message": body["errors"][0]["message"]}
    ]
    few_big = {"anonymousId": "a-1", "event": "X", "properties": {f"k{i}": i for i in range(1001)}}
    async with http.post(f"{collector.url}/v1/track", json=few_big, headers=basic(WRITE_KEY)) as r:
        assert r.status == 400
        assert (await r.json())["error"]["code"] == "too_many_keys"
    assert await collector.records() == []
