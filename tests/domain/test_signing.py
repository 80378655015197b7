"""Standard Webhooks signing: the signature a receiver recomputes from id, timestamp and body,
the whsec_ secret form, and what a receiver refuses (a changed body, an old timestamp)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from leadgate.domain.signing import secret_key, sign, verify

KEY = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")


def test_signature_is_base64_hmac_of_id_timestamp_body() -> None:
    """v1,<base64 HMAC-SHA256 of "id.timestamp.body">, computed here independently."""
    body = b'{"test": 2432232314}'
    headers = sign(KEY, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    expected = hmac.new(KEY, b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330." + body, hashlib.sha256)
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1," + base64.b64encode(expected.digest()).decode(),
    }


def test_the_specifications_example_vector() -> None:
    """The example in the Standard Webhooks specification signs to its published signature."""
    key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    headers = sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_whsec_secrets_are_base64_keys_and_others_are_text() -> None:
    """``whsec_<base64>`` decodes to its key; any other secret is its UTF-8 bytes."""
    assert secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == KEY
    assert secret_key("plain secret") == b"plain secret"
    with pytest.raises(ValueError, match="base64"):
        secret_key("whsec_not base64!")


def test_receiver_accepts_the_real_thing_and_refuses_changes() -> None:
    """A receiver verifies the signature and refuses a changed body, a foreign key or an old
    timestamp; any of several space-separated signatures may match (key rotation)."""
    body = b'{"id": "out_1"}'
    headers = sign(KEY, "out_1", 1_700_000_000, body)
    assert verify(KEY, headers, body, now=1_700_000_010)
    assert not verify(KEY, headers, body + b" ", now=1_700_000_010)
    assert not verify(b"other", headers, body, now=1_700_000_010)
    assert not verify(KEY, headers, body, now=1_700_000_000 + 301)
    rotated = {**headers, "webhook-signature": "v1,AAAA " + headers["webhook-signature"]}
    assert verify(KEY, rotated, body, now=1_700_000_000)
