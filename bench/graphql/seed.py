"""The bench's data: events through the in-process Ingestor's batch path (`log_events`, as
`bench.metrics` seeds), ~30% with feedback, sessions of 5 events (and one long session to
replay), ~2000 end users; then a tail of the newest TAIL events that match none of the
filtered queries (other model, user and text, no feedback), so every filter has to skip them.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from app.services.keys import Principal, create_api_key
from app.services.projects import get_or_create_project
from bench.metrics import data
from bench.metrics.seed import PROJECT, Database, HistoryClock, log, running_ingestor

FEEDBACK_SHARE = 0.30
POSITIVE_SHARE = 0.75
TAIL = 10_000
REPLAY_SESSION = "sess-replay"  # every 50th event: a long conversation to replay
REPLAY_EVERY = 50
DAYS = 7


def event(rng: random.Random, n: int, total: int) -> dict[str, Any]:
    """The `n`-th event of `total`; the last TAIL match no filter of the bench's queries."""
    if n >= total - TAIL:
        return {
            "input": f"tail question {n}",
            "output": f"tail answer {n}",
            "session_id": f"tail-{n // data.SESSION_LENGTH}",
            "user_id": "tail-user",
            "metadata": {"model": "tail-model", "tokens_in": 10, "tokens_out": 10},
        }
    body = data.event(rng, n)
    if n % REPLAY_EVERY == 0:
        body["session_id"] = REPLAY_SESSION
        body.pop("user_id", None)
    return body


def batches(total: int) -> Iterator[list[dict[str, Any]]]:
    """Batches of data.BATCH events, the same for the same `total`."""
    for start in range(0, total, data.BATCH):
        rng = random.Random(start)
        yield [event(rng, n, total) for n in range(start, min(start + data.BATCH, total))]


def scores(start: int, count: int, total: int) -> list[tuple[int, int]]:
    """(index, score) of the events of the batch starting at `start` that get feedback."""
    rng = random.Random(-1 - start)
    return [
        (index, int(rng.random() < POSITIVE_SHARE))
        for index in range(count)
        if start + index < total - TAIL and rng.random() < FEEDBACK_SHARE
    ]


async def seed(db: Database, total: int, concurrency: int = 4) -> tuple[str, float, int]:
    """Seed `total` events over the last DAYS days; (API key, seconds, feedback count)."""
    clock = HistoryClock(total, timedelta(days=DAYS))
    async with running_ingestor(db, clock=clock) as ingestor:
        project = await get_or_create_project(PROJECT)
        created = await create_api_key(project.id)
        principal = Principal(key_id=created.key.id, project_id=project.id)
        pending = iter(enumerate(batches(total)))
        feedback = 0

        async def worker() -> None:
            nonlocal feedback
            for number, events in pending:
                start = number * data.BATCH
                clock.submitted = start + len(events)
                if start % 100_000 == 0:
                    log(f"  {start:>10,} events submitted")
                results = await ingestor.log_events(principal, {"events": events})
                chosen = scores(start, len(results), total)
                await asyncio.gather(*(
                    ingestor.add_feedback(principal, str(results[i].event_id), {"score": s})
                    for i, s in chosen
                ))  # fmt: skip
                feedback += len(chosen)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return created.secret, time.perf_counter() - began, feedback
