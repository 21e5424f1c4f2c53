"""HTTP with retries, sync and async. One POST helper each; the decisions live in `_base`."""

from __future__ import annotations

import asyncio
import os
import time
import weakref
from collections.abc import Mapping
from typing import Any, Callable

import httpx

from phospho._base import error_from_exception, error_from_response, parse_success
from phospho._errors import APIConnectionError, APIError
from phospho._retry import RetryPolicy, parse_retry_after, retryable_exception, retryable_status


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return True


class SyncTransport:
    """POSTs JSON to the server through one `httpx.Client`, retrying what may be retried."""

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float,
        policy: RetryPolicy,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url
        self.headers = dict(headers)
        self.timeout = timeout
        self.policy = policy
        self._owns_http = http_client is None
        self.http = http_client if http_client is not None else self._new_http()
        _live.add(self)

    def _new_http(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout, follow_redirects=False)

    def post(
        self,
        path: str,
        body: bytes,
        *,
        idempotent: bool,
        sleep: Callable[[float], bool] = _sleep,
        parse: bool = True,
    ) -> Any:
        """POST `body`; returns the parsed JSON answer or raises a typed `APIError`.

        `sleep(seconds)` waits between tries and returns False to abandon the retries (the
        background worker uses it to stop promptly at shutdown). With `parse=False` a success
        returns None without decoding the body (the worker does not need it).
        """
        url = self.base_url + path
        attempt = 0
        while True:
            retry_after: float | None = None
            if self.http.is_closed:
                raise APIConnectionError(f"cannot send to {url}: the phospho client was closed")
            try:
                response = self.http.post(url, content=body, headers=self.headers)
            except httpx.HTTPError as exc:
                retry = retryable_exception(exc, idempotent)
                error = error_from_exception(exc, url)
                error.__cause__ = exc
            else:
                if 200 <= response.status_code < 300:
                    return parse_success(response) if parse else None
                retry = retryable_status(response.status_code, idempotent)
                error = error_from_response(response)
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            delay = self.policy.delay(attempt, retry_after) if retry else None
            if delay is None or not sleep(delay):
                raise error
            attempt += 1

    def reset_after_fork(self) -> None:
        """In a forked child: forget the parent's pooled connections (they are shared sockets)."""
        if self._owns_http:
            self.http = self._new_http()

    def close(self) -> None:
        """Close the connection pool (only when this transport created it)."""
        if self._owns_http:
            self.http.close()


class AsyncTransport:
    """The same as `SyncTransport`, for `httpx.AsyncClient`."""

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float,
        policy: RetryPolicy,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url
        self.headers = dict(headers)
        self.policy = policy
        self._owns_http = http_client is None
        self.http = (
            http_client
            if http_client is not None
            else httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        )

    async def post(self, path: str, body: bytes, *, idempotent: bool) -> Any:
        """POST `body`; returns the parsed JSON answer or raises a typed `APIError`."""
        url = self.base_url + path
        attempt = 0
        while True:
            retry_after: float | None = None
            error: APIError
            if self.http.is_closed:
                raise APIConnectionError(f"cannot send to {url}: the phospho client was closed")
            try:
                response = await self.http.post(url, content=body, headers=self.headers)
            except httpx.HTTPError as exc:
                retry = retryable_exception(exc, idempotent)
                error = error_from_exception(exc, url)
                error.__cause__ = exc
            else:
                if 200 <= response.status_code < 300:
                    return parse_success(response)
                retry = retryable_status(response.status_code, idempotent)
                error = error_from_response(response)
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            delay = self.policy.delay(attempt, retry_after) if retry else None
            if delay is None:
                raise error
            await asyncio.sleep(delay)
            attempt += 1

    async def close(self) -> None:
        """Close the connection pool (only when this transport created it)."""
        if self._owns_http:
            await self.http.aclose()


_live: weakref.WeakSet[SyncTransport] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for transport in list(_live):
        transport.reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
