"""phospho: log LLM interactions and user feedback to a phospho server.

    import phospho

    phospho.init(api_key="ph_...")              # or PHOSPHO_API_KEY; base_url / PHOSPHO_BASE_URL
    result = phospho.log(input="Hi", output="Hello!", session_id="conv_1")
    phospho.feedback(event_id=result["event_id"], score=1)

The module-level functions use one process-wide `Client` made by `init`. `Client` and
`AsyncClient` can also be used directly.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from phospho._base import DEFAULT_BASE_URL, DEFAULT_TIMEOUT
from phospho._client import (
    DEFAULT_FLUSH_INTERVAL,
    DEFAULT_FLUSH_TIMEOUT,
    DEFAULT_MAX_BATCH_BYTES,
    DEFAULT_MAX_BATCH_SIZE,
    DEFAULT_MAX_QUEUE_SIZE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_AFTER_MAX,
    DEFAULT_RETRY_BACKOFF,
    DEFAULT_RETRY_BACKOFF_MAX,
    DEFAULT_SHUTDOWN_TIMEOUT,
    AsyncClient,
    Client,
)
from phospho._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    NotInitializedError,
    PhosphoError,
    RateLimitError,
    ValidationError,
)
from phospho._types import BackgroundStats, EventInput, FeedbackResult, LogResult
from phospho._version import __version__

__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "BackgroundStats",
    "Client",
    "ConfigurationError",
    "EventInput",
    "FeedbackResult",
    "LogResult",
    "NotFoundError",
    "NotInitializedError",
    "PhosphoError",
    "RateLimitError",
    "ValidationError",
    "__version__",
    "feedback",
    "flush",
    "get_client",
    "init",
    "log",
    "log_batch",
    "shutdown",
    "stats",
]

# Public classes show as `phospho.X` in tracebacks and reprs, not `phospho._errors.X`.
for _public in (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    Client,
    ConfigurationError,
    NotFoundError,
    NotInitializedError,
    PhosphoError,
    RateLimitError,
    ValidationError,
):
    _public.__module__ = "phospho"
del _public

_lock = threading.Lock()
_client: Client | None = None


def _reset_lock_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a thread of the parent may have held it at fork time


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_in_child)


def init(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    background: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    max_retries: int = DEFAULT_MAX_RETRIES,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF,
    retry_backoff_max: float = DEFAULT_RETRY_BACKOFF_MAX,
    retry_after_max: float = DEFAULT_RETRY_AFTER_MAX,
    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
    flush_interval: float = DEFAULT_FLUSH_INTERVAL,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    headers: Mapping[str, str] | None = None,
) -> Client:
    """Configure the process-wide client used by `phospho.log` and `phospho.feedback`.

    Calling it again replaces the client; the previous one is flushed and closed. Safe to call
    from several threads. Returns the new `Client`. See `Client` for the options.
    """
    global _client
    client = Client(
        api_key=api_key,
        base_url=base_url,
        background=background,
        timeout=timeout,
        max_retries=max_retries,
        retry_backoff=retry_backoff,
        retry_backoff_max=retry_backoff_max,
        retry_after_max=retry_after_max,
        max_queue_size=max_queue_size,
        max_batch_size=max_batch_size,
        max_batch_bytes=max_batch_bytes,
        flush_interval=flush_interval,
        shutdown_timeout=shutdown_timeout,
        headers=headers,
    )
    with _lock:
        previous, _client = _client, client
    if previous is not None:
        previous.close()
    return client


def get_client() -> Client:
    """The client configured by `init`; `NotInitializedError` before that."""
    client = _client
    if client is None:
        raise NotInitializedError(
            'phospho is not initialised: call phospho.init(api_key="ph_...") once at start-up '
            "before phospho.log() or phospho.feedback() (the key can also come from the "
            "PHOSPHO_API_KEY environment variable: phospho.init())"
        )
    return client


def log(
    input: str,
    output: str,
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    event_id: str | None = None,
    tags: Sequence[str] | None = None,
    status: Literal["ok", "error"] | None = None,
    error: str | None = None,
) -> LogResult:
    """Log one LLM interaction with the client made by `init`; returns a dict with
    `event_id`, `session_id`, `created_at` and `feedback_token`. See `Client.log`."""
    return get_client().log(
        input,
        output,
        session_id=session_id,
        user_id=user_id,
        metadata=metadata,
        event_id=event_id,
        tags=tags,
        status=status,
        error=error,
    )


def log_batch(events: Iterable[Mapping[str, Any]]) -> list[LogResult]:
    """Log many events at once. See `Client.log_batch`."""
    return get_client().log_batch(events)


def feedback(event_id: str, score: int, *, comment: str | None = None) -> FeedbackResult:
    """Attach feedback (1 = positive, 0 = negative) to a logged event. See `Client.feedback`."""
    return get_client().feedback(event_id, score, comment=comment)


def flush(timeout: float = DEFAULT_FLUSH_TIMEOUT) -> bool:
    """Background mode: wait at most `timeout` seconds for queued events to be sent. Returns
    True when everything went out. Never raises or hangs; True when nothing is pending."""
    client = _client
    return True if client is None else client.flush(timeout)


def stats() -> BackgroundStats:
    """Counters of the background sender (queued, sent, dropped, failed)."""
    return get_client().stats()


def shutdown(timeout: float | None = None) -> bool:
    """Flush and close the client made by `init` (also done automatically at exit)."""
    global _client
    with _lock:
        client, _client = _client, None
    return True if client is None else client.close(timeout)
