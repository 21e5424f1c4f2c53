"""Feedback tokens: a signed grant to rate one event, handed to a browser instead of a key.

Every log answer carries one per event (`feedback_token`); `POST /api/v1/feedback`
(app/api/feedback_tokens.py) takes it instead of an API key. A token names the event, its
project, the API key that logged it and an expiry, and is signed with a key derived from the
server's secret key for this purpose only (HMAC-SHA256 of a fixed label), so the secret key
itself never signs anything a client sees.

The token is bytes, not JSON: version, event id, project, key, expiry (unix seconds), then a
16-byte keyed BLAKE2b tag over them (a MAC by design, stdlib, half HMAC-SHA256's cost here),
base64url after a `phf_` prefix (80 characters), compared in constant time. `itsdangerous`'
serializers (JSON, base64, HMAC of the text) cost several times more per token (figures in
the README); a batch of 100 events signs 100 tokens. The expiry is the event's `created_at`
plus the TTL, so a retry of a stored event gets the very token its first answer had (answers
to retries are identical).

Naming the key means revoking it ends its tokens too: feedback goes through the Ingestor as
that key, and the write plan refuses a revoked key inside the commit (as for keyed feedback).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.errors import Unauthorized
from app.services.keys import Principal

PREFIX = "phf_"
VERSION = 1
# version, event id, project id, key id, expiry in unix seconds
_PAYLOAD = struct.Struct(">B16sQQQ")
MAC_BYTES = 16  # a 128-bit tag: forging one is 2^128 work
_RAW_BYTES = _PAYLOAD.size + MAC_BYTES
TOKEN_LENGTH = len(PREFIX) + len(base64.urlsafe_b64encode(bytes(_RAW_BYTES)).rstrip(b"="))
_PADDING = "=" * (-(TOKEN_LENGTH - len(PREFIX)) % 4)
_PURPOSE = b"phospho feedback token v1"

INVALID_MESSAGE = "invalid feedback token: send the feedback_token of the event's log answer"
EXPIRED_MESSAGE = "the feedback token has expired: feedback on this event is closed"
MISSING_MESSAGE = "missing feedback token: send {token, score, comment}"


def derive_key(secret_key: str) -> bytes:
    """The signing key of feedback tokens, derived from the server's secret key."""
    return hmac.digest(secret_key.encode(), _PURPOSE, "sha256")


@dataclass(frozen=True, slots=True)
class FeedbackGrant:
    """What a valid token allows: feedback on `event_id`, as the key that logged it."""

    event_id: uuid.UUID
    principal: Principal
    expires_at: int
    # The signed bytes: one value per token, whatever its text (the per-token rate limit's key).
    signed: bytes


class FeedbackTokens:
    """Signs and verifies feedback tokens; `use_secret` must run before either (at start)."""

    __slots__ = ("_clock", "_key", "ttl_seconds")

    def __init__(self, ttl_seconds: int = 86_400, clock: Callable[[], float] = time.time) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._key: bytes | None = None

    def use_secret(self, secret_key: str) -> None:
        """Derive the signing key from the server's secret key."""
        self._key = derive_key(secret_key)

    @property
    def key(self) -> bytes:
        """The signing key (the server has started)."""
        if self._key is None:
            raise RuntimeError("FeedbackTokens.use_secret has not run")
        return self._key

    def sign(self, principal: Principal, event_id: uuid.UUID, created_at: datetime) -> str:
        """The token for feedback on one event logged by `principal`, valid for the TTL after
        the event's creation."""
        expires = int(created_at.timestamp()) + self.ttl_seconds
        payload = _PAYLOAD.pack(
            VERSION, event_id.bytes, principal.project_id, principal.key_id, expires
        )
        mac = hashlib.blake2b(payload, key=self.key, digest_size=MAC_BYTES).digest()
        return PREFIX + base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode("ascii")

    def verify(self, token: Any) -> FeedbackGrant:
        """The grant of a genuine, unexpired token; Unauthorized (401) otherwise."""
        if token is None:
            raise Unauthorized(MISSING_MESSAGE)
        if (
            not isinstance(token, str)
            or len(token) != TOKEN_LENGTH
            or not token.startswith(PREFIX)
            or not token.isascii()
        ):
            raise Unauthorized(INVALID_MESSAGE)
        try:
            raw = base64.b64decode(token[len(PREFIX) :] + _PADDING, b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise Unauthorized(INVALID_MESSAGE) from None
        payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
        expected = hashlib.blake2b(payload, key=self.key, digest_size=MAC_BYTES).digest()
        if not hmac.compare_digest(mac, expected):
            raise Unauthorized(INVALID_MESSAGE)
        version, event, project_id, key_id, expires = _PAYLOAD.unpack(payload)
        if version != VERSION or key_id == 0:
            raise Unauthorized(INVALID_MESSAGE)
        if self._clock() >= expires:
            raise Unauthorized(EXPIRED_MESSAGE)
        return FeedbackGrant(
            uuid.UUID(bytes=event), Principal(key_id, project_id), expires, payload
        )
