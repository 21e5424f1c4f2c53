"""A bad job never poisons a group: junk from one client does not slow another project.

Before, on PostgreSQL a job failing in the database aborted the whole group commit and every
job of the group was retried alone: another project's REST throughput fell from 1,539 to 547
req/s while one client sent failing GraphQL jobs (issue 17). Now input that can never be
stored is refused before it is queued (a 4xx naming the field), a job that still fails in the
writer is isolated by bisecting its group (a 500, logged), and only conditions a retry can get
past answer 503.

The throughput test runs a real server (with a fault planted behind validation:
poison_server.py) and measures project A's closed-loop throughput while client B sends, at the
same paced rate, either valid events (the baseline: it isolates poisoning from plain CPU
sharing on one event loop) or junk: every kind of invalid input, plus jobs that fail in the
database. Rounds are interleaved (valid, junk, junk, valid, …) and compared pair by pair; the
median ratio must stay above 90%.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from tortoise.exceptions import OperationalError

from app.db import reader
from app.errors import Internal, Unavailable
from app.services import ingest, store
from app.services.ingest import Ingestor
from app.services.sql import POSTGRES, SQLITE, Dialect
from app.services.write_backends import (
    Failure,
    SqliteWriteBackend,
    failure_of,
)
from tests.factories import assert_every_level_counts, fresh_database, new_principal
from tests.harness import (
    BACKENDS,
    Server,
    Tenant,
    make_server,
)
from tests.reliability.poison_server import POISON_INT, POISON_NUL, poisoned

# --- In process: bisection and the classification of failures -----------------------------


@pytest.fixture(params=BACKENDS)
async def ingestor(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Ingestor]:
    """A running Ingestor on a fresh database (ORM open)."""
    backend = str(request.param)
    running = Ingestor()
    async with fresh_database(backend, tmp_path_factory.mktemp(f"poison-{backend}"), running):
        yield running


async def test_a_failing_job_fails_alone_and_its_group_commits(
    ingestor: Ingestor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One job that fails in the database among 16 queued together: it gets a 500 (never a
    503) and the 15 others commit together, after about 2·log2(16) trial runs rolled back.
    Its source is then quarantined: its next failing job, queued with 15 others again, fails
    apart from them, and theirs commit at once (no failed transaction, no trial run)."""
    backend = ingestor.writer._backend
    postgres = backend is not None and backend.dialect.postgres
    monkeypatch.setattr(ingest, "_event_row", poisoned(ingest._event_row, postgres))
    calls: list[tuple[str, int]] = []
    transaction, trial = ingestor.writer._transaction, ingestor.writer._trial

    async def counted(jobs: list[Any]) -> list[Any]:
        calls.append(("commit", len(jobs)))
        return await transaction(jobs)

    async def tried(jobs: list[Any]) -> Exception | None:
        calls.append(("trial", len(jobs)))
        return await trial(jobs)

    monkeypatch.setattr(ingestor.writer, "_transaction", counted)
    monkeypatch.setattr(ingestor.writer, "_trial", tried)
    good = await new_principal("good")
    for bad, poison in (
        (await new_principal("bad"), POISON_INT),
        (await new_principal("ugly"), POISON_NUL),
    ):
        for attempt in ("first", "quarantined"):
            calls.clear()
            jobs = [ingestor.log_event(good, {"input": f"q{i}", "output": "a"}) for i in range(15)]
            jobs.insert(7, ingestor.log_event(bad, {"input": poison, "output": "a"}))
            outcomes = await asyncio.gather(*jobs, return_exceptions=True)
            failed = outcomes.pop(7)
            assert isinstance(failed, Internal) and failed.status_code == 500
            assert "retry" not in failed.message
            assert not [o for o in outcomes if isinstance(o, BaseException)]
            if attempt == "first":  # the group, trials, then all but the bad job
                assert [c for c in calls if c[0] == "commit"] == [("commit", 16), ("commit", 15)]
                assert len(calls) - 2 <= 2 * math.log2(16), calls
            else:  # the others first, in one commit; the bad job alone (PostgreSQL: its lane)
                assert calls[0] == ("commit", 15) and ("commit", 16) not in calls, calls
                assert not [c for c in calls if c[0] == "trial"], calls
    stored = await ingestor.log_event(good, {"input": "after", "output": "a"})
    assert stored.event_id


LATE = "poison: fails after its rollups were planned"


async def test_quarantined_jobs_store_exactly_what_passed(
    ingestor: Ingestor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quarantined source's jobs, valid and failing mixed, commit each in a savepoint: the
    rollups hold the valid events exactly, histograms included, on both databases. The last
    job of each round fails after its rollups were planned (the SQLite writer must then
    forget the histograms that job staged)."""
    backend = ingestor.writer._backend
    assert backend is not None
    monkeypatch.setattr(ingest, "_event_row", poisoned(ingest._event_row, backend.dialect.postgres))
    plan = ingestor.writer._plan

    def late(jobs: list[Any], d: Dialect) -> Any:
        outcomes = yield from plan(jobs, d)
        if any(e.input == LATE for j in jobs if isinstance(j, ingest.EventsJob) for e in j.events):
            raise RuntimeError("a fault after the rollups were planned")
        return outcomes

    monkeypatch.setattr(ingestor.writer, "_plan", late)
    mixed, other = await new_principal("mixed"), await new_principal("other")
    with pytest.raises(Internal):  # quarantines the source
        await ingestor.log_event(mixed, {"input": POISON_INT, "output": "a"})
    latencies: list[float] = []
    for round_ in range(3):
        jobs = []
        for index, kind in enumerate(["ok", POISON_INT, "ok", POISON_NUL, "ok", LATE]):
            latency = 10.0 * (round_ * 6 + index + 1)
            metadata = {"model": "m", "latency_ms": latency}
            jobs.append(
                ingestor.log_event(mixed, {"input": kind, "output": "a", "metadata": metadata})
            )
            latencies += [latency] if kind == "ok" else []
        jobs.append(ingestor.log_event(other, {"input": "ok", "output": "a"}))
        outcomes = await asyncio.gather(*jobs, return_exceptions=True)
        assert [isinstance(o, Internal) for o in outcomes] == [False, True] * 3 + [False]
    await ingestor.writer.submit(ingest.FoldJob())  # SQLite: every level written
    sql = POSTGRES.sql if backend.dialect.postgres else SQLITE.sql
    rows = await reader().execute_query_dict(
        sql("SELECT level, events, latency_hist FROM metric_rollups WHERE project_id = ?"),
        [mixed.project_id],
    )
    assert_every_level_counts(rows, latencies)


async def test_transient_failures_answer_503_with_retry_after(
    ingestor: Ingestor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that cannot answer now (SQLite: locked by another writer; PostgreSQL: a
    statement timeout) is a 503 with Retry-After: a retry can succeed, and does. (A job that
    can never be stored is a 500: test_a_failing_job_fails_alone_and_its_group_commits.)"""
    backend = ingestor.writer._backend
    assert backend is not None
    who = await new_principal("transient")
    plan = ingestor._plan
    if backend.dialect.postgres:

        def slow(jobs: list[Any], d: Dialect) -> Any:
            yield store.Query("SET LOCAL statement_timeout = 20", [])
            yield store.Query("SELECT pg_sleep(1)", [])
            return (yield from plan(jobs, d))

        monkeypatch.setattr(ingestor.writer, "_plan", slow)
        with pytest.raises(Unavailable) as caught:
            await ingestor.log_event(who, {"input": "q", "output": "a"})
        monkeypatch.setattr(ingestor.writer, "_plan", plan)
    else:
        assert isinstance(backend, SqliteWriteBackend)
        conn = backend._conn
        assert conn is not None  # it waits 10 s for a lock: 50 ms here
        await backend._call(lambda: conn.execute("PRAGMA busy_timeout = 50"))
        other = sqlite3.connect(backend._path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer (the CLI) holds the lock
        try:
            with pytest.raises(Unavailable) as caught:
                await ingestor.log_event(who, {"input": "q", "output": "a"})
        finally:
            other.execute("ROLLBACK")
            other.close()
    assert caught.value.status_code == 503 and caught.value.retry_after == 1
    assert (await ingestor.log_event(who, {"input": "q", "output": "a"})).event_id


def test_driver_errors_are_classified(tmp_path: Path) -> None:
    """Both drivers' errors, as write_backends.failure_of reads them."""

    def raised(sql: str, *params: Any) -> BaseException:
        try:
            sqlite3.connect(":memory:").execute(sql, params)
        except Exception as exc:
            return exc
        raise AssertionError("no error")

    assert failure_of(raised("SELECT * FROM nowhere")) is Failure.FAULT
    assert failure_of(raised("SELECT ?", 2**64)) is Failure.FAULT
    path = str(tmp_path / "locked.sqlite3")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        sqlite3.connect(path, timeout=0, isolation_level=None).execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as busy:
        assert failure_of(busy) is Failure.TRANSIENT, busy
    else:
        raise AssertionError("not locked")
    finally:
        holder.close()
    deadlock = asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
    assert failure_of(deadlock) is Failure.CONFLICT
    for transient in (
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.DiskFullError("no space left"),
        ConnectionRefusedError(),
        TimeoutError(),
    ):
        assert failure_of(transient) is Failure.TRANSIENT, transient
    nul = asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence")
    try:
        raise OperationalError(nul) from nul  # as Tortoise wraps it
    except OperationalError as wrapped:
        assert failure_of(wrapped) is Failure.FAULT


# --- Over HTTP: junk at full speed does not slow another project ---------------------------

# Other processes share the machine (two cores, and other test suites running at once): A's
# throughput swings by ±30% from one half-second to the next. Short slots interleaved
# (V J J V …: a drift cancels out) over ~30 s compare the two kinds under the same load.
WARMUP_SECONDS = 1.5  # A alone: its throughput sets B's rate
SLOT_SECONDS = 0.3  # B switches between valid and junk every slot
SLOTS = 96
SETTLE_SECONDS = 0.05  # of each slot, not counted (B's requests of the previous kind finish)
A_CONNECTIONS = 16
B_CONNECTIONS = 16
B_SHARE = 0.4  # B's paced rate, as a share of A's throughput alone


class PoisonServer(Server):
    """`phospho serve` with the fault of poison_server.py planted."""

    def start(self, timeout: float = 60.0) -> None:
        """Start it and wait until it answers (as `Server.start`)."""
        log = open(self.data_dir / "server.log", "ab")
        command = [sys.executable, "-m", "tests.reliability.poison_server", "serve"]
        self.proc = subprocess.Popen(
            [*command, "--port", str(self.port)], env=self.env, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base_url + "/api/v1/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log()}")


@pytest.fixture(params=BACKENDS)
def poison_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A poison server on a fresh database of each backend."""
    made = make_server(str(request.param), tmp_path)
    server = PoisonServer(made.backend, made.data_dir, made.database_url, made.port)
    if server.backend == "postgres":
        server.cli("migrate")
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@dataclass(frozen=True)
class Request:
    """A prepared HTTP request and the statuses it may get."""

    name: str
    raw: bytes
    expected: frozenset[int]


def _request(
    name: str, tenant: Tenant, body: Any, expected: int | set[int], path: str = "/api/v1/events",
    *, method: str = "POST", key: str | None = None,
) -> Request:  # fmt: skip
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {key or tenant.key}\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    codes = {expected} if isinstance(expected, int) else expected
    return Request(name, head.encode() + data, frozenset(codes))


def _junk(b: Tenant, foreign_id: str, stored_id: str) -> list[Request]:
    """Every kind of invalid input over REST, and jobs that fail in the database."""
    event = {"input": "q", "output": "a"}
    meta = {**event, "metadata": {}}
    deep: Any = "leaf"
    for _ in range(40):
        deep = {"d": deep}
    feedback = f"/api/v1/events/{stored_id}/feedback"
    junk = [
        ("malformed", b"{not json", 400), ("empty", b"", 400),
        ("not-utf8", b'{"input": "\xff"}', 400),
        ("nan", b'{"input": "q", "output": "a", "metadata": {"x": NaN}}', 422),
        ("1e400", b'{"input": "q", "output": "a", "metadata": {"x": 1e400}}', 422),
        ("2^64", b'{"input": "q", "output": "a", "metadata": {"x": 18446744073709551616}}', 422),
        ("surrogate", b'{"input": "\\ud800", "output": "a"}', 422),
        ("nul", b'{"input": "a\\u0000", "output": "a"}', 422),
        ("nul-key", b'{"input": "q", "output": "a", "metadata": {"\\u0000": 1}}', 422),
        ("deep", {**event, "metadata": deep}, 422),
        ("very-deep", b'{"input": "q", "metadata": ' + b"[" * 3000 + b"]" * 3000 + b"}", 422),
        ("tokens-negative", {**meta, "metadata": {"tokens_in": -1}}, 422),
        ("tokens-huge", {**meta, "metadata": {"tokens_in": 2**63 - 1}}, 422),
        ("tokens-text", {**meta, "metadata": {"tokensOut": "5"}}, 422),
        ("latency-huge", {**meta, "metadata": {"latency_ms": 1e300}}, 422),
        ("cost-huge", {**meta, "metadata": {"cost_usd": 2e6}}, 422),
        ("model-long", {**meta, "metadata": {"model": "m" * 300}}, 422),
        ("unknown-field", {**event, "project_id": 1}, 422),
        ("input-int", {"input": 1, "output": "a"}, 422),
        ("array", [event], 422), ("session-long", {**event, "session_id": "s" * 300}, 422),
        ("batch-bad-item", {"events": [event, {**meta, "metadata": {"tokens_in": 1.5}}]}, 422),
        ("batch-empty", {"events": []}, 422),
        ("event-id-taken", {**event, "event_id": foreign_id}, 409),
        ("feedback-score", {"score": 2}, 422), ("feedback-nan", b'{"score": NaN}', 422),
        ("feedback-unknown", {"score": 1}, 404), ("feedback-bad-id", {"score": 1}, 404),
    ]  # fmt: skip
    paths = {"batch-bad-item": "/api/v1/events/batch", "batch-empty": "/api/v1/events/batch",
             "feedback-score": feedback, "feedback-nan": feedback,
             "feedback-unknown": f"/api/v1/events/{uuid.uuid4()}/feedback",
             "feedback-bad-id": "/api/v1/events/nope/feedback"}  # fmt: skip
    requests = [
        _request(n, b, body, code, paths.get(n, "/api/v1/events")) for n, body, code in junk
    ]
    requests += [
        _request("bad-key", b, event, 401, key="ph_" + "x" * 43),
        _request("get", b, b"", 405, method="GET"),
    ]
    poison = [
        _request("poison-int", b, {"input": POISON_INT, "output": "a"}, 500),
        _request("poison-nul", b, {"input": POISON_NUL, "output": "a"}, 500),
    ]
    return requests + poison * (len(requests) // 6)  # about a quarter reach the writer


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bool]:
    """Send one request on a kept-alive connection; (status, whether the server closes)."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status, length, closing = int(head[9:12]), 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        elif name.lower() == b"connection" and value.strip().lower() == b"close":
            closing = True
    if length:
        await reader.readexactly(length)
    return status, closing


async def _client(
    port: int, pick: Any, stop: asyncio.Event, record: Any, interval: float | None = None
) -> None:
    """One kept-alive connection sending `pick(n)` (the n-th request) until `stop`: in a
    closed loop, or paced at one request every `interval` seconds."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start, sent = loop.time(), 0
    try:
        while not stop.is_set():
            if interval is not None:
                await asyncio.sleep(max(0.0, start + sent * interval - loop.time()))
            request = pick(sent)
            status, closing = await _exchange(reader, writer, request.raw)
            record(request, status, loop.time())
            sent += 1
            if closing:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


@dataclass
class Load:
    """A in a closed loop throughout; B paced, its kind of requests switched by slot."""

    port: int
    a: list[Request]
    b: dict[str, list[Request]]  # "valid" and "junk"
    b_rate: float = 0.0
    kind: str = "none"  # what B sends now ("none": B idle)
    a_done: list[float] = field(default_factory=list)  # times of A's 201s
    a_errors: Counter[int] = field(default_factory=Counter)
    b_statuses: Counter[tuple[str, int]] = field(default_factory=Counter)

    def record_a(self, request: Request, status: int, at: float) -> None:
        """Count one of A's answers."""
        if status == 201:
            self.a_done.append(at)
        else:
            self.a_errors[status] += 1

    def record_b(self, request: Request, status: int, at: float) -> None:
        """Count one of B's answers."""
        self.b_statuses[(request.name, status)] += 1

    def pick_b(self, index: int, offset: int) -> Request:
        """B's next request: of the current kind."""
        requests = self.b[self.kind]
        return requests[(index * B_CONNECTIONS + offset) % len(requests)]

    def rate(self, start: float, end: float) -> float:
        """A's throughput between two times (req/s)."""
        return sum(1 for at in self.a_done if start <= at < end) / (end - start)


async def _measure(load: Load) -> tuple[float, list[float], list[float]]:
    """A's throughput alone, then in slots with B sending valid events or junk (V J J V …):
    (alone, valid slots, junk slots), each slot's first SETTLE_SECONDS left out."""
    loop, stop = asyncio.get_running_loop(), asyncio.Event()
    tasks = [
        asyncio.create_task(
            _client(load.port, lambda n, i=i: load.a[(n * A_CONNECTIONS + i) % len(load.a)],
                    stop, load.record_a)
        )
        for i in range(A_CONNECTIONS)
    ]  # fmt: skip
    begin = loop.time()
    await asyncio.sleep(WARMUP_SECONDS)
    alone = load.rate(begin + WARMUP_SECONDS / 3, loop.time())
    load.b_rate = max(50.0, B_SHARE * alone)
    load.kind = "valid"
    tasks += [
        asyncio.create_task(
            _client(load.port, lambda n, i=i: load.pick_b(n, i), stop, load.record_b,
                    B_CONNECTIONS / load.b_rate)
        )
        for i in range(B_CONNECTIONS)
    ]  # fmt: skip
    slots: dict[str, list[float]] = {"valid": [], "junk": []}
    for slot in range(SLOTS):
        load.kind = "valid" if slot % 4 in (0, 3) else "junk"
        start = loop.time()
        await asyncio.sleep(SLOT_SECONDS)
        slots[load.kind].append(load.rate(start + SETTLE_SECONDS, loop.time()))
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    return alone, slots["valid"], slots["junk"]


def _valid(tenant: Tenant, name: str, count: int = 64) -> list[Request]:
    return [
        _request(name, tenant, {"input": f"{name}-{i}", "output": "a", "session_id": f"s{i % 8}",
                                "metadata": {"model": "gpt-4o", "tokens_in": 100,
                                             "latency_ms": 12.5}}, {200, 201})
        for i in range(count)
    ]  # fmt: skip


@pytest.mark.timeout(120)
async def test_junk_at_full_speed_does_not_slow_another_project(poison_server: Server) -> None:
    """Project A's throughput while B sends junk (every kind of invalid input, a quarter of it
    failing in the database) stays within 10% of A's throughput while B sends valid events at
    the same rate; every junk request gets its 4xx (or, failing in the database, a 500), never
    a 503, and A never sees an error."""
    # B's valid events come with a key of their own: B's junk key is quarantined (its jobs
    # commit apart, GroupCommitWriter._suspect), and the baseline is a client that is not.
    a, b, b_valid, other = (poison_server.new_tenant() for _ in range(4))
    async with httpx.AsyncClient(base_url=poison_server.base_url) as client:
        event = {"input": "q", "output": "a"}
        taken = await client.post("/api/v1/events", headers=other.headers,
                                  json={**event, "event_id": str(uuid.uuid4())})  # fmt: skip
        mine = await client.post("/api/v1/events", headers=b.headers, json=event)
    junk = _junk(b, taken.json()["event_id"], mine.json()["event_id"])
    load = Load(poison_server.port, _valid(a, "a"), {"valid": _valid(b_valid, "b"), "junk": junk})
    alone, valid, bad = await _measure(load)
    # A's throughput over all junk slots against all valid slots (the median of the ratios
    # of the slots as they ran in pairs, V J, J V, …, is shown for the noise).
    with_valid, with_junk = statistics.fmean(valid), statistics.fmean(bad)
    ratio = with_junk / max(with_valid, 1e-9)
    pairs = statistics.median(j / max(v, 1e-9) for v, j in zip(valid, bad, strict=True))
    summary = (
        f"{poison_server.backend}: A alone {alone:.0f}/s, B paced at {load.b_rate:.0f}/s; "
        f"A with B valid {with_valid:.0f}/s, with B junk {with_junk:.0f}/s: ratio {ratio:.3f} "
        f"(median ratio of {len(valid)} pairs {pairs:.3f})"
    )
    print(summary)
    assert not load.a_errors, (load.a_errors, summary)
    expected = {request.name: request.expected for request in junk}
    wrong = {
        key: n for key, n in load.b_statuses.items()
        if key[1] not in expected.get(key[0], {200, 201})
    }  # fmt: skip
    assert not wrong, wrong
    poisoned = sum(n for (name, _), n in load.b_statuses.items() if name.startswith("poison"))
    assert poisoned >= 100, load.b_statuses  # the writer's defence was exercised
    assert ratio >= 0.9, summary
    assert poison_server.proc is not None and poison_server.proc.poll() is None
