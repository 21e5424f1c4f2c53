"""Login throttling: each password check is reserved before it runs, so the limits hold in a race.

An attempt first inserts its row (committed at once), then counts the rows of the window, its
own included. Every attempt committed before it is in that count, so of any number of
concurrent attempts at most `limit` see a count within the limit and go on to the (slow,
deliberately) argon2 check; the others delete their row and get 429. This holds across
processes: on PostgreSQL a READ COMMITTED statement sees every row committed before it
started, and SQLite has one writer. Concurrent attempts may refuse each other (each sees the
other's row), never admit one too many. A check that succeeds deletes its row; a failed one
keeps it: it is the failure the limits count.

Three budgets over a sliding window (settings `PHOSPHO_LOGIN_*`):
- per account and address: one client address may fail `per_account_address` times on an
  account (guessing one password);
- per address: and `per_address` times in all (spraying many accounts);
- per account: once an account had `per_account` failures from all addresses, an address that
  already failed on it once is refused (a guesser with many addresses).
None refuses an address that has not failed: the owner logs in from their own address while
an attacker is throttled. The address is the socket's, or a trusted proxy's X-Forwarded-For
(`PHOSPHO_FORWARDED_ALLOW_IPS`, applied by uvicorn before the app sees the request).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.queryset import QuerySet

from app.errors import TooManyRequests
from app.instruments import RATE_LIMITED
from models import LoginAttempt

RATE_LIMITED_LOGIN = RATE_LIMITED.labels("login")


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """The throttle's budgets: failures allowed within `window`."""

    per_account_address: int = 5
    per_address: int = 30
    per_account: int = 100
    window: timedelta = timedelta(minutes=15)


def address_key(host: str | None) -> str:
    """The address a budget is kept for: an IPv6 client by its /64 (what one host usually
    gets, so rotating through it buys nothing), anything else as it is."""
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


async def reserve(email: str, address: str, limits: LoginLimits, now: datetime) -> int:
    """Record an attempt before its password is checked; its id, or TooManyRequests (with
    the seconds until a retry can be checked) past a budget."""
    attempt = await LoginAttempt.create(email=email, address=address, created_at=now)
    recent = LoginAttempt.filter(created_at__gte=now - limits.window).exclude(id=attempt.id)
    pair = recent.filter(email=email, address=address)
    # Counts below exclude this attempt: a budget of n allows n others.
    excess, over = await pair.count() + 1 - limits.per_account_address, pair
    if excess <= 0:
        by_address = recent.filter(address=address)
        excess, over = await by_address.count() + 1 - limits.per_address, by_address
    if excess <= 0 and await recent.filter(email=email).count() + 1 > limits.per_account:
        excess, over = await pair.count(), pair  # under attack: one failure per address
    if excess <= 0:
        return attempt.id
    wait = await _seconds_until_expired(over, excess, limits.window, now)
    await attempt.delete()
    RATE_LIMITED_LOGIN.inc()
    raise TooManyRequests(
        f"too many failed logins from your address; try again in {wait} seconds",
        retry_after=wait,
    )


async def release(attempt_id: int) -> None:
    """Forget an attempt whose password matched: it is not a failure."""
    await LoginAttempt.filter(id=attempt_id).delete()


async def forget_expired(limits: LoginLimits, now: datetime) -> None:
    """Delete attempts older than the window (after each failure: the table stays small)."""
    await LoginAttempt.filter(created_at__lt=now - limits.window).delete()


async def _seconds_until_expired(
    over: QuerySet[LoginAttempt], excess: int, window: timedelta, now: datetime
) -> int:
    """When enough of `over`'s attempts have left the window for one more to fit."""
    oldest = await over.order_by("created_at", "id").offset(excess - 1).first()
    if oldest is None:  # they were deleted meanwhile (successes): retry at once
        return 1
    return max(1, math.ceil((oldest.created_at + window - now).total_seconds()))
