"""`Client` (blocking or background) and `AsyncClient`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, cast

import httpx

from phospho._background import BackgroundSender, FeedbackItem
from phospho._base import (
    BATCH_PATH,
    DEFAULT_TIMEOUT,
    EVENTS_PATH,
    MAX_BATCH_EVENTS,
    batch_body,
    batches,
    build_event,
    build_event_from_mapping,
    build_feedback,
    check_positive,
    default_headers,
    feedback_path,
    resolve_api_key,
    resolve_base_url,
)
from phospho._errors import APIError, ConfigurationError
from phospho._ids import new_session_id, utc_now_iso
from phospho._retry import RetryPolicy
from phospho._transport import AsyncTransport, SyncTransport
from phospho._types import BackgroundStats, FeedbackResult, LogResult

DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_BACKOFF = 0.5
DEFAULT_RETRY_BACKOFF_MAX = 8.0
DEFAULT_RETRY_AFTER_MAX = 60.0
DEFAULT_MAX_QUEUE_SIZE = 10_000
DEFAULT_MAX_BATCH_SIZE = 256
DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024
DEFAULT_FLUSH_INTERVAL = 1.0
DEFAULT_SHUTDOWN_TIMEOUT = 5.0
DEFAULT_FLUSH_TIMEOUT = 10.0


def _retry_policy(
    max_retries: int, backoff: float, backoff_max: float, retry_after_max: float
) -> RetryPolicy:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(f"max_retries must be an integer >= 0 (got {max_retries!r})")
    check_positive("retry_backoff", backoff, allow_zero=True)
    check_positive("retry_backoff_max", backoff_max, allow_zero=True)
    check_positive("retry_after_max", retry_after_max, allow_zero=True)
    return RetryPolicy(max_retries, backoff, backoff_max, retry_after_max)


def _check_int(name: str, value: int, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigurationError(f"{name} must be an integer >= {low} (got {value!r})")
    if high is not None and value > high:
        raise ConfigurationError(f"{name} must be at most {high} (got {value!r})")


def _feedback_result(body: Any) -> FeedbackResult:
    return cast(FeedbackResult, body)


def _log_result(body: Any) -> LogResult:
    if not isinstance(body, dict) or not isinstance(body.get("event_id"), str):
        raise APIError(f"unexpected answer from the server: {body!r:.200}")
    body.setdefault("feedback_token", None)  # a server from before feedback tokens
    return cast(LogResult, body)


def _batch_results(body: Any, expected: int) -> list[LogResult]:
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list) or len(results) != expected:
        raise APIError(f"unexpected answer from the server: {body!r:.200}")
    return [_log_result(item) for item in results]


class Client:
    """A phospho client. Thread-safe; share one per process.

    Blocking mode (default): `log` returns once the server has durably stored the event.
    Background mode (`background=True`): `log` queues the event and returns at once; a daemon
    thread sends batches. See the README for when to use which.

    Every argument is keyword-only. `api_key` and `base_url` fall back to the `PHOSPHO_API_KEY`
    and `PHOSPHO_BASE_URL` environment variables, then (base URL only) to
    http://127.0.0.1:8000.
    """

    def __init__(
        self,
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
        http_client: httpx.Client | None = None,
    ) -> None:
        key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        check_positive("timeout", timeout)
        _check_int("max_queue_size", max_queue_size, 1)
        _check_int("max_batch_size", max_batch_size, 1, MAX_BATCH_EVENTS)
        _check_int("max_batch_bytes", max_batch_bytes, 1)
        check_positive("flush_interval", flush_interval)
        check_positive("shutdown_timeout", shutdown_timeout, allow_zero=True)
        self.max_batch_bytes = max_batch_bytes
        self.shutdown_timeout = shutdown_timeout
        self._transport = SyncTransport(
            base_url=self.base_url,
            headers=default_headers(key, headers),
            timeout=timeout,
            policy=_retry_policy(max_retries, retry_backoff, retry_backoff_max, retry_after_max),
            http_client=http_client,
        )
        self._sender: BackgroundSender | None = None
        if background:
            self._sender = BackgroundSender(
                self._transport,
                max_queue_size=max_queue_size,
                max_batch_size=max_batch_size,
                max_batch_bytes=max_batch_bytes,
                flush_interval=flush_interval,
                shutdown_timeout=shutdown_timeout,
            )
        self._closed = False

    def __repr__(self) -> str:
        mode = "background" if self.background else "blocking"
        return f"<phospho.Client {self.base_url} {mode}>"

    @property
    def background(self) -> bool:
        """True in background mode."""
        return self._sender is not None

    def log(
        self,
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
        """Log one LLM interaction; returns its event_id, session_id, created_at and
        feedback_token (for a browser's feedback on it: POST /api/v1/feedback).

        The event_id (a UUID) is generated before the first try, so retries never store the
        event twice. In background mode the result is built locally: `session_id` is the one
        given or a new `sess_…` id (sent along, so the server uses the same), and `created_at`
        is the client's clock. Raises `ValidationError` at once for arguments of the wrong type.
        """
        sender = self._sender
        if sender is None:
            _, body = build_event(
                input,
                output,
                session_id,
                user_id,
                metadata,
                event_id,
                tags=tags,
                status=status,
                error=error,
            )
            return _log_result(self._transport.post(EVENTS_PATH, body, idempotent=True))
        if session_id is None:
            session_id = new_session_id()
        event, body = build_event(
            input,
            output,
            session_id,
            user_id,
            metadata,
            event_id,
            tags=tags,
            status=status,
            error=error,
        )
        sender.put(body)
        return LogResult(
            event_id=event["event_id"],
            session_id=session_id,
            created_at=utc_now_iso(),
            feedback_token=None,
        )

    def log_batch(self, events: Iterable[Mapping[str, Any]]) -> list[LogResult]:
        """Log many events in as few requests as possible (up to 1000 events per request).

        Every event is checked before anything is sent. Each request is all-or-nothing; when
        more than one request is needed and a later one fails, the earlier ones stay stored
        (pass your own `event_id`s to retry the whole call without duplicates).
        """
        sender = self._sender
        encoded: list[bytes] = []
        results: list[LogResult] = []
        now = utc_now_iso()
        for index, item in enumerate(events):
            session_default = None
            if sender is not None and isinstance(item, Mapping) and item.get("session_id") is None:
                session_default = new_session_id()
            event, body = build_event_from_mapping(item, index, session_default)
            encoded.append(body)
            if sender is not None:
                session = cast(str, event["session_id"])
                results.append(
                    LogResult(
                        event_id=event["event_id"],
                        session_id=session,
                        created_at=now,
                        feedback_token=None,
                    )
                )
        if sender is not None:
            for body in encoded:
                sender.put(body)
            return results
        for group in batches(encoded, MAX_BATCH_EVENTS, self.max_batch_bytes):
            answer = self._transport.post(BATCH_PATH, batch_body(group), idempotent=True)
            results.extend(_batch_results(answer, len(group)))
        return results

    def feedback(self, event_id: str, score: int, *, comment: str | None = None) -> FeedbackResult:
        """Attach feedback (score 1 = positive, 0 = negative) to a logged event.

        In background mode it is queued behind the events logged before it and the result is
        built locally (`feedback_id` is None).
        """
        path = feedback_path(event_id)
        body = build_feedback(score, comment)
        sender = self._sender
        if sender is None:
            return _feedback_result(self._transport.post(path, body, idempotent=False))
        sender.put(FeedbackItem(path, body))
        return FeedbackResult(
            feedback_id=None,
            event_id=path.split("/")[-2],
            score=score,
            comment=comment,
            created_at=utc_now_iso(),
        )

    def flush(self, timeout: float = DEFAULT_FLUSH_TIMEOUT) -> bool:
        """Background mode: wait (at most `timeout` seconds) until everything logged so far is
        sent. Returns True when it all went out in time. Never raises; blocking mode: True."""
        if self._sender is None:
            return True
        return self._sender.flush(timeout)

    def stats(self) -> BackgroundStats:
        """Background mode counters: queued, sent, dropped (queue full), failed."""
        if self._sender is None:
            return BackgroundStats(queued=0, sent=0, dropped=0, failed=0)
        return self._sender.stats()

    def close(self, timeout: float | None = None) -> bool:
        """Flush (background mode, at most `timeout`, default `shutdown_timeout`) and release
        the connections. Returns False when events were left unsent."""
        if self._closed:
            return True
        self._closed = True
        flushed = True
        if self._sender is not None:
            flushed = self._sender.shutdown(self.shutdown_timeout if timeout is None else timeout)
        else:
            self._transport.close()
        return flushed

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient:
    """The asyncio client: the same methods as `Client` in blocking mode, as coroutines.

    For fire-and-forget logging from async code, `Client(background=True)` also works: its
    `log` only appends to a queue and never blocks the event loop.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
        retry_backoff_max: float = DEFAULT_RETRY_BACKOFF_MAX,
        retry_after_max: float = DEFAULT_RETRY_AFTER_MAX,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        check_positive("timeout", timeout)
        _check_int("max_batch_bytes", max_batch_bytes, 1)
        self.max_batch_bytes = max_batch_bytes
        self._transport = AsyncTransport(
            base_url=self.base_url,
            headers=default_headers(key, headers),
            timeout=timeout,
            policy=_retry_policy(max_retries, retry_backoff, retry_backoff_max, retry_after_max),
            http_client=http_client,
        )

    def __repr__(self) -> str:
        return f"<phospho.AsyncClient {self.base_url}>"

    async def log(
        self,
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
        """Log one LLM interaction; see `Client.log`."""
        _, body = build_event(
            input,
            output,
            session_id,
            user_id,
            metadata,
            event_id,
            tags=tags,
            status=status,
            error=error,
        )
        return _log_result(await self._transport.post(EVENTS_PATH, body, idempotent=True))

    async def log_batch(self, events: Iterable[Mapping[str, Any]]) -> list[LogResult]:
        """Log many events; see `Client.log_batch`."""
        encoded = [build_event_from_mapping(item, i)[1] for i, item in enumerate(events)]
        results: list[LogResult] = []
        for group in batches(encoded, MAX_BATCH_EVENTS, self.max_batch_bytes):
            answer = await self._transport.post(BATCH_PATH, batch_body(group), idempotent=True)
            results.extend(_batch_results(answer, len(group)))
        return results

    async def feedback(
        self, event_id: str, score: int, *, comment: str | None = None
    ) -> FeedbackResult:
        """Attach feedback to a logged event; see `Client.feedback`."""
        path = feedback_path(event_id)
        body = build_feedback(score, comment)
        return _feedback_result(await self._transport.post(path, body, idempotent=False))

    async def flush(self, timeout: float = DEFAULT_FLUSH_TIMEOUT) -> bool:
        """Nothing is ever queued by the async client: always True (for symmetry with Client)."""
        return True

    async def close(self) -> None:
        """Release the connections."""
        await self._transport.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
