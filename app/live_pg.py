"""The live bus across processes on PostgreSQL: NOTIFY in the write transaction, LISTEN here.

Every group commit on PostgreSQL sends its live messages with `pg_notify` inside the same
transaction, so they are delivered exactly when (and only if) the data is committed. Each
process holds one dedicated LISTEN connection that feeds its local bus; a process skips its own
notifications because it already published them locally after commit. After a lost
connection it reconnects and catches up from the database: everything committed since a little
before the last message it saw (or the loss, if earlier), minus what it already delivered. A
reconnect or catch-up that fails (the connection lost again) is retried from the same point
until it succeeds; tests/test_live_listen_kill.py terminates the connection in PostgreSQL
again and again while events flow. The connection's application_name is `phospho-live`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from app.live import EventLogged, FeedbackAdded, LiveBus, LiveMessage

log = logging.getLogger("phospho.live")

CHANNEL = "phospho_live"
MAX_PAYLOAD = 7000  # NOTIFY payloads must stay below 8000 bytes
CATCH_UP_MARGIN = timedelta(seconds=5)  # commits from other processes may land slightly late
REMEMBERED = 100_000
APP_NAME = "phospho-live"  # the LISTEN connection's application_name


def encode(origin: str, messages: Iterable[LiveMessage]) -> list[str]:
    """NOTIFY payloads for `messages`, each below the size limit."""
    payloads: list[str] = []
    rows: list[list[Any]] = []
    size = 0
    for message in messages:
        row = _row(message)
        length = len(orjson.dumps(row)) + 1
        if rows and size + length > MAX_PAYLOAD:
            payloads.append(orjson.dumps({"o": origin, "m": rows}).decode())
            rows, size = [], 0
        rows.append(row)
        size += length
    if rows:
        payloads.append(orjson.dumps({"o": origin, "m": rows}).decode())
    return payloads


def decode(payload: str) -> tuple[str, list[LiveMessage]]:
    """The origin and messages of a NOTIFY payload."""
    data = orjson.loads(payload)
    return str(data["o"]), [_message(row) for row in data["m"]]


def _row(m: LiveMessage) -> list[Any]:
    when = m.created_at.isoformat()
    if isinstance(m, EventLogged):
        return ["e", m.project_id, str(m.event_id), m.session_id, m.user_id, m.model, m.status,
                m.tags, when]  # fmt: skip
    return ["f", m.project_id, str(m.feedback_id), str(m.event_id), m.score, when]


def _message(row: list[Any]) -> LiveMessage:
    when = datetime.fromisoformat(row[-1])
    if row[0] == "e":
        # Status and tags (a row of 9) are absent from a release before them (a row of 7).
        status, tags = (row[6], tuple(row[7])) if len(row) == 9 else (None, ())
        return EventLogged(row[1], uuid.UUID(row[2]), row[3], row[4], row[5], when, status, tags)
    return FeedbackAdded(row[1], uuid.UUID(row[2]), uuid.UUID(row[3]), row[4], when)


class PostgresBridge:
    """Feeds the local bus from other processes' commits, through LISTEN."""

    def __init__(self, bus: LiveBus, url: str, origin: str, *, retry_seconds: float = 1.0) -> None:
        self._bus = bus
        self._url = url
        self._origin = origin
        self._retry = retry_seconds
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._lost_at: datetime | None = None
        self._last_seen: datetime | None = None
        self.connected = asyncio.Event()
        bus.remember(REMEMBERED)

    @property
    def listening(self) -> bool:
        """Whether the LISTEN connection is up and the task that restores it still runs
        (GET /api/v1/ready reports it)."""
        conn, task = self._conn, self._task
        up = self.connected.is_set() and conn is not None and not conn.is_closed()
        return up and task is not None and not task.done()

    async def start(self) -> None:
        """Connect and start listening (and reconnecting when the connection is lost)."""
        await self._connect()
        self._task = asyncio.create_task(self._watch(), name="phospho-live-listen")
        self._task.add_done_callback(_report_end)

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()
        self._conn = None

    async def _connect(self) -> None:
        # Named, so an operator (or a test) finds it in pg_stat_activity.
        conn = await asyncpg.connect(self._url, server_settings={"application_name": APP_NAME})
        conn.add_termination_listener(lambda _: self._on_lost())
        await conn.add_listener(CHANNEL, self._on_notify)
        self._conn = conn
        self._lost.clear()
        self.connected.set()

    def _on_lost(self) -> None:
        # The first loss not yet caught up is where a catch-up starts: a connection lost again
        # while reconnecting or catching up must not move it later.
        if self._lost_at is None:
            self._lost_at = datetime.now(UTC)
        self.connected.clear()
        self._lost.set()

    async def _watch(self) -> None:
        while True:
            await self._lost.wait()
            log.warning("live LISTEN connection lost; reconnecting")
            try:
                await self._connect()
                await self._catch_up()
            # Lost again (or never back): retry; nothing is forgotten. Any error, not just a
            # lost connection's: asyncpg also raises InternalClientError ("cannot switch to
            # state ...") when terminated mid-query, and a dead watcher would silently end
            # the process's live feed from every other process.
            except Exception as exc:
                log.warning("live LISTEN reconnect or catch-up failed (%r); retrying", exc)
                self._drop()
                await asyncio.sleep(self._retry)
                continue
            if not self._lost.is_set():  # else lost again after the catch-up's last read
                self._lost_at = None

    def _drop(self) -> None:
        """Give up the current connection; the watcher reconnects and catches up again."""
        self.connected.clear()
        self._lost.set()
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            origin, messages = decode(payload)
        except (ValueError, KeyError, IndexError, TypeError):
            log.exception("ignoring a malformed live notification")
            return
        if origin != self._origin:
            self._deliver(messages)

    def _deliver(self, messages: list[LiveMessage]) -> None:
        for message in messages:
            if self._last_seen is None or message.created_at > self._last_seen:
                self._last_seen = message.created_at
        self._bus.publish(messages, dedupe=True)

    async def _catch_up(self) -> None:
        """Deliver what other processes committed while the connection was down."""
        projects = self._bus.project_ids()
        if not projects or self._conn is None:
            return
        marks = [t for t in (self._last_seen, self._lost_at) if t is not None]
        since = min(marks, default=datetime.now(UTC)) - CATCH_UP_MARGIN
        events = await self._conn.fetch(
            "SELECT id, project_id, session_key, user_id, model, created_at, status, "
            "ARRAY(SELECT tag FROM event_tags t WHERE t.event_id = events.id ORDER BY t.id) "
            "AS tags FROM events "
            "WHERE project_id = ANY($1::int[]) AND created_at >= $2 ORDER BY created_at, id",
            projects, since,
        )  # fmt: skip
        feedback = await self._conn.fetch(
            "SELECT id, project_id, event_id, score, created_at FROM feedback "
            "WHERE project_id = ANY($1::int[]) AND created_at >= $2 ORDER BY created_at, id",
            projects, since,
        )  # fmt: skip
        messages: list[LiveMessage] = [
            EventLogged(r["project_id"], r["id"], r["session_key"], r["user_id"], r["model"],
                        r["created_at"], r["status"], tuple(r["tags"]))
            for r in events
        ] + [
            FeedbackAdded(r["project_id"], r["id"], r["event_id"], r["score"], r["created_at"])
            for r in feedback
        ]  # fmt: skip
        messages.sort(key=lambda m: m.created_at)
        self._deliver(messages)


def _report_end(task: asyncio.Task[None]) -> None:
    """Log the watcher's end unless it was stopped: no more live messages from elsewhere."""
    if not task.cancelled() and task.exception() is not None:
        log.error("live LISTEN watcher stopped", exc_info=task.exception())
