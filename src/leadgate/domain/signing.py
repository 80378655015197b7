"""Signing outbound webhooks the Standard Webhooks way (standardwebhooks.com).

Headers ``webhook-id`` (the message id, the same on every retry), ``webhook-timestamp`` (integer
epoch seconds) and ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``. A secret
written ``whsec_<base64>`` is the base64-decoded key, as the specification's libraries read it;
any other secret is used as its UTF-8 bytes. Pure: the caller passes the time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"  # noqa: S105 -- the public prefix of a secret, not a secret
# Receivers refuse timestamps further than this from their clock (replay protection).
TOLERANCE_S = 5 * 60


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret (``whsec_<base64>`` decoded, else the text's bytes)."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except binascii.Error:
            raise ValueError("a whsec_ secret must be base64 after its prefix") from None
    return secret.encode()


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64>`` over ``id.timestamp.body``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of one signed delivery."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, message_id, timestamp, body),
    }


def verify(key: bytes, headers: dict[str, str], body: bytes, now: float) -> bool:
    """True when one of the space-separated ``v1`` signatures matches and the timestamp is
    within ``TOLERANCE_S`` of ``now`` (what a receiver checks)."""
    message_id = headers.get("webhook-id", "")
    raw_time = headers.get("webhook-timestamp", "")
    if not message_id or not raw_time.isdigit() or abs(now - int(raw_time)) > TOLERANCE_S:
        return False
    expected = signature(key, message_id, int(raw_time), body)
    offered = headers.get("webhook-signature", "").split(" ")
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)
