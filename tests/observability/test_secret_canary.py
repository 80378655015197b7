"""P32/P33 end to end: planted secrets and visitors' emails never show in any output.

The stack runs with canary values for the write key, the OAuth client secret, the refresh token,
the stored access token (rejected by the sandbox, so the 401-refresh path runs) and the inspector
token. A lead is delivered, events are dropped, a lead is dead-lettered by a 422, and the
collector answers errors; then every output is searched for each canary in its raw, URL-encoded
and base64 forms. To cover a new output, add a collector to ``_outputs``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson

from leadgate.observability.masking import secret_forms
from tests.observability.conftest import MakeStack, Stack
from tests.plugins.collector import basic
from tests.plugins.events import build_event, consent
from tests.plugins.streams import read_topic

EMAILS = ("ada.lovelace@analytical-engines.io", "grace.hopper@cobol-works.io", "sam@noconsent.io")


async def _poll(condition: Callable[[], Awaitable[bool]], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


def _lead(email: str, event: str = "Lead Submitted", **context: Any) -> dict[str, Any]:
    return build_event(
        "track",
        event=event,
        context={"traits": {"email": email, "phone": "+44 7700 900123"}, **context},
    )


async def _send(
    http: aiohttp.ClientSession, stack: Stack, event: dict[str, Any] | None, **kw: Any
) -> tuple[int, str]:
    headers = kw.pop("headers", basic(stack.canaries.write_key))
    async with http.post(stack.url + "/v1/track", headers=headers, **kw, json=event) as response:
        return response.status, await response.text()


async def _outputs(stack: Stack, http: aiohttp.ClientSession, errors: list[str]) -> dict[str, str]:
    """Every output a person or a system could read, by name."""
    kafka = stack.settings.kafka
    traces = await read_topic(kafka.bootstrap_servers, kafka.traces_topic)
    dead = await read_topic(kafka.bootstrap_servers, kafka.deadletter_topic)
    listing = await stack.inspector_json(http, "/inspector/api/events?limit=1000")
    details = [
        orjson.dumps(await stack.inspector_json(http, f"/inspector/api/events/{e['messageId']}"))
        for e in listing["events"]
    ]
    async with http.get(stack.url + "/metrics") as response:
        metrics = await response.text()
    return {
        "logs": stack.logs.getvalue(),
        "traces": "\n".join(r.value.decode("utf-8", "replace") for r in traces),
        "inspector": orjson.dumps(listing).decode() + b"\n".join(details).decode(),
        "metrics": metrics,
        "deadletter values": "\n".join(r.value.decode("utf-8", "replace") for r in dead),
        "deadletter headers": repr([r.headers for r in dead]),
        "error bodies": "\n".join(errors),
    }


async def test_no_canary_secret_and_no_raw_email_in_any_output(make_stack: MakeStack) -> None:
    """After deliveries, drops, a dead letter and rejected requests, no output holds a planted
    secret in any encoding, and logs, metrics, inspector and dead-letter headers hold no email."""
    stack = await make_stack()
    delivered, dead, no_consent = EMAILS
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        first = _lead(delivered, **consent("marketing"))
        assert (await _send(http, stack, first))[0] == 200
        assert (await _send(http, stack, _lead(no_consent)))[0] == 200
        unmapped = _lead(delivered, event="Video Played", **consent("marketing"))
        assert (await _send(http, stack, unmapped))[0] == 200

        async def outcome_of(message_id: str, wanted: str) -> bool:
            async with http.get(
                stack.url + f"/inspector/api/events/{message_id}", headers=stack.inspector_auth
            ) as response:
                return response.status == 200 and (await response.json())["outcome"] == wanted

        await _poll(lambda: outcome_of(first["messageId"], "delivered"))
        await stack.sandbox.faults(status=422, count=50, method="POST")
        second = _lead(dead, event="Signed Up", **consent("marketing"))
        assert (await _send(http, stack, second))[0] == 200
        await _poll(lambda: outcome_of(second["messageId"], "dead_lettered"))
        await _poll(lambda: outcome_of(unmapped["messageId"], "dropped"))

        errors = [
            (await _send(http, stack, first, headers=basic(stack.canaries.write_key + "x")))[1],
            (await _send(http, stack, first, headers={"Authorization": "Bearer nope"}))[1],
            (await _send(http, stack, None, data=b"{not json", headers=basic("wk-canary")))[1],
        ]
        async with http.get(stack.url + "/inspector/api/events") as response:
            errors.append(await response.text())
        outputs = await _outputs(stack, http, errors)

    assert outputs["logs"]
    assert outputs["traces"]
    assert outputs["deadletter values"]
    statuses = [r["status"] for r in await stack.sandbox.requests()]
    assert 401 in statuses, "the planted access token was never tried"
    for name, value in stack.canaries.values().items():
        for form in secret_forms(value):
            hits = [where for where, text in outputs.items() if form in text]
            assert not hits, f"canary {name} ({form!r}) found in {hits}"
    for where in ("logs", "metrics", "inspector", "deadletter headers", "error bodies"):
        for email in EMAILS:
            assert email not in outputs[where], f"{email} in {where}"
