"""A paced probe of single-event ingest: its latencies while something else runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from app.services.ingest import Ingestor
from app.services.keys import Principal

T = TypeVar("T")


@dataclass(frozen=True)
class Latencies:
    """Single-event ingest latencies (ms) over one window."""

    values: list[float]

    def quantile(self, q: float) -> float:
        """Nearest rank."""
        ordered = sorted(self.values)
        return ordered[max(0, min(len(ordered) - 1, int(q * len(ordered) + 0.999999) - 1))]

    def line(self, label: str) -> str:
        """One report line."""
        if not self.values:
            return f"{label}: no probe event"
        return (
            f"{label}: {len(self.values)} events, p50 {self.quantile(0.5):.1f} ms, "
            f"p99 {self.quantile(0.99):.1f} ms, max {max(self.values):.1f} ms"
        )


async def probed(
    ingestor: Ingestor, principal: Principal, rate: float, work: Awaitable[T]
) -> tuple[T, Latencies]:
    """Run `work` while logging one event every 1/`rate` s (each its own task); the work's
    result and the latencies of the probe events sent while it ran (all awaited)."""
    latencies: list[float] = []
    pending: set[asyncio.Task[None]] = set()
    body = {"input": "probe", "output": "ok", "user_id": "probe"}

    async def one() -> None:
        started = time.perf_counter()
        await ingestor.log_event(principal, body)
        latencies.append((time.perf_counter() - started) * 1000)

    task = asyncio.ensure_future(work)
    while not task.done():
        probe = asyncio.create_task(one())
        pending.add(probe)
        probe.add_done_callback(pending.discard)
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*list(pending))
    return task.result(), Latencies(latencies)


async def baseline(
    ingestor: Ingestor, principal: Principal, rate: float, seconds: float
) -> Latencies:
    """The probe alone for `seconds`."""
    _, found = await probed(ingestor, principal, rate, asyncio.sleep(seconds))
    return found
