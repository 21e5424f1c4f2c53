"""The dashboard bench's events: sessions of 10 events, ~1,000 end users with a long tail (5%
of sessions anonymous), several models (one unpriced, a few events without one), ~30% of
events with feedback, statuses (ok, error with its text, unknown), tags, and texts with common
words ("refund" in about one event in seven) and a rare one (RARE_WORD in ~10 per million)."""

from __future__ import annotations

import math
import random
from typing import Any

BATCH = 1000  # events per log_events call: the batch API's maximum
USERS = 1000
SESSION_LENGTH = 10
FEEDBACK_SHARE = 0.30
POSITIVE_SHARE = 0.75
RARE_WORD = "zanzibar"  # searched as the rare word: ~10 events per million
RARE_EVERY = 100_003
COMMON_WORD = "refund"
RARE_TAG = "vip"  # on ~0.1% of events
MODELS: tuple[tuple[str | None, float], ...] = (
    ("gpt-4o", 0.35),
    ("gpt-4o-mini", 0.30),
    ("claude-3-5-sonnet-20241022", 0.18),
    ("claude-3-5-haiku-20241022", 0.10),
    ("acme-support-7b", 0.05),  # self-hosted: no known price
    (None, 0.02),
)
_TOPICS = ("refund", "delivery", "password reset", "invoice", "upgrade", "cancellation", "bug")
_PROMPT = (
    "Customer #{user} asks about {topic} (ticket {n}): I tried the steps from the help centre "
    "but it still does not work. What should I do next, and how long will it take?"
)
_ANSWER = (
    "Thanks for reaching out about {topic}. I have checked ticket {n}: please follow the link "
    "in the e-mail we just sent, then wait for the confirmation. It usually takes less than a "
    "day; if it does not, reply here and a colleague will take over."
)


def session_user(session: int) -> int | None:
    """A session's end user: a long tail (low numbers are heavy users); 5% are anonymous."""
    rng = random.Random(session)
    if rng.random() < 0.05:
        return None
    return int(USERS * rng.random() ** 2)


def event(rng: random.Random, n: int) -> dict[str, Any]:
    """The `n`-th event; its session is `n // SESSION_LENGTH`, whose user is fixed."""
    session = n // SESSION_LENGTH
    user = session_user(session)
    topic = rng.choice(_TOPICS)
    model = rng.choices([m for m, _ in MODELS], weights=[w for _, w in MODELS])[0]
    prompt = _PROMPT.format(user=user, topic=topic, n=n)
    if n % RARE_EVERY == 17:
        prompt += f" I am writing from {RARE_WORD}."
    body: dict[str, Any] = {
        "input": prompt,
        "output": _ANSWER.format(topic=topic, n=n),
        "session_id": f"sess-{session:07d}",
    }
    if user is not None:
        body["user_id"] = f"user-{user:04d}"
    if model is not None:
        tokens_out = int(rng.lognormvariate(math.log(180), 0.7)) + 1
        body["metadata"] = {
            "model": model,
            "tokens_in": int(rng.lognormvariate(math.log(450), 0.8)) + 1,
            "tokens_out": tokens_out,
            "latency_ms": round(rng.lognormvariate(math.log(900), 0.6) + 4 * tokens_out, 1),
        }
    draw = rng.random()
    if draw < 0.04:
        body["status"], body["error"] = "error", "upstream timeout after 30 s"
    elif draw < 0.94:
        body["status"] = "ok"  # the rest: unknown status
    tags = [tag for tag, share in (("prod", 0.2), ("beta", 0.05), (RARE_TAG, 0.001))
            if rng.random() < share]  # fmt: skip
    if tags:
        body["tags"] = tags
    return body


def batch(start: int, end: int, size: int = BATCH) -> list[dict[str, Any]]:
    """Events `start` .. `start + size`, none from `end` on; the same arguments, the same events."""
    rng = random.Random(start)
    return [event(rng, n) for n in range(start, min(start + size, end))]


def feedback_scores(key: int, count: int) -> list[tuple[int, int]]:
    """(index, score) for the events of a batch of `count` that get feedback; the same `key`,
    the same choice."""
    rng = random.Random(-1 - key)
    return [
        (index, int(rng.random() < POSITIVE_SHARE))
        for index in range(count)
        if rng.random() < FEEDBACK_SHARE
    ]
