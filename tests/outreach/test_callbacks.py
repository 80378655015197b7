"""The outcome callback poster: a signed POST that a receiver verifies on its own, and failures
(a 5xx, nobody listening) reported as values, not exceptions."""

from __future__ import annotations

import time

from pydantic import SecretStr

from leadgate.outreach.callbacks import CallbackPoster
from leadgate.settings import OutcomesSettings
from tests.plugins.callbacks import SECRET, CallbackReceiver


def _settings(url: str) -> OutcomesSettings:
    return OutcomesSettings(callback_url=url, callback_secret=SecretStr(SECRET))


async def test_a_signed_outcome_is_verified_by_the_receiver(
    callback_receiver: CallbackReceiver,
) -> None:
    """The receiver gets the body unchanged, a fresh timestamp, and a signature it verifies."""
    body = b'{"id": "out_1", "status": "ok"}'
    async with CallbackPoster(_settings(callback_receiver.url)) as poster:
        result = await poster.post("out_1", body)
    assert result.delivered
    assert result.status == 204
    (got,) = callback_receiver.received
    assert got.signature_ok
    assert got.body == body
    assert got.headers["webhook-id"] == "out_1"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    assert got.headers["content-type"] == "application/json"


async def test_failures_are_values(callback_receiver: CallbackReceiver) -> None:
    """A 503 and a closed port come back as undelivered results with their status or cause."""
    callback_receiver.answers.append(503)
    async with CallbackPoster(_settings(callback_receiver.url)) as poster:
        failed = await poster.post("out_2", b"{}")
    assert not failed.delivered
    assert failed.reason == "http_503"
    async with CallbackPoster(_settings("http://127.0.0.1:9/outcomes")) as poster:
        refused = await poster.post("out_3", b"{}")
    assert not refused.delivered
    assert refused.status is None
    assert refused.error == "ClientConnectorError"
