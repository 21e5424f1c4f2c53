"""Identifier helpers: time-ordered UUIDv7 for events and feedback, generated session ids."""

from __future__ import annotations

import random
import secrets
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, a 12-bit counter, 62 random bits.

    Ids sort by creation time, and the counter (RFC 9562 method 1) keeps ids created in the
    same millisecond in creation order, so a batch replays in the order it was sent.
    """
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
    value |= counter << 64  # rand_a used as a counter
    value |= 0b10 << 62  # variant
    # Ids are not secrets (access is checked by project), so the fast PRNG is enough; it also
    # keeps the GIL, where os.urandom's syscall handed it to the writer thread on every call.
    value |= random.getrandbits(62)
    return uuid.UUID(int=value)


def new_session_key() -> str:
    """A session id for an event sent without one, in the `sess_…` form the docs show."""
    return "sess_" + secrets.token_hex(12)
