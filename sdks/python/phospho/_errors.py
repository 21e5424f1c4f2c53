"""Typed exceptions. Every error the SDK raises is a `PhosphoError`.

PhosphoError
├── ConfigurationError      no API key, bad base URL, bad option
├── NotInitializedError     phospho.log() before phospho.init()
└── APIError                a call to the server failed
    ├── APIConnectionError  no HTTP answer (refused, reset, DNS, TLS); retries exhausted
    │   └── APITimeoutError
    ├── AuthenticationError 401: missing, unknown or revoked API key
    ├── NotFoundError       404: e.g. feedback on an unknown event
    ├── ValidationError     400 / 413 / 422 (or refused locally before sending)
    └── RateLimitError      429 after the retries
"""

from __future__ import annotations

from typing import Any


class PhosphoError(Exception):
    """Base class of every exception raised by the phospho SDK."""


class ConfigurationError(PhosphoError, ValueError):
    """The SDK is configured wrongly (no API key, malformed base URL, invalid option)."""


class NotInitializedError(PhosphoError, RuntimeError):
    """A module-level function was called before `phospho.init()`."""


class APIError(PhosphoError):
    """A request to the phospho server failed.

    `status_code` is the HTTP status (None when no response arrived), `code` the server's
    machine-readable error code (e.g. "invalid", "unauthorized"), `message` its human message
    and `errors` the server's per-field details (`[{"loc": [...], "msg": ..., "type": ...}]`).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.errors: list[dict[str, Any]] = list(errors or [])
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})

    def __str__(self) -> str:
        if self.status_code is None:
            return self.message
        return f"{self.message} (HTTP {self.status_code})"


class APIConnectionError(APIError):
    """The server could not be reached or gave no HTTP answer, even after the retries."""


class APITimeoutError(APIConnectionError):
    """The request timed out, even after the retries."""


class AuthenticationError(APIError):
    """401: the API key is missing, malformed, unknown or revoked."""


class NotFoundError(APIError):
    """404: the object does not exist or belongs to another project."""


class ValidationError(APIError):
    """The request was refused as invalid (400, 413, 422), or locally before it was sent.

    `message` is the server's message (e.g. "body.metadata.tokens_in: must be a non-negative
    integer"); `errors` locates each problem.
    """


class RateLimitError(APIError):
    """429: too many requests, still refused after the retries.

    `retry_after` holds the server's `Retry-After` in seconds, when it sent one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
