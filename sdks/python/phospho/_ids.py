"""Ids generated on the client: time-ordered UUIDv7 event ids, `sess_…` session ids, timestamps."""

from __future__ import annotations

import os
import secrets
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def _uuid7_int() -> int:
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms, _counter = ms, 0
        counter = _counter
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= counter << 64
    value |= 0b10 << 62  # variant
    value |= int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    return value


def uuid7() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, 12-bit counter, 62 random bits.

    Time-ordered ids keep the server's primary-key index compact, and the per-millisecond counter
    keeps events logged in the same millisecond in the order they were logged.
    """
    return uuid.UUID(int=_uuid7_int())


def _reset_lock_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a thread of the parent may have held it at fork time


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_in_child)


def new_event_id() -> str:
    """A fresh UUIDv7 event id as a canonical string (what `str(uuid7())` gives, faster)."""
    h = f"{_uuid7_int():032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_session_id() -> str:
    """A session id in the same `sess_…` form the server gives events sent without one."""
    return "sess_" + secrets.token_hex(12)


_second_cache: tuple[int, str] = (-1, "")


def utc_now_iso() -> str:
    """The current time in ISO 8601 UTC, formatted exactly like the server's `created_at`
    (e.g. 2026-03-03T10:30:00.123456Z)."""
    global _second_cache
    second, micro = divmod(time.time_ns() // 1000, 1_000_000)
    cached = _second_cache  # one atomic read of (second, its text)
    if cached[0] != second:
        cached = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        _second_cache = cached
    return f"{cached[1]}.{micro:06d}Z"
