"""SQLite: the overview's top end users from what the settled hours hold, remembered, plus a
read of the hours since.

Ranking a window's end users reads every end user's rows (one index range each: ~2,000 users,
5 ms at 100,000 events and 13 ms at 1,000,000, issue 24). Almost all of a window lies before
the hour watermark (`rollup_folds`, level 3600): those hours are folded into `user_rollups`,
and the writer changes their user counts again only through a late event, an erasure, a
retention sweep or a rebuild, each of which adds one to `SETTLED` (the `rollup_folds` row of
level 0) in its own transaction (`SqliteRollups.write`, `rebuild`). So the per-user sums of
the settled part are read once and kept for the reader connection (`_Entry`), keyed by that
count: each later read takes only what lies at or after the boundary (the users active since,
one index range of `end_users` by `last_seen`, and the rare `user_rollups` rows there) and the
count, in one statement, and ranks those users against the kept order. After a changed count
or a moved watermark the window is read whole (`reads._sqlite_top_users`), and its settled
part read again at the next read that finds the same count: writes that move the count every
time (the rest of the hour after a restart, whose fold took the current hour) then cost what
they cost before. Figures are Python integers (exact; ranked and shown capped at MAX_SUM, as
`reads.top_users` ranks them in Python).
"""

from __future__ import annotations

import heapq
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

from app.db import reader
from app.services.rollups.reads import (
    END_USERS,
    END_USERS_PLAIN,
    fetch_sums,
    listed,
    user_figures,
)
from app.services.rollups.sqlite import FOLDED, NEVER, SETTLED
from app.services.sql import SQLITE, db_time, fetch, select
from app.services.store import MAX_SUM

ENTRIES = 16  # windows kept per reader connection
# End users kept over all of a connection's windows (~300 bytes each): the oldest windows are
# forgotten past it, and a window with more is read whole each time.
USERS = 50_000
# Kept only while at most this many buckets of a window lie at or after the watermark (it
# lags when nothing is written: each read would then hand Python every user row since).
RECENT = 2
_FOLDED_HOURS = FOLDED.format(3600)
_COUNT = f"(SELECT COALESCE(MAX(before), 0) FROM rollup_folds WHERE level = {SETTLED})"  # noqa: S608

Counts = tuple[int, int, int]  # events, cost, unpriced


def _by_events(user_id: str, counts: Counts) -> tuple[int, int, str]:
    return (-min(counts[0], MAX_SUM), -min(counts[1], MAX_SUM), user_id)


def _by_cost(user_id: str, counts: Counts) -> tuple[int, int, str]:
    return (-min(counts[1], MAX_SUM), -min(counts[0], MAX_SUM), user_id)


class _Whole(NamedTuple):
    """A window with more than USERS end users: read whole while the count is `settled`."""

    settled: int


class _Entry(NamedTuple):
    """A window's settled part: buckets before `boundary`, as of `settled`."""

    boundary: int
    settled: int
    sums: dict[str, Counts]  # users with events in the window's settled buckets
    by_events: list[str]  # those users in the order of the top list by events
    by_cost: list[str]  # those with a cost, by cost
    before: set[str]  # users active in the previous window's settled buckets


_entries: weakref.WeakKeyDictionary[Any, OrderedDict[tuple[int, ...], _Entry | _Whole | int]] = (
    weakref.WeakKeyDictionary()
)


async def top_users(
    project_id: int, level: int, last_seen: datetime, before: int, since: int, until: int,
    top: int,
) -> tuple[list[tuple[str, Counts]], list[tuple[str, Counts]], int, int] | None:  # fmt: skip
    """`reads.top_users` on SQLite: (by events, by cost, active, active before); None when
    the caller is to read the window whole (`reads._sqlite_top_users`): the count moved
    since the last read of this window (the folded hours are read again only once it holds
    still, so writes that move it every time cost no more than before), the database has no
    hour watermark, or more than RECENT buckets of the window lie at or after it."""
    memo = _entries.setdefault(reader(), OrderedDict())
    key = (project_id, level, before, since, until)
    kept = memo.get(key)
    if isinstance(kept, _Entry):
        rows = await _recent(project_id, level, last_seen, kept.boundary, before, until)
        state = rows.pop()
        count = int(state[1])
        if count == kept.settled and _boundary(state, level) == kept.boundary:
            memo.move_to_end(key)
            return _ranked(kept, rows, since, top)
    else:
        now = (await fetch(SQLITE, _STATE, []))[0]
        count, folded = int(now["settled"]), int(now["folded"])
        if folded >= NEVER or folded - folded % level < until - RECENT * level:
            return None  # nothing folded lazily, or hardly any of the window: read it whole
    if kept == _Whole(count):  # too many end users to keep, as of this count
        return None
    if kept != count:  # changed since, or not read before: remember the count alone
        _remember(memo, key, count)
        return None
    entry = await _settled(project_id, level, last_seen, before, since, until)
    rows = await _recent(project_id, level, last_seen, entry.boundary, before, until)
    if int(rows.pop()[1]) != entry.settled:
        return None
    _remember(memo, key, entry if _users(entry) <= USERS else _Whole(entry.settled))
    return _ranked(entry, rows, since, top)


def _remember(memo: OrderedDict[tuple[int, ...], _Entry | _Whole | int], key: tuple[int, ...],
              kept: _Entry | _Whole | int) -> None:  # fmt: skip
    """Keep a window's settled part (or the count its last read saw), the oldest forgotten
    past ENTRIES windows or USERS end users."""
    memo[key] = kept
    memo.move_to_end(key)
    while len(memo) > ENTRIES or sum(map(_users, memo.values())) > USERS:
        memo.popitem(last=False)


def _users(kept: _Entry | _Whole | int) -> int:
    return len(kept.sums) + len(kept.before) if isinstance(kept, _Entry) else 0


def _boundary(state: Sequence[Any], level: int) -> int:
    """The first bucket of `level` that may still hold unfolded hours (from `_RECENT`'s last
    row)."""
    folded = int(state[2])
    return folded - folded % level


async def _settled(
    project_id: int, level: int, last_seen: datetime, before: int, since: int, until: int
) -> _Entry:
    """The settled part of a window, read now. Its buckets end at the watermark read first;
    the count comes with the sums (one snapshot): buckets before a watermark stay as they are
    until the count moves."""
    folded = int((await fetch(SQLITE, _STATE, []))[0]["folded"])
    boundary = folded - folded % level
    end, previous_end = max(since, min(until, boundary)), max(before, min(since, boundary))
    params = [level, since, end, level, before, previous_end,
              *listed(project_id, db_time(SQLITE, last_seen))]  # fmt: skip
    rows = await fetch_sums(_SETTLED_PLAIN, _SETTLED_PARTS, params)
    settled = int(rows.pop()["hour_bucket"])
    sums: dict[str, Counts] = {}
    was_active: set[str] = set()
    for row in rows:
        counts = user_figures(row["sums"])
        if counts[0]:
            sums[str(row["user_id"])] = counts
        if row["active_before"]:
            was_active.add(str(row["user_id"]))
    by_events = sorted(sums, key=lambda user: _by_events(user, sums[user]))
    costly = (user for user, counts in sums.items() if counts[1] > 0)
    by_cost = sorted(costly, key=lambda user: _by_cost(user, sums[user]))
    return _Entry(boundary, settled, sums, by_events, by_cost, was_active)


# `END_USERS` with the count as a last row (in `hour_bucket`), in the same snapshot.
_COUNT_ROW = f" UNION ALL SELECT NULL, NULL, 0, {_COUNT}, 0, 0, 0, 0"
_SETTLED_PLAIN = END_USERS_PLAIN + _COUNT_ROW
_SETTLED_PARTS = END_USERS + _COUNT_ROW
_STATE = f"SELECT {_COUNT} AS settled, {_FOLDED_HOURS} AS folded"


async def _recent(
    project_id: int, level: int, last_seen: datetime, boundary: int, before: int, until: int
) -> list[Sequence[Any]]:
    """`_RECENT`'s rows for buckets in [max(boundary, before), until)."""
    start = max(boundary, before)
    seen = db_time(SQLITE, last_seen)
    recent = max(seen, db_time(SQLITE, datetime.fromtimestamp(start, UTC)))
    params = [project_id, level, start, until, seen, project_id, recent, start, until]
    # Rows as the driver gives them, not dicts: up to one per end user active since.
    _, rows = await reader().execute_query(_RECENT, params)
    return cast(list[Sequence[Any]], list(rows))


# What lies at or after the boundary, per end user seen since the previous window began: the
# rare user rows there (late, or rebuilt) and the hour each end_users row keeps unfolded; then
# the watermark and the count (`bucket`, `events`) as a last row, in the same snapshot.
_RECENT = " UNION ALL ".join((
    select("r.user_id, r.bucket, r.events, r.cost_nano, r.unpriced", "user_rollups r",
           "r.project_id = ? AND r.level = ? AND r.bucket >= ? AND r.bucket < ? AND EXISTS "
           "(SELECT 1 FROM end_users u WHERE u.project_id = r.project_id AND "
           "u.user_id = r.user_id AND u.last_seen >= ?)"),
    select("user_id, hour_bucket, hour_events, hour_cost_nano, hour_unpriced", "end_users",
           f"project_id = ? AND last_seen >= ? AND hour_events > 0 AND hour_bucket >= "
           f"{_FOLDED_HOURS} AND hour_bucket >= ? AND hour_bucket < ?"),
    f"SELECT NULL, {_COUNT}, {_FOLDED_HOURS}, 0, 0",
))  # fmt: skip


def _ranked(
    entry: _Entry, rows: Iterable[Sequence[Any]], since: int, top: int
) -> tuple[list[tuple[str, Counts]], list[tuple[str, Counts]], int, int]:
    """The settled part and the rows after its boundary (user, bucket, events, cost,
    unpriced), ranked: the changed users (whose figures only grew: what shrinks moves the
    count) against the first unchanged ones of each kept order."""
    sums = entry.sums
    changed: dict[str, list[int]] = {}
    active_before: set[str] = set()
    for user_id, bucket, events, cost, unpriced in rows:
        if bucket < since:
            active_before.add(user_id)
            continue
        counts = changed.get(user_id)
        if counts is None:
            kept = sums.get(user_id, (0, 0, 0))
            changed[user_id] = [kept[0] + events, kept[1] + cost, kept[2] + unpriced]
        else:
            counts[0] += events
            counts[1] += cost
            counts[2] += unpriced
    active = len(sums) + sum(1 for user, counts in changed.items()
                             if counts[0] > 0 and user not in sums)  # fmt: skip
    before = len(entry.before) + len(active_before - entry.before)
    return (_top(entry.by_events, sums, changed, top, 0, 1),
            _top(entry.by_cost, sums, changed, top, 1, 0), active, before)  # fmt: skip


def _top(
    order: list[str], sums: dict[str, Counts], changed: dict[str, list[int]], top: int,
    first: int, second: int,
) -> list[tuple[str, Counts]]:  # fmt: skip
    """The `top` users by figure `first` (events, or cost), then `second`, then id (each
    figure capped at MAX_SUM), among those whose figure `first` is above zero: the changed
    users against the kept order's first `top` unchanged ones."""
    keys = [(-min(counts[first], MAX_SUM), -min(counts[second], MAX_SUM), user)
            for user, counts in changed.items() if counts[first] > 0]  # fmt: skip
    unchanged = 0
    for user in order:
        if unchanged == top:
            break
        if user not in changed:
            counts = sums[user]
            keys.append((-min(counts[first], MAX_SUM), -min(counts[second], MAX_SUM), user))
            unchanged += 1
    return [(user, _counts(changed.get(user) or sums[user]))
            for _, _, user in heapq.nsmallest(top, keys)]  # fmt: skip


def _counts(figures: Sequence[int]) -> Counts:
    return (figures[0], figures[1], figures[2])
