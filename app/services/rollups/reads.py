"""What the metrics read of the rollups: a level's rows with the fine rows not folded yet, and
the end users' sums of a window.

On SQLite the minute rows and the end users' hours at or after their watermark (`FOLDED`,
app/services/rollups/sqlite.py) are not in the coarser levels yet: each read adds them in the
same statement (one snapshot, nothing counted twice). PostgreSQL writes every level in every
commit. The metrics (app/services/metrics.py) read the rollup tables only through here.
"""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import Any, NamedTuple

from tortoise.exceptions import OperationalError

from app.services.rollups.cells import DAY, HOUR, MINUTE, USER_LEVELS
from app.services.rollups.sqlite import FOLDED
from app.services.sql import POSTGRES, SQLITE, Dialect, db_time, fetch, select
from app.services.store import MAX_SUM

_ROLLUP_COLUMNS = (
    "bucket, model, events, tokens_in, tokens_out, cost_nano, unpriced, latency_hist, "
    "feedback_positive, feedback_negative, sessions, errors"
)


class UserSums(NamedTuple):
    """An end user's sums over a window."""

    user_id: str
    events: int
    cost_nano: int
    unpriced: int


class TopUsers(NamedTuple):
    """A window's busiest end users (by events, then cost), its costliest (cost > 0), how many
    were active in it, and how many in the window before."""

    by_events: list[UserSums]
    by_cost: list[UserSums]
    active: int
    active_before: int


async def metric_rows(
    d: Dialect, level: int, project_id: int, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """The `metric_rollups` rows of a project at `level` in [since, until) (`Cell.from_row`
    reads them), with the minute rows not folded into that level yet: a (model, bucket) may
    have several rows."""
    source, params = metric_source(d, level, project_id, since, until)
    return await fetch(d, select(_ROLLUP_COLUMNS, source, "TRUE"), params)


async def metric_spans(
    d: Dialect, project_id: int, spans: list[tuple[int, datetime, datetime]]
) -> list[dict[str, Any]]:
    """`metric_rows` of several (level, since, until) spans, in one statement (one snapshot):
    the spans must not overlap, so no event is counted twice."""
    parts = [metric_source(d, level, project_id, since, until) for level, since, until in spans]
    sql = " UNION ALL ".join(select(_ROLLUP_COLUMNS, source, "TRUE") for source, _ in parts)
    return await fetch(d, sql, [param for _, params in parts for param in params])


def metric_source(
    d: Dialect, level: int, project_id: int, since: datetime, until: datetime
) -> tuple[str, list[Any]]:
    """The metric rows of `level` in [since, until), plus on SQLite the minute rows not yet
    folded into the coarser levels (rollups.Folds): as a derived table, in one statement (one
    snapshot, nothing counted twice), each part an index range (an OR of the two scanned every
    row of the project)."""
    span = [int(since.timestamp()), int(until.timestamp())]
    where = "project_id = ? AND level = ? AND bucket >= ? AND bucket < ?"
    rows = select("*", "metric_rollups", where)
    if level == MINUTE or d.postgres:  # PostgreSQL: every commit writes every level
        return f"({rows}) r", [project_id, level, *span]
    start = f"MAX(?, {FOLDED.format(MINUTE)})"
    unfolded = select(
        "*", "metric_rollups", f"project_id = ? AND level = 60 AND bucket >= {start} AND bucket < ?"
    )
    return f"({rows} UNION ALL {unfolded}) r", [project_id, level, *span, project_id, *span]


# Sums of costs, which can pass 2^63 (a saturated row, or ~9,223 events at the maximum cost):
# PostgreSQL's SUM of bigint is numeric (exact, unbounded). SQLite's SUM raises "integer
# overflow" past 2^63 (TOTAL is a double: inexact), so it sums three 21-bit parts of the value
# (`_whole` puts them together): each part is below 2^21, so a part's sum could overflow only
# past 2^42 rows, more than a SQLite database can hold (2^32 pages of 64 KiB, rows of more than
# 64 bytes). Counts are sums of ones: they stay below the number of events stored.
_PARTS = (42, 21, 0)
_PART_MASK = 2**21 - 1


def _exact_sum(d: Dialect, column: str) -> str:
    """SQL summing a non-negative bigint column without overflow: one value on PostgreSQL,
    the three parts joined by ',' on SQLite (read back by `_whole`)."""
    if d.postgres:
        return f"SUM({column})::text"
    return " || ',' || ".join(f"SUM(({column} >> {shift}) & {_PART_MASK})" for shift in _PARTS)


def _whole(text: Any) -> int:
    """A sum written by `_exact_sum`, as an integer (0 for NULL: no rows)."""
    if text is None:
        return 0
    parts = str(text).split(",")
    if len(parts) == 1:
        return int(parts[0])
    return sum(int(part) << shift for part, shift in zip(parts, _PARTS, strict=True))


def _user_sums(d: Dialect, prefix: str = "") -> str:
    """events, cost (`_exact_sum`) and unpriced of user rows, joined by '|' as one text."""
    return (
        f"SUM({prefix}events) || '|' || {_exact_sum(d, prefix + 'cost_nano')} || '|' || "
        f"SUM({prefix}unpriced)"
    )


_USER_SUMS = f"user_id, {_user_sums(POSTGRES)} AS sums"  # PostgreSQL only
_USER_TEXT = _user_sums(SQLITE, "r.")  # SQLite only
_USER_ROWS = "r.project_id = u.project_id AND r.level = ? AND r.user_id = u.user_id"
# SQLite: per end user seen since the previous window began (through the (project,
# last_seen) index: a user active in a window was last seen at or after its start): the
# window's sums (`_user_sums`'s text, NULL without rows), whether the user was active
# in the previous window, and the counts of the user's hour not folded yet (kept in the row:
# see Rollups.end_user_hour) with the watermark that says so. Each subquery is a
# range of the (project, level, user, bucket, ...) covering index: the cost grows with the
# users and buckets of the window; a GROUP BY over the user rows sorted all of them (~60 ms
# for a month of 2,000 users, against ~20). PostgreSQL groups the rows of the window instead
# (its plan streams the covering index, or hashes): there the end_users table is mostly dead
# rows (every commit updates its users), and EXISTS became a hashed scan of the previous
# window.


# SQLite's list of end users: the end_users rows, and the end users the retention sweep
# deleted whose rollups stay (`departed_users`, migration 17: the Overview keeps their
# history) unless they came back. Each part is an index range by (project, last_seen); its
# parameters, the project and the time, twice (`listed`).
_LISTED = (
    "(SELECT project_id, user_id, hour_bucket, hour_events, hour_cost_nano, hour_unpriced "
    "FROM end_users WHERE project_id = ? AND last_seen >= ? "
    "UNION ALL SELECT d.project_id, d.user_id, 0, 0, 0, 0 FROM departed_users d "
    "WHERE d.project_id = ? AND d.last_seen >= ? AND NOT EXISTS (SELECT 1 FROM end_users x "
    "WHERE x.project_id = d.project_id AND x.user_id = d.user_id)) u"
)


def listed(project_id: int, seen: Any) -> list[Any]:
    """The parameters of `_LISTED` (END_USERS' last ones): end users seen at or after `seen`
    (SQLite's text of a time)."""
    return [project_id, seen, project_id, seen]


def _end_users(sums: str) -> str:
    """`END_USERS` with the sums written as `sums`."""
    return select(
        f"u.user_id, (SELECT {sums} FROM user_rollups r WHERE {_USER_ROWS} "  # noqa: S608
        "AND r.bucket >= ? AND r.bucket < ?) AS sums, "
        f"EXISTS (SELECT 1 FROM user_rollups r WHERE {_USER_ROWS} AND r.bucket >= ? "
        "AND r.bucket < ?) AS active_before, u.hour_bucket, u.hour_events, u.hour_cost_nano, "
        f"u.hour_unpriced, {FOLDED.format(HOUR)} AS folded",
        _LISTED,
        "TRUE",
    )


END_USERS = _end_users(_USER_TEXT)
# The same with plain sums of the costs: SQLite raises "integer overflow" when one passes
# 2^63 (then END_USERS sums them exactly in parts). Summing each cost once instead of three
# parts, and parsing one number, cut ~40% of the statement (issue 24, bench/graphql).
END_USERS_PLAIN = _end_users("SUM(r.events) || '|' || SUM(r.cost_nano) || '|' || SUM(r.unpriced)")
_UNPRICED = (
    "SUM(CASE WHEN cost_nano IS NULL AND (tokens_in IS NOT NULL OR tokens_out IS NOT NULL) "
    "THEN 1 ELSE 0 END)"
)


def _user_from_events(d: Dialect) -> str:
    """Per-user sums over events, as `_user_sums` writes them (costs may be NULL: unpriced)."""
    cost = f"COALESCE({_exact_sum(d, 'cost_nano')}, '0')"
    return f"user_id, COUNT(*) || '|' || {cost} || '|' || {_UNPRICED} AS sums"


_EVENTS_OF_USERS = "project_id = ? AND user_id IS NOT NULL AND created_at >= ? AND created_at < ?"


async def user_sums(
    d: Dialect, project_id: int, level: int, before: datetime, since: datetime, until: datetime
) -> tuple[list[UserSums], int]:
    """Every end user active in [since, until) with their sums, and how many end users were
    active in [before, since). From user rollups at hour and day level (on SQLite with the
    end users' hours not folded yet); below that from the events themselves (a window of
    minute buckets is short)."""
    if level not in USER_LEVELS:
        params = [project_id, db_time(d, since), db_time(d, until)]
        previous = [project_id, db_time(d, before), params[1]]
        return await _grouped(d, _user_from_events(d), "events", _EVENTS_OF_USERS, params,
                              previous)  # fmt: skip
    stamps = [int(value.timestamp()) for value in (before, since, until)]
    if d.postgres:
        return await _postgres_user_sums(d, project_id, level, *stamps)
    return await _sqlite_user_sums(d, project_id, level, before, *stamps)


async def top_users(
    d: Dialect, project_id: int, level: int, before: datetime, since: datetime, until: datetime,
    top: int,
) -> TopUsers:  # fmt: skip
    """`user_sums` as the overview shows them: the `top` end users of [since, until) by events
    (then cost, then id) and by cost (then events, then id), each sum capped at MAX_SUM as
    shown, and the counts of active users. PostgreSQL ranks in SQL (a page of rows, not every
    user's); SQLite ranks hour windows from the folded hours' sums it keeps
    (app/services/rollups/settled.py), else in SQL; elsewhere the users are ranked here."""
    if d.postgres and level in USER_LEVELS:
        first, start, end = (int(value.timestamp()) for value in (before, since, until))
        return await _postgres_top_users(d, project_id, level, first, start, end, top)
    if level == HOUR:  # day rows: today's would be read for every end user active today
        from app.services.rollups import settled  # it reads with this module's statements

        first, start, end = (int(value.timestamp()) for value in (before, since, until))
        kept = await settled.top_users(project_id, level, before, first, start, end, top)
        if kept is not None:
            by_events, by_cost, active, active_before = kept
            return TopUsers([UserSums(user, *counts) for user, counts in by_events],
                            [UserSums(user, *counts) for user, counts in by_cost],
                            active, active_before)  # fmt: skip
    if level in USER_LEVELS:
        ranked = await _sqlite_top_users(d, project_id, level, before, since, until, top)
        if ranked is not None:
            return ranked
    users, active_before = await user_sums(d, project_id, level, before, since, until)
    costly = [user for user in users if user.cost_nano > 0]
    return TopUsers(heapq.nsmallest(top, users, key=lambda u: (-min(u.events, MAX_SUM),
                                                               -min(u.cost_nano, MAX_SUM),
                                                               u.user_id)),
                    heapq.nsmallest(top, costly, key=lambda u: (-min(u.cost_nano, MAX_SUM),
                                                                -min(u.events, MAX_SUM),
                                                                u.user_id)),
                    len(users), active_before)  # fmt: skip


def whole_days(level: int, since: int, until: int) -> list[tuple[int, int, int]]:
    """[since, until) (Unix seconds, aligned to `level`) as (level, since, until) spans that
    count the same events: the whole days inside it at day level, the hours at either end
    at `level`. A week of hours is then ~6 day rows and ~24 hour rows a model or end user,
    not 168 (every commit writes every level on PostgreSQL; SQLite folds the finer levels)."""
    first, last = -(-since // DAY) * DAY, until // DAY * DAY
    if level >= DAY or last <= first:
        return [(level, since, until)]
    spans = [(level, since, first), (DAY, first, last), (level, last, until)]
    return [span for span in spans if span[1] < span[2]]


def _user_rows(project_id: int, spans: list[tuple[int, int, int]], columns: str, union: str) -> str:
    """A project's user rows of `spans` as one statement, its parts joined by `union` ("UNION
    ALL", or "UNION": distinct rows). Only whole numbers of ours are in the text (no
    parameters), so each range is planned for its own size: a prepared statement's generic
    plan, which asyncpg's reuse leads to after five runs, guessed ~270 rows for a month of
    ~26,000 day rows and read them through the heap (35 ms, not 10)."""
    where = "project_id = {} AND level = {} AND bucket >= {} AND bucket < {}"
    parts = (select(columns, "user_rollups", where.format(*map(int, (project_id, *span))))
             for span in spans)  # fmt: skip
    return f" {union} ".join(parts)


async def _postgres_user_sums(
    d: Dialect, project_id: int, level: int, before: int, since: int, until: int
) -> tuple[list[UserSums], int]:
    """`user_sums` of hour and day levels on PostgreSQL: the window's rows grouped by user, and
    the previous window's distinct users (DISTINCT and UNION: hashed, where COUNT(DISTINCT)
    sorted ~19,000 hour rows in 19 ms), each over `whole_days` spans: ~8,000 rows for a week
    of hours, not 19,000."""
    rows = _user_rows(project_id, whole_days(level, since, until),
                      "user_id, events, cost_nano, unpriced", "UNION ALL")  # fmt: skip
    found = await fetch(d, select(_USER_SUMS, f"({rows}) r", "TRUE", "GROUP BY user_id"), [])
    distinct = _user_rows(project_id, whole_days(level, before, since), "DISTINCT user_id",
                          "UNION")  # fmt: skip
    counted = await fetch(d, f"SELECT COUNT(*) AS users FROM ({distinct}) u", [])  # noqa: S608
    users = [UserSums(str(row["user_id"]), *user_figures(row["sums"])) for row in found]
    return users, int(counted[0]["users"])


# The overview's end users on PostgreSQL, ranked in SQL from one grouping of the window's user
# rows (MATERIALIZED: grouped once for its three readers), capped as shown (store.MAX_SUM).
_TOP_USERS = """WITH sums AS MATERIALIZED (
    SELECT user_id, LEAST(SUM(events), {cap}) AS events, LEAST(SUM(cost_nano), {cap}) AS cost,
           LEAST(SUM(unpriced), {cap}) AS unpriced FROM ({rows}) r GROUP BY user_id)
(SELECT 'events' AS top, user_id, events, cost, unpriced FROM sums
 ORDER BY events DESC, cost DESC, user_id COLLATE "C" LIMIT {top})
UNION ALL
(SELECT 'cost', user_id, events, cost, unpriced FROM sums WHERE cost > 0
 ORDER BY cost DESC, events DESC, user_id COLLATE "C" LIMIT {top})
UNION ALL
SELECT 'active', NULL, COUNT(*), 0, 0 FROM sums
UNION ALL
SELECT 'before', NULL, COUNT(*), 0, 0 FROM ({before}) b"""


async def _postgres_top_users(
    d: Dialect, project_id: int, level: int, before: int, since: int, until: int, top: int
) -> TopUsers:
    """`top_users` on PostgreSQL: `_TOP_USERS` over `whole_days` spans, ~8,000 rows for a week
    of hours (not 19,000); the previous window's users are counted DISTINCT (hashed: its
    COUNT(DISTINCT) sorted ~19,000 rows in 19 ms)."""
    statement = _TOP_USERS.format(
        cap=MAX_SUM, top=int(top),
        rows=_user_rows(project_id, whole_days(level, since, until),
                        "user_id, events, cost_nano, unpriced", "UNION ALL"),
        before=_user_rows(project_id, whole_days(level, before, since), "DISTINCT user_id",
                          "UNION"),
    )  # fmt: skip
    found: dict[str, list[UserSums]] = {"events": [], "cost": [], "active": [], "before": []}
    for row in await fetch(d, statement, []):
        user = UserSums(str(row["user_id"]), int(row["events"]), int(row["cost"]),
                        int(row["unpriced"]))  # fmt: skip
        found[row["top"]].append(user)
    return TopUsers(found["events"], found["cost"], found["active"][0].events,
                    found["before"][0].events)  # fmt: skip


# The overview's end users on SQLite, ranked in SQL from END_USERS_PLAIN's rows (with the
# hour not folded yet added as `_sqlite_user_sums` adds it): the two top lists and the counts,
# ~22 rows instead of one per end user seen since the previous window began. Handing 1,500
# rows to Python and ranking them there cost more than the statement (bench/graphql at
# 100,000 events: ~5 of the metrics' 12 ms). Exact while every figure is below 2^62 (`big`
# says otherwise): then no sum can pass 2^63 nor be capped, and the order is Python's (ids
# in BINARY order, which is UTF-8's, which is code points').
_BIG = 2**62
_IN_WINDOW = "(unfolded AND hour_bucket >= ? AND hour_bucket < ?)"
_SQLITE_TOP_USERS = f"""WITH per AS MATERIALIZED ({END_USERS_PLAIN}),
split AS MATERIALIZED (
    SELECT user_id, active_before, hour_bucket, hour_events, hour_cost_nano, hour_unpriced,
           hour_events > 0 AND hour_bucket >= folded AS unfolded,
           COALESCE(CAST(substr(sums, 1, instr(sums, '|') - 1) AS INTEGER), 0) AS e,
           substr(sums, instr(sums, '|') + 1) AS rest
    FROM per),
parts AS MATERIALIZED (
    SELECT *, COALESCE(CAST(substr(rest, 1, instr(rest, '|') - 1) AS INTEGER), 0) AS c,
           COALESCE(CAST(substr(rest, instr(rest, '|') + 1) AS INTEGER), 0) AS u
    FROM split),
figures AS MATERIALIZED (
    SELECT user_id,
           e + CASE WHEN {_IN_WINDOW} THEN hour_events ELSE 0 END AS events,
           c + CASE WHEN {_IN_WINDOW} THEN hour_cost_nano ELSE 0 END AS cost,
           u + CASE WHEN {_IN_WINDOW} THEN hour_unpriced ELSE 0 END AS unpriced,
           active_before OR {_IN_WINDOW} AS was_active,
           MAX(e, c, u, hour_events, hour_cost_nano, hour_unpriced) >= {_BIG} AS big
    FROM parts)
SELECT * FROM (SELECT 'events' AS top, user_id, events, cost, unpriced FROM figures
               WHERE events > 0 ORDER BY events DESC, cost DESC, user_id LIMIT ?)
UNION ALL
SELECT * FROM (SELECT 'cost', user_id, events, cost, unpriced FROM figures
               WHERE events > 0 AND cost > 0 ORDER BY cost DESC, events DESC, user_id LIMIT ?)
UNION ALL
SELECT 'counts', NULL, COALESCE(SUM(events > 0), 0), COALESCE(SUM(was_active), 0),
       COALESCE(MAX(big), 0) FROM figures"""  # noqa: S608


async def _sqlite_top_users(
    d: Dialect, project_id: int, level: int, last_seen: datetime, since: datetime,
    until: datetime, top: int,
) -> TopUsers | None:  # fmt: skip
    """`top_users` on SQLite ranked in SQL (`_SQLITE_TOP_USERS`); None when a figure is too
    large for its plain sums (then `_sqlite_user_sums` sums and ranks them exactly)."""
    before, start, end = (int(value.timestamp()) for value in (last_seen, since, until))
    params = [level, start, end, level, before, start, *listed(project_id, db_time(d, last_seen)),
              start, end, start, end, start, end, before, start, int(top), int(top)]  # fmt: skip
    try:
        rows = await fetch(d, _SQLITE_TOP_USERS, params)
    except OperationalError as exc:
        if "overflow" not in str(exc):
            raise
        return None
    found: dict[str, list[UserSums]] = {"events": [], "cost": []}
    counts = next(row for row in rows if row["top"] == "counts")
    if counts["unpriced"]:  # `big`: a figure past 2^62
        return None
    for row in rows:
        if row["top"] in found:
            found[row["top"]].append(UserSums(str(row["user_id"]), int(row["events"]),
                                              int(row["cost"]), int(row["unpriced"])))  # fmt: skip
    # Each list in its order again (a UNION ALL keeps its parts' order only in practice).
    by_events = sorted(found["events"], key=lambda u: (-u.events, -u.cost_nano, u.user_id))
    by_cost = sorted(found["cost"], key=lambda u: (-u.cost_nano, -u.events, u.user_id))
    return TopUsers(by_events, by_cost, int(counts["events"]), int(counts["cost"]))


async def _sqlite_user_sums(
    d: Dialect, project_id: int, level: int, last_seen: datetime, *stamps: int
) -> tuple[list[UserSums], int]:
    """`user_sums` of hour and day levels on SQLite (`END_USERS`)."""
    before, since, until = stamps
    params = [level, since, until, level, before, since, *listed(project_id, db_time(d, last_seen))]
    users: list[UserSums] = []
    active_before = 0
    rows = await fetch_sums(END_USERS_PLAIN, END_USERS, params)
    for row in rows:
        events, cost, unpriced = user_figures(row["sums"])
        was_active = bool(row["active_before"])
        hour, kept = int(row["hour_bucket"]), int(row["hour_events"])
        if kept > 0 and hour >= int(row["folded"]):  # not in user_rollups yet
            if since <= hour < until:
                events += kept
                cost += int(row["hour_cost_nano"])
                unpriced += int(row["hour_unpriced"])
            was_active = was_active or before <= hour < since
        active_before += was_active
        if events:
            users.append(UserSums(str(row["user_id"]), events, cost, unpriced))
    return users, active_before


async def fetch_sums(plain: str, parts: str, params: list[Any]) -> list[dict[str, Any]]:
    """SQLite: the rows of `plain` (costs summed plainly), or of `parts` (summed in parts,
    `_exact_sum`) when a sum passed 2^63 and SQLite reported an integer overflow."""
    try:
        return await fetch(SQLITE, plain, params)
    except OperationalError as exc:
        if "overflow" not in str(exc):
            raise
        return await fetch(SQLITE, parts, params)


def user_figures(sums: Any) -> tuple[int, int, int]:
    """(events, cost, unpriced) from `_user_sums`'s text (None: no rows)."""
    if sums is None:
        return 0, 0, 0
    events, cost, unpriced = str(sums).split("|")
    return int(events), _whole(cost), int(unpriced)


async def _grouped(
    d: Dialect, columns: str, table: str, where: str, params: list[Any], previous: list[Any]
) -> tuple[list[UserSums], int]:
    """Per-user sums of the rows of `table` matching `where` (`columns`: user_id and sums as
    `_user_sums` writes them), and the distinct users of the previous window's rows."""
    rows = await fetch(d, select(columns, table, where, "GROUP BY user_id"), params)
    sql = select("COUNT(DISTINCT user_id) AS users", table, where)
    counted = await fetch(d, sql, previous)
    users = [UserSums(str(row["user_id"]), *user_figures(row["sums"])) for row in rows]
    return users, int(counted[0]["users"])
