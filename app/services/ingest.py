"""The write path: log events (one or a batch) and add feedback.

REST routes and GraphQL mutations call `Ingestor.log_event`, `log_events` and `add_feedback`
with already-parsed JSON; validation, idempotent retries and tenant checks all live here.
Writes are queued to the group-commit writer, so a result means the data is durably stored.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from app import live_pg
from app.errors import (
    Conflict,
    Internal,
    Invalid,
    NotFound,
    PhosphoError,
    Unauthorized,
    Unavailable,
)
from app.ids import uuid7
from app.instruments import EVENTS_STORED, FEEDBACK_STORED
from app.live import EventLogged, FeedbackAdded, LiveBus, LiveMessage
from app.services import store
from app.services.feedback_tokens import FeedbackTokens
from app.services.ingest_jobs import (
    EventResult,
    EventsJob,
    FeedbackJob,
    FeedbackResult,
    FoldJob,
    Job,
    MaintenanceJob,
    PreparedEvent,
    prepare_event,
    validate_each,
)
from app.services.ingest_tally import SessionSeen, UserSeen, count_session, count_user
from app.services.keys import UNAUTHORIZED_MESSAGE, Principal
from app.services.planner_statistics import NoStatistics, planner_statistics_for
from app.services.rollups import (
    NoRollupWriter,
    Rollups,
    RollupWriter,
    rollup_writer_for,
)
from app.services.sql import Dialect, as_datetime
from app.services.store import EndUserDelta, EventRow, Plan, SessionDelta
from app.services.validation import (
    MAX_BATCH,
    validate_batch,
    validate_event,
    validate_feedback,
)
from app.services.write_backends import WriteBackend
from app.services.writer import GroupCommitWriter

KEY_TOUCH_SECONDS = 60.0


class Ingestor:
    """Entry point of the write path; owns the group-commit writer."""

    def __init__(
        self,
        *,
        max_batch: int = 512,
        bus: LiveBus | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rollups: bool = True,
    ) -> None:
        self.bus = bus or LiveBus()
        # Off only to measure what rollups cost (bench/metrics); the metrics need them.
        self.rollups = rollups
        # Stamps each group commit; replaceable so a benchmark can seed history (bench/metrics).
        self.clock = clock
        self.origin = uuid.uuid4().hex  # tags this process's notifications
        self.writer: GroupCommitWriter[Job] = GroupCommitWriter(
            self._plan, max_batch=max_batch, after_commit=self._publish
        )
        self._touched: dict[int, float] = {}
        # Signs the `feedback_token` of each log answer (the app sets its TTL and key).
        self.feedback_tokens = FeedbackTokens()
        # Chosen by `start`, for the backend's dialect (and told how each transaction ended).
        self._rollups: RollupWriter = NoRollupWriter()
        # PostgreSQL: ANALYZE after many stored rows (app/services/planner_statistics.py).
        self.statistics = NoStatistics()

    async def start(self, backend: WriteBackend) -> None:
        """Start accepting writes (in the app's lifespan)."""
        if self.rollups:
            self._rollups = rollup_writer_for(backend.dialect, lazy=True)
        self.statistics = planner_statistics_for(backend.dialect)
        await self.writer.start(backend, hook=self._rollups)

    async def stop(self) -> None:
        """Commit what is queued, fold the rollups (SQLite), then stop."""
        if self.rollups:
            try:
                await self.writer.submit(FoldJob())
            except (Unavailable, Internal):  # not started, stopping, or failed (logged): the
                pass  # fine rows are folded by the next server's first commits instead
        await self.writer.stop()
        await self.statistics.stop()

    async def log_event(self, principal: Principal, body: Any) -> EventResult:
        """Validate and durably store one event."""
        event = prepare_event(validate_event(body), ("body",), datetime.now(UTC))
        results: list[EventResult] = await self.writer.submit(EventsJob(principal, (event,)))
        return results[0]

    async def log_events(self, principal: Principal, body: Any) -> list[EventResult]:
        """Validate a batch (all or nothing) and durably store it; results in input order."""
        batch = validate_batch(body)
        now = datetime.now(UTC)
        events = tuple(
            prepare_event(item, ("body", "events", index), now)
            for index, item in enumerate(batch.events)
        )
        results: list[EventResult] = await self.writer.submit(EventsJob(principal, events))
        return results

    async def log_events_at(
        self, principal: Principal, items: Sequence[tuple[Any, datetime]]
    ) -> list[EventResult | Invalid]:
        """Store events that carry their own time (OpenTelemetry spans): each item is a REST
        event body and when it happened (timezone-aware). Each is validated alone: an invalid
        one comes back as its `Invalid`, in its place, and is not stored; the valid ones are
        stored in jobs of at most MAX_BATCH (durable and visible when this returns). An event
        is stored at min(its time, the commit's time), and counted in that time's buckets."""
        now = datetime.now(UTC)
        answers: list[EventResult | Invalid | None] = []
        ready: list[PreparedEvent] = []
        inputs = validate_each([body for body, _ in items], ("body",))
        for index, (valid, (_, at)) in enumerate(zip(inputs, items, strict=True)):
            if isinstance(valid, Invalid):
                answers.append(valid)
                continue
            try:
                ready.append(prepare_event(valid, ("body", index), min(at, now), occurred=at))
                answers.append(None)  # stored: its result comes from the writer
            except Invalid as exc:  # a figure out of its bound
                answers.append(exc)
        jobs = [
            self.writer.submit(EventsJob(principal, tuple(ready[i : i + MAX_BATCH])))
            for i in range(0, len(ready), MAX_BATCH)
        ]
        stored = iter([r for results in await asyncio.gather(*jobs) for r in results])
        return [next(stored) if answer is None else answer for answer in answers]

    async def maintain(self, job: MaintenanceJob) -> Any:
        """Run a maintenance write (retention, erasure) in the writer's next transaction and
        return its plan's outcome once committed."""
        return await self.writer.submit(job)

    async def checkpoint(self) -> None:
        """Write what the SQLite write-ahead log holds back to the database file now, beside
        the writer (`WriteBackend.checkpoint`); after a maintenance job that dirtied many
        pages. Nothing on PostgreSQL."""
        await self.writer.checkpoint()

    async def add_feedback(self, principal: Principal, event_id: str, body: Any) -> FeedbackResult:
        """Store feedback on one of the caller's events; any other event is NotFound."""
        target = _parse_event_id(event_id)
        feedback = validate_feedback(body)
        job = FeedbackJob(principal, uuid7(), target, feedback.score, feedback.comment)
        result: FeedbackResult = await self.writer.submit(job)
        return result

    def _publish(self, jobs: list[Job], outcomes: list[Any]) -> None:
        """After commit, before anyone is answered: count what was stored (the metrics), tell
        live subscribers, in commit order."""
        stored = count_stored(jobs, outcomes)  # first: it cannot fail, whatever a subscriber does
        self.statistics.note(stored)
        self.bus.publish(live_messages(jobs, outcomes))

    def _plan(self, jobs: list[Job], d: Dialect) -> Plan[list[Any]]:
        """The group's transaction: check keys, store events, then feedback (which may target
        events of the same group)."""
        now = self.clock()
        key_ids = sorted(
            {job.principal.key_id for job in jobs if isinstance(job, EventsJob | FeedbackJob)}
        )
        active = yield from store.active_key_ids(d, key_ids)
        outcomes: list[Any] = [None] * len(jobs)
        events: list[tuple[int, EventsJob]] = []
        feedback: list[tuple[int, FeedbackJob]] = []
        maintenance: list[tuple[int, MaintenanceJob]] = []
        fold_everything = False
        for index, job in enumerate(jobs):
            if isinstance(job, FoldJob):
                fold_everything = True  # done by the rollup writer's `begin` below
                continue
            if isinstance(job, MaintenanceJob):
                maintenance.append((index, job))
                continue
            if job.principal.key_id not in active:
                outcomes[index] = Unauthorized(UNAUTHORIZED_MESSAGE)
            elif isinstance(job, EventsJob):
                events.append((index, job))
            else:
                feedback.append((index, job))
        # SQLite: folds what has passed, before anything is written.
        stamp = int(now.timestamp())
        rollups = yield from self._rollups.begin(stamp, fold_everything=fold_everything)
        event_outcomes = yield from _commit_events(d, [job for _, job in events], now, rollups)
        for (index, _), event_outcome in zip(events, event_outcomes, strict=True):
            outcomes[index] = event_outcome
        feedback_outcomes = yield from _commit_feedback(
            d, [job for _, job in feedback], now, rollups
        )
        for (index, _), feedback_outcome in zip(feedback, feedback_outcomes, strict=True):
            outcomes[index] = feedback_outcome
        rollups.changes_settled = rollups.changes_settled or bool(maintenance)
        for index, chore in maintenance:  # after what the group stored, in the same commit
            outcomes[index] = yield from chore.plan(d, rollups, now)
        yield from self._rollups.write(rollups)
        yield from self._touch_keys(d, [key for key in key_ids if key in active], now)
        if d.postgres:  # other processes hear about the commit through LISTEN (app/live_pg.py)
            payloads = live_pg.encode(self.origin, live_messages(jobs, outcomes))
            yield from store.notify(d, live_pg.CHANNEL, payloads)
        return outcomes

    def _touch_keys(self, d: Dialect, key_ids: list[int], now: datetime) -> Plan[None]:
        # last_used_at is kept to the minute: one UPDATE per key per minute, not per request.
        clock = time.monotonic()
        stale = [key for key in key_ids if clock - self._touched.get(key, -1e9) > KEY_TOUCH_SECONDS]
        if stale:
            yield from store.touch_keys(d, stale, now)
            self._touched.update(dict.fromkeys(stale, clock))


def live_messages(jobs: list[Job], outcomes: list[Any]) -> Iterator[LiveMessage]:
    """The live-bus messages for what a group commit stored (retries of stored events excluded)."""
    for job, outcome in zip(jobs, outcomes, strict=True):
        if isinstance(outcome, BaseException) or isinstance(job, FoldJob | MaintenanceJob):
            continue
        project = job.principal.project_id
        if isinstance(job, FeedbackJob):
            yield FeedbackAdded(
                project, job.feedback_id, job.event_id, job.score, outcome.created_at
            )
            continue
        for event, result in zip(job.events, outcome, strict=True):
            if not result.duplicate:
                yield EventLogged(
                    project, event.id, event.session_key, event.user_id, event.typed.model,
                    result.created_at, event.status, event.tags,
                )  # fmt: skip


def count_stored(jobs: list[Job], outcomes: list[Any]) -> int:
    """Add what a commit stored to the metrics: new events (not retries of stored ones) and
    feedback; failed jobs stored nothing. How many rows that was."""
    events = feedback = 0
    for job, outcome in zip(jobs, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            continue
        if isinstance(job, EventsJob):
            for result in outcome:  # a plain loop: a generator cost ~1 µs a job (py-spy)
                if not result.duplicate:
                    events += 1
        elif isinstance(job, FeedbackJob):
            feedback += 1
    if events:
        EVENTS_STORED.inc(events)
    if feedback:
        FEEDBACK_STORED.inc(feedback)
    return events + feedback


def _parse_event_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("event not found") from None


def _commit_events(
    d: Dialect, jobs: list[EventsJob], now: datetime, rollups: Rollups
) -> Plan[list[list[EventResult] | PhosphoError]]:
    """Store the new events of `jobs` (retries answer with the stored result), extend their
    sessions and end users, and count them in `rollups`: one outcome per job."""
    if not jobs:
        return []
    seen = yield from _stored_events(d, jobs)
    outcomes: list[list[EventResult] | PhosphoError] = []
    rows: list[EventRow] = []
    tagged: list[tuple[EventRow, tuple[str, ...]]] = []  # rows of events with tags
    sessions: dict[tuple[int, str], SessionSeen] = {}
    users: dict[tuple[int, str], UserSeen] = {}
    # New events (not retries) by project and time: one group per project unless events
    # carry their own time (OpenTelemetry spans), which the rollups count in its bucket.
    fresh: dict[tuple[int, int], list[PreparedEvent]] = {}
    now_stamp = int(now.timestamp())
    for job in jobs:
        outcome = _resolve_events(job, seen, now)
        outcomes.append(outcome)
        if isinstance(outcome, PhosphoError):
            continue
        project = job.principal.project_id
        for event, result in zip(job.events, outcome, strict=True):
            if result.duplicate:
                continue
            at = result.created_at  # the commit's `now` itself unless the event has its time
            stamp = now_stamp if at is now else int(at.timestamp())
            fresh.setdefault((project, stamp), []).append(event)
            rows.append(_event_row(project, event, at))
            if event.tags:
                tagged.append((rows[-1], event.tags))
            count_session(sessions, project, event, at)
            if event.user_id is not None:
                count_user(users, (project, event.user_id), at)
    for (project, stamp), events in fresh.items():
        rollups.add_events(project, stamp, events)
    yield from store.insert_events(d, rows)
    yield from store.insert_event_tags(d, tagged)
    yield from _upsert_sessions(d, sessions, rollups)
    yield from store.upsert_end_users(d, [
        EndUserDelta(*key, seen.first_at, seen.last_at, seen.events,
                     rollups.end_user_hour(*key, now_stamp))
        for key, seen in users.items()
    ])  # fmt: skip
    return outcomes


def _stored_events(
    d: Dialect, jobs: list[EventsJob]
) -> Plan[dict[uuid.UUID, tuple[int, EventResult]]]:
    """The stored events among the client-chosen ids of `jobs`: id -> (project, the result a
    retry gets)."""
    client_ids = [e.id for job in jobs for e in job.events if e.client_id]
    seen: dict[uuid.UUID, tuple[int, EventResult]] = {}
    if client_ids:
        for event_id, row in (yield from store.existing_events(d, client_ids)).items():
            original = EventResult(
                event_id, row["session_key"], as_datetime(row["created_at"]), True
            )
            seen[event_id] = (int(row["project_id"]), original)
    return seen


def _upsert_sessions(
    d: Dialect, sessions: dict[tuple[int, str], SessionSeen], rollups: Rollups
) -> Plan[None]:
    """Create or extend the sessions; count those this commit started in the rollups, at the
    session's first time (which a later commit never moves: `store.upsert_sessions`)."""
    upserted = yield from store.upsert_sessions(d, [
        SessionDelta(*key, seen.user_id, seen.first_at, seen.last_at, seen.events)
        for key, seen in sessions.items()
    ])  # fmt: skip
    for row in upserted:
        project, key = int(row["project_id"]), row["session_key"]
        seen = sessions[(project, key)]
        if int(row["event_count"]) == seen.events:  # nothing stored before: this commit started it
            rollups.add_session(project, int(seen.first_at.timestamp()), seen.first.figures.model)


def _resolve_events(
    job: EventsJob, seen: dict[uuid.UUID, tuple[int, EventResult]], now: datetime
) -> list[EventResult] | PhosphoError:
    """Results for a job's events; retries of stored ids answer with the original result."""
    project = job.principal.project_id
    local: dict[uuid.UUID, tuple[int, EventResult]] = {}
    results: list[EventResult] = []
    for event in job.events:
        at = event.time(now)
        if not event.client_id:  # an id of ours, new: stored nowhere, repeated nowhere
            results.append(EventResult(event.id, event.session_key, at))
            continue
        known = local.get(event.id) or seen.get(event.id)
        if known is None:
            result = EventResult(event.id, event.session_key, at)
            local[event.id] = (project, EventResult(event.id, event.session_key, at, True))
        elif known[0] != project:
            return Conflict("event_id is already in use; generate a new one")
        else:
            result = known[1]
        results.append(result)
    seen.update(local)
    return results


def _event_row(project_id: int, event: PreparedEvent, at: datetime) -> EventRow:
    typed = event.typed
    return EventRow(
        event.id, project_id, event.session_key, event.user_id, event.input, event.output,
        event.metadata_json, typed.model, typed.tokens_in, typed.tokens_out, typed.latency_ms,
        event.cost_nano, event.status, event.error, at,
    )  # fmt: skip


def _commit_feedback(
    d: Dialect, jobs: list[FeedbackJob], now: datetime, rollups: Rollups
) -> Plan[list[FeedbackResult | PhosphoError]]:
    if not jobs:
        return []
    targets = yield from store.feedback_targets(d, sorted({job.event_id for job in jobs}))
    outcomes: list[FeedbackResult | PhosphoError] = []
    rows: list[list[Any]] = []
    for job in jobs:
        target = targets.get(job.event_id)
        if target is None or target.project_id != job.principal.project_id:
            outcomes.append(NotFound("event not found"))
            continue
        # Rollups count each event's current feedback: the new one replaces the previous.
        if target.score is not None and target.scored_at is not None:
            rollups.add_feedback(
                target.project_id, target.scored_at, target.model, target.score, -1
            )
        rollups.add_feedback(target.project_id, now, target.model, job.score, 1)
        targets[job.event_id] = replace(target, score=job.score, scored_at=now)
        rows.append(
            [job.feedback_id, job.principal.project_id, job.event_id, job.score, job.comment, now]
        )
        outcomes.append(FeedbackResult(job.feedback_id, job.event_id, job.score, job.comment, now))
    yield from store.insert_feedback(d, rows)
    yield from store.set_feedback_scores(d, [row[2] for row in rows])
    return outcomes


__all__ = [
    "EventResult", "EventsJob", "FeedbackJob", "FeedbackResult", "FoldJob", "Ingestor", "Invalid",
    "Job", "PreparedEvent", "prepare_event",
]  # fmt: skip
