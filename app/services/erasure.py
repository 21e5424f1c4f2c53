"""End-user erasure (GDPR): every row of one end user of one project deleted, and exactly that
user's contribution subtracted from the project's rollups, in one transaction.

An erasure is a `MaintenanceJob` of the write path (`Ingestor.maintain`): it runs in the
writer's transaction after the group's events and feedback, so on SQLite it queues behind
ingest rather than contending for the database lock, and it commits (or rolls back) with the
group. The rollups are changed only through the transaction's `Rollups` accumulator
(`remove_event`, `add_feedback(..., -1)`, `add_session(..., -1)`, `forget_user`), never by
recomputing cells from events: raw events may already be gone (retention) while the rollups
keep their history, and on SQLite the writer remembers the histograms it wrote and folds
minute rows behind a watermark (app/services/rollups/sqlite.py) — an accumulator's negative
delta is folded, merged and remembered exactly like ingest's positive ones.

What is removed: the user's events with their feedback and tags, their `end_users` row (with
SQLite's not-yet-folded hour counts) and `user_rollups` rows; sessions left without events
are deleted (and uncounted as started); sessions that keep other events get their count, last
time and user recomputed (never naming the erased user) and, when their first event was the
user's, their "started" count moves to the model `rollups rebuild` now gives them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from typing import Any

from app.errors import Invalid
from app.services import deletion
from app.services.ingest import Ingestor
from app.services.ingest_jobs import MaintenanceJob
from app.services.roles import Action, require
from app.services.rollups import LEVELS, Rollups, figures_of
from app.services.rollups.rebuild import FIRST_MODEL
from app.services.rollups.sqlite import NEVER
from app.services.sql import IS_LATEST, Dialect, as_datetime, select
from app.services.store import Plan, Query, select_in
from app.services.validation import check_json_values

MAX_USER_ID = 256  # as the ingest's `user_id` (validation.Identifier)


@dataclass(frozen=True, slots=True)
class Erasure:
    """What one erasure deleted (all zeros when the user had nothing left: a repeat)."""

    events: int = 0
    feedback: int = 0
    event_tags: int = 0
    sessions: int = 0  # sessions left without events, deleted
    sessions_updated: int = 0  # sessions that keep other users' events, no longer naming it
    end_users: int = 0
    user_rollups: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts by name (the REST answer, the CLI's report)."""
        return asdict(self)


def end_user_id(value: Any, loc: tuple[Any, ...]) -> str:
    """A `user_id` as the ingest accepts it (1-256 characters of Unicode text, no NUL), or
    the 422 `Invalid` naming `loc`."""
    if not isinstance(value, str):
        raise Invalid(f"{_dotted(loc)}: must be a string", details=[_detail(loc, "string_type")])
    check_json_values(value, loc)
    if not 1 <= len(value) <= MAX_USER_ID:
        msg = f"must be 1 to {MAX_USER_ID} characters long"
        raise Invalid(f"{_dotted(loc)}: {msg}", details=[_detail(loc, "string_length", msg)])
    return value


def _detail(loc: tuple[Any, ...], kind: str, msg: str = "must be a string") -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg, "type": kind}


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def forget_end_user(
    ingestor: Ingestor, project_id: int, user_id: Any, loc: tuple[Any, ...] = ("user_id",)
) -> Erasure:
    """Erase one end user of a project (validated as at ingest, `loc` naming it in a 422);
    the counts once committed. Idempotent: a repeat finds nothing and returns zeros."""
    erased: Erasure = await ingestor.maintain(erasure_job(project_id, end_user_id(user_id, loc)))
    if erased.events:
        await ingestor.checkpoint()  # its pages written back now, not by the next ingest commit
    return erased


async def forget_end_user_as(
    ingestor: Ingestor, account_id: int, project_id: int, user_id: Any
) -> Erasure:
    """`forget_end_user` for a dashboard account: owners only (Forbidden for a member)."""
    await require(account_id, project_id, Action.ERASE_END_USER)
    return await forget_end_user(ingestor, project_id, user_id)


def erasure_job(project_id: int, user_id: str) -> MaintenanceJob:
    """The write-path job that erases one end user of one project (`erase_end_user`)."""
    plan = partial(_plan, project_id=project_id, user_id=user_id)
    return MaintenanceJob(project_id, plan, "erase an end user")


def _plan(
    d: Dialect, rollups: Rollups, now: datetime, *, project_id: int, user_id: str
) -> Plan[Erasure]:
    return (yield from erase_end_user(d, rollups, project_id, user_id))


_OF_USER = "project_id = ? AND user_id = ?"
# Only these constant fragments are interpolated; the project and user are bound parameters.
_DELETE_ROLLUPS = f"DELETE FROM user_rollups WHERE {_OF_USER} RETURNING 1"  # noqa: S608
# An end-user row left without events (its SQLite hour counts included) that `settle` kept.
_DELETE_END_USER = f"DELETE FROM end_users WHERE {_OF_USER} RETURNING 1"  # noqa: S608
# SQLite: an end user the retention sweep deleted earlier, whose rollups went above.
_DELETE_DEPARTED = f"DELETE FROM departed_users WHERE {_OF_USER}"  # noqa: S608


def erase_end_user(d: Dialect, rollups: Rollups, project_id: int, user_id: str) -> Plan[Erasure]:
    """Delete one end user's rows and subtract its contribution from `rollups` (see the
    module's docstring). Reads before it deletes: the figures of what it deletes. The events
    go through the shared `deletion.delete_events` (feedback, tags, emptied sessions)."""
    who = [project_id, user_id]
    if d.postgres:  # ingest upserts this row too: later commits of the user wait for this one
        yield Query(d.sql(select("id", "end_users", _OF_USER, "FOR UPDATE")), who)
    kept = yield from _rollups_kept_from(d, rollups, project_id)
    ids = yield from _uncount_events(d, rollups, project_id, who, kept)
    yield from _uncount_feedback(d, rollups, project_id, who, kept)
    before = yield from _sessions_before(d, who)
    deleted = yield from deletion.delete_events(d, project_id, ids)
    updated = yield from _settle_session_starts(d, rollups, project_id, user_id, before, kept)
    user_rows = yield Query(d.sql(_DELETE_ROLLUPS), who)
    end_users = yield Query(d.sql(_DELETE_END_USER), who)
    if not d.postgres:
        yield Query(d.sql(_DELETE_DEPARTED), who)
    rollups.forget_user(project_id, user_id)  # nor what this commit would write of it
    return Erasure(
        events=deleted.events, feedback=deleted.feedback, event_tags=deleted.tags,
        sessions=deleted.sessions, sessions_updated=updated,
        end_users=deleted.end_users + len(end_users), user_rollups=len(user_rows),
    )  # fmt: skip


# The earliest bucket of a project's rollups, each level an index lookup.
_FIRST_BUCKET = " UNION ALL ".join(
    f"SELECT MIN(bucket) AS first FROM metric_rollups WHERE project_id = ? AND level = {level}"  # noqa: S608
    for level in LEVELS
)


def _rollups_kept_from(d: Dialect, rollups: Rollups, project_id: int) -> Plan[int]:
    """Where the project's rollups begin (epoch seconds): the earliest stored or accumulated
    (this commit's) cell. A rollup window (retention) deletes old rows, whole days at a time:
    what was counted before is gone already, and subtracting it would write rows of negative
    counts. NEVER (subtract nothing) when there are no rollups at all."""
    rows = yield Query(d.sql(_FIRST_BUCKET), [project_id] * len(LEVELS))
    firsts = [int(row["first"]) for row in rows if row["first"] is not None]
    firsts += [minute for (project, minute, _) in rollups.minutes if project == project_id]
    return min(firsts, default=NEVER)


def _uncount_events(
    d: Dialect, rollups: Rollups, project_id: int, who: list[Any], kept: int
) -> Plan[list[Any]]:
    """Subtract each of the user's events from the cell ingest counted it in (from `kept`
    on); their ids."""
    columns = "id, created_at, model, tokens_in, tokens_out, cost_nano, latency_ms, status"
    rows = yield Query(d.sql(select(columns, "events", _OF_USER)), who)
    for row in rows:
        stamp = int(as_datetime(row["created_at"]).timestamp())
        if stamp < kept:
            continue
        figures = figures_of(
            row["model"], row["tokens_in"], row["tokens_out"], row["cost_nano"],
            row["latency_ms"], row["status"],
        )  # fmt: skip
        rollups.remove_event(project_id, stamp, figures)
    return [row["id"] for row in rows]


def _uncount_feedback(
    d: Dialect, rollups: Rollups, project_id: int, who: list[Any], kept: int
) -> Plan[None]:
    """Subtract the current (latest) feedback of each of the user's events, where it was
    counted: the minute it was given, the event's model (from `kept` on)."""
    sql = select(
        "f.score, f.created_at, e.model",
        "feedback f JOIN events e ON e.id = f.event_id",
        f"e.project_id = ? AND e.user_id = ? AND {IS_LATEST.format(f='f')}",
    )
    for row in (yield Query(d.sql(sql), who)):
        at = as_datetime(row["created_at"])
        if at.timestamp() >= kept:
            rollups.add_feedback(project_id, at, row["model"], int(row["score"]), -1)


# The sessions an erasure touches: those holding the user's events, and those naming it.
_TOUCHED = (
    "s.project_id = ? AND (s.user_id = ? OR s.session_key IN "
    "(SELECT e.session_key FROM events e WHERE e.project_id = ? AND e.user_id = ?))"
)
_STARTS = f"s.id, s.first_event_at, {FIRST_MODEL} AS model"


def _sessions_before(d: Dialect, who: list[Any]) -> Plan[dict[int, tuple[int, str]]]:
    """The touched sessions: id -> where `rollups rebuild` counts its start (epoch seconds,
    model), read before the user's events are deleted."""
    rows = yield Query(d.sql(select(_STARTS, "sessions s", _TOUCHED)), [*who, *who])
    return {int(row["id"]): _start(row) for row in rows}


def _start(row: dict[str, Any]) -> tuple[int, str]:
    return int(as_datetime(row["first_event_at"]).timestamp()), row["model"]


_AFTER = select(_STARTS, "sessions s", "s.id IN ({in})")
_SAME_SESSION = "e.project_id = sessions.project_id AND e.session_key = sessions.session_key"
# A kept session that named the erased user names the last other user given in it, if any.
_RENAME = (
    "UPDATE sessions SET user_id = (SELECT e.user_id FROM events e WHERE "  # noqa: S608
    f"{_SAME_SESSION} AND e.user_id IS NOT NULL ORDER BY e.created_at DESC, e.id DESC LIMIT 1) "
    f"WHERE {_OF_USER}"
)


def _settle_session_starts(
    d: Dialect,
    rollups: Rollups,
    project_id: int,
    user_id: str,
    before: dict[int, tuple[int, str]],
    kept: int,
) -> Plan[int]:
    """After the user's events are gone (and `deletion.settle` deleted the sessions left
    empty, recounting the others): uncount the deleted sessions' starts, move a kept one's
    start where `rollups rebuild` now counts it (first time and model recounted), and stop
    kept sessions naming the user. How many sessions were kept."""
    if not before:
        return 0
    after = {
        int(row["id"]): _start(row) for row in (yield from select_in(d, _AFTER, sorted(before)))
    }
    for session, (started, model) in before.items():
        now = after.get(session)
        if now != (started, model):
            if started >= kept:
                rollups.add_session(project_id, started, model, -1)
            if now is not None and now[0] >= kept:
                rollups.add_session(project_id, *now, 1)
    yield Query(d.sql(_RENAME), [project_id, user_id])
    return len(after)
