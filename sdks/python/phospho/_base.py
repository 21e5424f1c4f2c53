"""What the sync and async clients share: configuration, encoding, retry policy, error mapping."""

from __future__ import annotations

import json
import math
import os
import platform
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from phospho._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    RateLimitError,
    ValidationError,
)
from phospho._fields import event_fields
from phospho._ids import new_event_id
from phospho._version import __version__

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
ENV_API_KEY = "PHOSPHO_API_KEY"
ENV_BASE_URL = "PHOSPHO_BASE_URL"
DEFAULT_TIMEOUT = 10.0
MAX_BATCH_EVENTS = 1000  # the server's limit per /events/batch request
MAX_ID_LENGTH = 256
EVENT_FIELDS = frozenset(
    {"input", "output", "session_id", "user_id", "metadata", "event_id", "tags", "status", "error"}
)

EVENTS_PATH = "/api/v1/events"
BATCH_PATH = "/api/v1/events/batch"

USER_AGENT = f"phospho-sdk-python/{__version__} httpx/{httpx.__version__} " + (
    f"{platform.python_implementation()}/{platform.python_version()}"
)


# --------------------------------------------------------------------------- configuration


def resolve_api_key(api_key: str | None) -> str:
    """Explicit argument, else `PHOSPHO_API_KEY`; a clear error when neither is set."""
    key = api_key if api_key is not None else os.environ.get(ENV_API_KEY)
    if key is None or not key.strip():
        raise ConfigurationError(
            'no phospho API key: pass api_key="ph_..." (e.g. phospho.init(api_key=...)) or '
            f"set the {ENV_API_KEY} environment variable"
        )
    return key.strip()


def resolve_base_url(base_url: str | None) -> str:
    """Explicit argument, else `PHOSPHO_BASE_URL`, else http://127.0.0.1:8000."""
    url = base_url if base_url is not None else os.environ.get(ENV_BASE_URL)
    url = (url or "").strip() or DEFAULT_BASE_URL
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"base_url must start with http:// or https:// (got {url!r}), "
            "e.g. https://phospho.example.com"
        )
    url = url.rstrip("/")
    if url.endswith("/api/v1"):  # tolerate a base URL copied from an endpoint
        url = url[: -len("/api/v1")]
    return url


def default_headers(api_key: str, extra: Mapping[str, str] | None) -> dict[str, str]:
    """Headers sent with every request."""
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
    headers.update(extra or {})
    return headers


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    """Refuse nonsensical numeric options early, with the option's name."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigurationError(f"{name} must be a number (got {value!r})")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigurationError(f"{name} must be {bound} (got {value!r})")


# --------------------------------------------------------------------------- retries


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter; `Retry-After` is honoured up to a bound.

    Attempt n (0-based) waits a random time in [d/2, d] with d = min(backoff_max,
    backoff * 2**n). A `Retry-After` of the server replaces that delay; when it is longer than
    `retry_after_max` the SDK stops retrying (it does not block the caller for minutes).
    """

    max_retries: int = 3
    backoff: float = 0.5
    backoff_max: float = 8.0
    retry_after_max: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number `attempt + 1`, or None to give up."""
        if attempt >= self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.retry_after_max else None
        ceiling = min(self.backoff_max, self.backoff * (2.0**attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


RETRY_STATUSES_ALWAYS = frozenset({408, 429, 503})


def retryable_status(status: int, idempotent: bool) -> bool:
    """408, 429 and 503 say "not processed, try again": always retried. Other 5xx may hide a
    stored write, so they are retried only for idempotent requests (events carry event_id)."""
    if status in RETRY_STATUSES_ALWAYS:
        return True
    return idempotent and 500 <= status <= 599


def retryable_exception(exc: Exception, idempotent: bool) -> bool:
    """Connection failures before anything was sent are always retried; failures after the
    request may have reached the server only for idempotent requests."""
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return True
    return idempotent and isinstance(
        exc, (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)
    )


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date); None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


# --------------------------------------------------------------------------- errors


_STATUS_ERRORS: dict[int, type[APIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    404: NotFoundError,
    413: ValidationError,
    422: ValidationError,
    429: RateLimitError,
}


def error_from_response(response: httpx.Response) -> APIError:
    """The typed exception for an error response, carrying the server's message."""
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    code: str | None = None
    errors: list[dict[str, Any]] = []
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        message = body["detail"]
        code = body.get("code") if isinstance(body.get("code"), str) else None
        if isinstance(body.get("errors"), list):
            errors = [item for item in body["errors"] if isinstance(item, dict)]
    else:
        text = response.text.strip()[:200] if body is None else json.dumps(body)[:200]
        reason = response.reason_phrase or "error"
        message = f"{reason} from {response.request.url}" + (f": {text}" if text else "")
    kwargs: dict[str, Any] = {
        "status_code": status,
        "code": code,
        "errors": errors,
        "body": body,
        "headers": dict(response.headers),
    }
    cls = _STATUS_ERRORS.get(status, APIError)
    if cls is RateLimitError:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return RateLimitError(message, retry_after=retry_after, **kwargs)
    return cls(message, **kwargs)


def error_from_exception(exc: Exception, url: str) -> APIError:
    """The typed exception for a request that got no HTTP answer."""
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"request to {url} timed out ({detail})")
    if isinstance(exc, httpx.ConnectError):
        return APIConnectionError(
            f"could not connect to the phospho server at {url} ({detail}); "
            "check base_url / PHOSPHO_BASE_URL and that the server is running"
        )
    return APIConnectionError(f"the connection failed during the request to {url} ({detail})")


def parse_success(response: httpx.Response) -> Any:
    """The JSON body of a 2xx response; anything else is an `APIError`."""
    if 200 <= response.status_code < 300:
        try:
            return response.json()
        except ValueError:
            pass
        message = f"the server at {response.request.url} did not answer with JSON"
    else:
        message = (
            f"unexpected HTTP {response.status_code} from {response.request.url}; "
            "is base_url the phospho server?"
        )
    raise APIError(message, status_code=response.status_code, headers=dict(response.headers))


# --------------------------------------------------------------------------- request bodies


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(
        f"{field}: {message}",
        code="invalid",
        errors=[{"loc": [field], "msg": message, "type": "value_error"}],
    )


def _check_identifier(name: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise _invalid(name, f"must be a string (got {type(value).__name__})")
    if not 1 <= len(value) <= MAX_ID_LENGTH:
        raise _invalid(name, f"must be 1 to {MAX_ID_LENGTH} characters long")
    if "\x00" in value:
        raise _invalid(name, "must not contain NUL characters")


def _canonical_event_id(value: Any) -> str:
    if value is None:
        return new_event_id()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    raise _invalid("event_id", "must be a UUID (leave it out and the SDK generates one)")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(item) for item in value)
    return False


_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def dumps(body: Any) -> bytes:
    """Strict, compact JSON (no NaN/Infinity: the server refuses them)."""
    return _encoder.encode(body).encode()


def build_event(
    input: Any,
    output: Any,
    session_id: Any = None,
    user_id: Any = None,
    metadata: Any = None,
    event_id: Any = None,
    *,
    session_default: str | None = None,
    tags: Any = None,
    status: Any = None,
    error: Any = None,
) -> tuple[dict[str, Any], bytes]:
    """Check an event locally and encode it; the event id is generated here, before any try.

    Returns the event (with its final event_id and session_id) and its JSON encoding. Problems
    that the server would refuse for the field's type raise `ValidationError` at once, so one bad
    event never poisons a background batch.
    """
    if not isinstance(input, str):
        raise _invalid("input", f"must be a string (got {type(input).__name__})")
    if not isinstance(output, str):
        raise _invalid("output", f"must be a string (got {type(output).__name__})")
    _check_identifier("session_id", session_id)
    _check_identifier("user_id", user_id)
    event: dict[str, Any] = {
        "input": input,
        "output": output,
        "event_id": _canonical_event_id(event_id),
    }
    if session_id is None:
        session_id = session_default
    if session_id is not None:
        event["session_id"] = session_id
    if user_id is not None:
        event["user_id"] = user_id
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise _invalid("metadata", f"must be a dict (got {type(metadata).__name__})")
        event["metadata"] = dict(metadata)
    event.update(event_fields(tags, status, error))
    try:
        encoded = dumps(event)
    except (TypeError, ValueError) as exc:
        raise _invalid(
            "metadata", f"must be JSON-serialisable without NaN/Infinity ({exc})"
        ) from None
    if b"\\u0000" in encoded:  # cheap pre-check; the walk below rules out false positives
        for field, value in event.items():
            if _has_nul(value):
                raise _invalid(field, "must not contain NUL (\\u0000) characters")
    return event, encoded


def build_event_from_mapping(
    item: Mapping[str, Any], index: int, session_default: str | None = None
) -> tuple[dict[str, Any], bytes]:
    """`build_event` for one item of `log_batch`; errors name the item's index."""
    if not isinstance(item, Mapping):
        raise _invalid(f"events[{index}]", f"must be a dict (got {type(item).__name__})")
    unknown = sorted(str(key) for key in item if key not in EVENT_FIELDS)
    if unknown:
        raise _invalid(f"events[{index}]", f"unknown field(s) {', '.join(unknown)}")
    for required in ("input", "output"):
        if required not in item:
            raise _invalid(f"events[{index}].{required}", "field required")
    try:
        return build_event(
            item["input"],
            item["output"],
            item.get("session_id"),
            item.get("user_id"),
            item.get("metadata"),
            item.get("event_id"),
            session_default=session_default,
            tags=item.get("tags"),
            status=item.get("status"),
            error=item.get("error"),
        )
    except ValidationError as exc:
        raise _invalid(f"events[{index}].{exc.errors[0]['loc'][0]}", exc.errors[0]["msg"]) from None


def build_feedback(score: Any, comment: Any) -> bytes:
    """Check and encode a feedback body: score is the integer 0 or 1."""
    if isinstance(score, bool) or not isinstance(score, int) or score not in (0, 1):
        raise _invalid("score", f"must be the integer 0 or 1 (got {score!r})")
    if comment is not None and not isinstance(comment, str):
        raise _invalid("comment", f"must be a string (got {type(comment).__name__})")
    body: dict[str, Any] = {"score": score}
    if comment is not None:
        body["comment"] = comment
    return dumps(body)


def feedback_path(event_id: Any) -> str:
    """The feedback URL path of an event; the id is checked to be a UUID first."""
    if isinstance(event_id, uuid.UUID):
        return f"{EVENTS_PATH}/{event_id}/feedback"
    if isinstance(event_id, str):
        try:
            return f"{EVENTS_PATH}/{uuid.UUID(event_id)}/feedback"
        except ValueError:
            pass
    raise _invalid("event_id", f"must be the UUID of a logged event (got {event_id!r})")


def batches(items: list[bytes], max_events: int, max_bytes: int) -> list[list[bytes]]:
    """Split encoded events into request-sized groups (count and byte limits)."""
    groups: list[list[bytes]] = []
    current: list[bytes] = []
    size = 0
    for item in items:
        if current and (len(current) >= max_events or size + len(item) + 1 > max_bytes):
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += len(item) + 1
    if current:
        groups.append(current)
    return groups


def batch_body(items: list[bytes]) -> bytes:
    """The /events/batch body for already-encoded events."""
    return b'{"events":[' + b",".join(items) + b"]}"
