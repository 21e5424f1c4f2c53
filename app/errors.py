"""The project's own exceptions. Services raise these; each API layer maps them in one place."""

from __future__ import annotations

from typing import Any


class PhosphoError(Exception):
    """Base class: a failure that is safe to describe to the client."""

    status_code = 400
    code = "bad_request"
    # Seconds after which a retry can succeed: sent as `Retry-After` (429 and 503 only).
    retry_after: int | None = None

    def __init__(
        self,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        if retry_after is not None:
            self.retry_after = retry_after


class Invalid(PhosphoError):
    """The request is well-formed JSON but breaks a rule; `details` locate each problem."""

    status_code = 422
    code = "invalid"


class MalformedBody(PhosphoError):
    """The body is not JSON we can read at all."""

    status_code = 400
    code = "malformed_body"


class Unauthorized(PhosphoError):
    """Missing, malformed, unknown or revoked credentials (all look the same to the client)."""

    status_code = 401
    code = "unauthorized"


class Forbidden(PhosphoError):
    """Authenticated, but not allowed to do this."""

    status_code = 403
    code = "forbidden"


class NotFound(PhosphoError):
    """The object does not exist, or belongs to another tenant (indistinguishable on purpose)."""

    status_code = 404
    code = "not_found"


class Conflict(PhosphoError):
    """The request clashes with stored data it may not see (e.g. an event id taken elsewhere)."""

    status_code = 409
    code = "conflict"


class PayloadTooLarge(PhosphoError):
    """The body is larger than the configured limit."""

    status_code = 413
    code = "payload_too_large"


class TooManyRequests(PhosphoError):
    """Too many attempts in a short time; the client should wait `retry_after` seconds."""

    status_code = 429
    code = "too_many_requests"
    retry_after = 1


class Unavailable(PhosphoError):
    """A condition a retry can get past (overload, shutdown, the database out of reach): the
    client should retry after `retry_after` seconds. Never for input that can never be stored."""

    status_code = 503
    code = "unavailable"
    retry_after = 1


class Internal(PhosphoError):
    """A server fault (a bug, a broken database): logged with its traceback; retrying the same
    request will not help, so it is never a 503."""

    status_code = 500
    code = "internal"
