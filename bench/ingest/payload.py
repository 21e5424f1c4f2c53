"""Request bodies: realistic chat events (a few hundred bytes each) spread over sessions."""

from __future__ import annotations

import json

SESSIONS = 32
BATCH_SIZE = 100

_PROMPT = (
    "You are a helpful assistant for an online bookshop. The customer asks: I ordered a "
    "hardback copy of a novel two weeks ago and the tracking page has not changed since it "
    "left the warehouse. Can you tell me where my parcel is, and whether I can still change "
    "the delivery address to my office? Order reference {n:06d}."
)
_ANSWER = (
    "I'm sorry about the wait. Your parcel left our warehouse and was handed to the carrier, "
    "who reports a delay at their regional sorting centre; it should arrive within two working "
    "days. The delivery address can no longer be changed once the parcel is with the carrier, "
    "but you can ask them to hold it at a pickup point near your office using the link in your "
    "shipping e-mail. Is there anything else I can help with today?"
)


def event(n: int) -> dict[str, object]:
    """The `n`-th event: session `n % SESSIONS`, one of 8 users, the usual metadata."""
    return {
        "input": _PROMPT.format(n=n),
        "output": _ANSWER,
        "session_id": f"bench-session-{n % SESSIONS:03d}",
        "user_id": f"bench-user-{n % 8}",
        "metadata": {"model": "gpt-4", "tokens_in": 100, "tokens_out": 50, "latency_ms": 1200},
    }


def single_bodies(count: int = SESSIONS) -> list[str]:
    """`count` distinct single-event bodies (one JSON document per line, no newlines inside)."""
    return [json.dumps(event(n)) for n in range(count)]


def batch_bodies(count: int = 4, size: int = BATCH_SIZE) -> list[str]:
    """`count` distinct batch bodies of `size` events each."""
    return [
        json.dumps({"events": [event(b * size + n) for n in range(size)]}) for b in range(count)
    ]
