"""Rate limits: one token bucket per key (an API key, a feedback token, a client address), in
this process's memory.

`aiolimiter.AsyncLimiter` is the bucket (a leaky bucket: a burst of N, refilled at N per
period, which is a token bucket by another name). It was chosen over `limits` (the library
behind Flask-Limiter and SlowAPI) because its in-memory storage starts a `threading.Timer`
every 10 ms while keys are hit and takes a lock per hit (10-30 µs per hit measured here, and
a thread fighting the event loop for the GIL); an AsyncLimiter is a few attributes updated on
the event loop (~4 µs per check measured, no thread, no lock). Each server process keeps its
own buckets: with several processes a key gets N per period from each of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable

from aiolimiter import AsyncLimiter
from prometheus_client import Counter

from app.errors import TooManyRequests
from app.instruments import RATE_LIMITED

RATE_LIMITED_KEY = RATE_LIMITED.labels("api_key")

PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
_RATE = re.compile(r"^\s*([1-9][0-9]*)\s*/\s*(second|minute|hour)\s*$")
# Buckets of keys not seen for a while are dropped beyond this many (a full bucket and a
# forgotten one behave alike, so forgetting is only ever generous).
MAX_BUCKETS = 100_000


def parse_rate(text: str) -> tuple[int, float] | None:
    """`"1000/second"` -> (1000, 1.0); empty -> None (no limit)."""
    if not text.strip():
        return None
    found = _RATE.match(text)
    if found is None:
        raise ValueError(f"a rate looks like 1000/second, 60/minute or 5000/hour, not {text!r}")
    return int(found.group(1)), PERIODS[found.group(2)]


class KeyRateLimiter:
    """Answers TooManyRequests once a key has used its bucket; a no-op when `rate` is None.
    `subject` names what is limited in the message, `counter` counts the refusals."""

    def __init__(
        self,
        rate: tuple[int, float] | None,
        *,
        subject: str = "this API key",
        counter: Counter = RATE_LIMITED_KEY,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self.rate = rate
        self.subject = subject
        self.counter = counter
        self.max_buckets = max_buckets
        self._buckets: dict[Hashable, AsyncLimiter] = {}
        # Time for one token to come back, rounded up to whole seconds (Retry-After's unit).
        self.retry_after = max(1, math.ceil(rate[1] / rate[0])) if rate else 1

    async def check(self, key: Hashable) -> None:
        """Take one token from this key's bucket, or raise TooManyRequests (429)."""
        if self.rate is None:
            return
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_buckets:
                self._buckets.clear()
            bucket = self._buckets[key] = AsyncLimiter(*self.rate)
        if not bucket.has_capacity():
            self.counter.inc()
            raise TooManyRequests(
                f"{self.subject} is limited to {self.rate[0]} requests per "
                f"{_period_name(self.rate[1])}; retry after {self.retry_after} s",
                retry_after=self.retry_after,
            )
        await bucket.acquire()  # returns at once: the capacity was just checked


def _period_name(seconds: float) -> str:
    return next(name for name, value in PERIODS.items() if value == seconds)
