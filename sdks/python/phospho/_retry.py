"""When the clients retry a request, and how long they wait: backoff with jitter, `Retry-After`."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx


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
