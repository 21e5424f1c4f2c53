"""What rollups cost the write path: ingest throughput compared within one run.

In-process: rounds of log_events (pre-built batches, so building them is not timed) into the
seeded database, alternating an Ingestor with rollups on and one with them off (needs the
Ingestor's switch; skipped, saying so, without it), with the process's CPU time per event: on
this shared machine throughput drifts by 20% within a run (three pairs once gave a ratio of
0.87 where ten alternating rounds gave 1.02, at +4% CPU per event). Over HTTP: httpload.py.
"""

from __future__ import annotations

import inspect
import statistics
import time
from dataclasses import dataclass, field

from app.services.ingest import Ingestor
from bench.metrics import data
from bench.metrics.seed import Database, bench_principal, log, running_ingestor, seed

TARGET_RATIO = 0.90


def inprocess_switch() -> bool:
    """Whether Ingestor takes `rollups=` (the in-process switch)."""
    return "rollups" in inspect.signature(Ingestor).parameters


@dataclass
class Comparison:
    """Events/s per repetition of what is tested (rollups on) and of its baseline, measured back
    to back in each repetition; over HTTP also the server's CPU time per event."""

    labels: tuple[str, str] = ("rollups on", "rollups off")
    tested: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    cpu: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))

    @property
    def ratio(self) -> float:
        """The median over repetitions of tested / baseline: each pair ran back to back, so a
        machine that slows down for a while (this one is shared) moves both alike."""
        pairs = [t / b for t, b in zip(self.tested, self.baseline, strict=False) if b]
        return statistics.median(pairs) if pairs else 0.0

    def add(self, tested: bool, events_s: float, cpu_us: float | None = None) -> None:
        """Record one run (and the server's CPU µs per event, when measured)."""
        (self.tested if tested else self.baseline).append(events_s)
        if cpu_us is not None:
            self.cpu[0 if tested else 1].append(cpu_us)

    def line(self, what: str) -> str:
        """One report line with the verdict."""
        verdict = "PASS" if self.ratio >= TARGET_RATIO else "FAIL"
        text = (
            f"{what}: {self.labels[0]} {_spread(self.tested)}, "
            f"{self.labels[1]} {_spread(self.baseline)}; ratio {self.ratio:.2f} "
            f"(median of {min(len(self.tested), len(self.baseline))} back-to-back pairs; "
            f"target >= {TARGET_RATIO:.2f}): {verdict}"
        )
        if all(self.cpu):
            tested, baseline = (statistics.median(runs) for runs in self.cpu)
            text += (
                f"; process CPU per event {tested:.0f} / {baseline:.0f} µs "
                f"(events per CPU-second ratio {baseline / tested:.2f})"
            )
        return text


def _spread(runs: list[float]) -> str:
    """The median and, over several runs, their range (how noisy the machine was)."""
    text = f"{statistics.median(runs):,.0f} ev/s"
    return f"{text} ({min(runs):,.0f}-{max(runs):,.0f})" if len(runs) > 1 else text


async def inprocess(db: Database, events: int, reps: int, concurrency: int) -> Comparison:
    """Rounds of `events` events through log_events, rollups on and off in alternation."""
    result = Comparison()
    offset = 10**9  # past the seeded history: new sessions, same end users
    for rep in range(reps):
        for rollups in (True, False) if rep % 2 == 0 else (False, True):
            first = offset + (2 * rep + int(rollups)) * events
            end = first + events
            batches = [data.batch(start, end) for start in range(first, end, data.BATCH)]
            async with running_ingestor(db, rollups=rollups) as ingestor:
                principal = await bench_principal()
                cpu = time.process_time()
                seeded = await seed(ingestor, principal, batches, concurrency)
                cpu_us = (time.process_time() - cpu) / max(seeded.events, 1) * 1e6
            result.add(rollups, seeded.events_per_s, cpu_us)
            state = "on " if rollups else "off"
            log(f"  rep {rep + 1} rollups {state}: {seeded.events_per_s:,.0f} ev/s, "
                f"{cpu_us:,.0f} µs CPU/event")  # fmt: skip
    return result
