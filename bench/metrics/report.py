"""The printed report: overview timings against the raw-events reference, pages, ingest cost."""

from __future__ import annotations

from bench.metrics.cost import Comparison
from bench.metrics.overview import TARGET_MS, RangeResult, Timing
from bench.metrics.pages import REFERENCE
from bench.metrics.seed import Seeded


def seeding(seeded: Seeded, backend: str, concurrency: int, days: int) -> str:
    """How the history was seeded, and how fast."""
    return (
        f"seeded {seeded.events:,} events (+ {seeded.feedback:,} feedback) over {days} days on "
        f"{backend} through log_events, batches of 1000, {concurrency} in flight, rollups on: "
        f"{seeded.seconds:.1f} s, {seeded.events_per_s:,.0f} events/s"
    )


def _ms(timing: Timing) -> str:
    return f"{timing.median:8.1f} / {timing.p95:8.1f}"


def overview(results: list[RangeResult], events: int) -> str:
    """Rollups vs raw events per range, the cross-check, and the verdict."""
    calls = f"{len(results[0].rollups.samples)} and {len(results[0].raw.samples)} calls"
    out = [
        "overview server time: metrics(project, window_for_range(r), GroupBy.MODEL) vs the same "
        f"figures from the raw events table ({calls})",
        f"range | {'rollups ms median / p95':>25} | {'raw ms median / p95':>21} | raw/rollups",
    ]
    for r in results:
        speedup = r.raw.median / r.rollups.median if r.rollups.median else 0.0
        out.append(f"{r.name:>5} | {_ms(r.rollups):>25} | {_ms(r.raw):>21} | {speedup:10.1f}x")
    for r in results:
        problems = (
            "; ".join(r.mismatches)
            or "totals, end users, sessions started and events by model agree"
        )
        out.append(f"cross-check {r.name}: {'MISMATCH ' if r.mismatches else ''}{problems}")
    slowest = max(results, key=lambda r: r.rollups.median)
    verdict = "PASS" if slowest.rollups.median <= TARGET_MS else "FAIL"
    out.append(
        f"target: overview <= {TARGET_MS:.0f} ms (median) for 24h and 30d with {events:,} "
        f"events: {verdict} (slowest: {slowest.name}, {slowest.rollups.median:.1f} ms)"
    )
    return "\n".join(out)


def pages(found: dict[str, Timing | str]) -> str:
    """The HTTP timings (or why a path was not timed), with the target for overview paths."""
    out = ["over HTTP (phospho serve on the seeded database, signed in, localhost):",
           "path                              | ms median / p95"]  # fmt: skip
    for path, timing in found.items():
        label = f"{path} (reference)" if path == REFERENCE else path
        if isinstance(timing, str):
            out.append(f"{label:<33} | {timing}")
            continue
        verdict = ""
        if path != REFERENCE:
            verdict = "  PASS" if timing.median <= TARGET_MS else "  FAIL"
        out.append(f"{label:<33} | {_ms(timing)}{verdict}")
    return "\n".join(out)


def ingest_cost(entries: list[tuple[str, Comparison | str]]) -> str:
    """Throughput comparisons, or why one was skipped."""
    out = ["ingest cost (throughput compared in this run):"]
    for what, found in entries:
        out.append(f"{what}: {found}" if isinstance(found, str) else found.line(what))
    return "\n".join(out)
