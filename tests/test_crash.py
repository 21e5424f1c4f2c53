"""Crash test: `kill -9` the server while clients send events, restart, check what was stored.

Every event that got a 2xx must be stored exactly once, with the content that was sent; a batch
is stored whole or not at all; each session's `event_count` matches its stored events; and a
client that retries its un-acknowledged events (same `event_id`) after the restart gets each of
them stored exactly once: 200 if it had in fact been committed before the crash, 201 otherwise.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.harness import Server, Tenant, start_server

THREADS = 8
LOAD_SECONDS = 1.75  # of load before the kill
REQUEST_TIMEOUT = 10.0  # generous: the kill, not a timeout, is what ends requests
MAX_REQUESTS_PER_THREAD = 20_000  # bound on the client loop, far above what ~2 s allows
BATCH_SIZE = 3
MIN_ACKED_EVENTS = 100  # the test must not pass vacuously
RESEND_ACKED = 60  # acknowledged client-id requests sent again after the restart
# Request kinds, cycled by every client thread.
KINDS = ("single_client_id", "single_server_id", "batch_client_ids", "batch_server_ids")


@dataclass
class Sent:
    """One event as a client sent it; `marker` (its input) identifies it in the database."""

    marker: str
    session_id: str | None
    client_id: uuid.UUID | None

    def body(self) -> dict[str, Any]:
        event: dict[str, Any] = {
            "input": self.marker,
            "output": "out " + self.marker,
            "metadata": {"model": "crash-test", "tokens_in": 3, "tokens_out": 5},
        }
        if self.session_id is not None:
            event["session_id"] = self.session_id
            event["user_id"] = "user-" + self.session_id
        if self.client_id is not None:
            event["event_id"] = str(self.client_id)
        return event


@dataclass
class Attempt:
    """One request: what was sent and what came back (if anything)."""

    kind: str
    events: list[Sent]
    started: float = 0.0
    finished: float = 0.0
    status: int | None = None
    answer: Any = None
    error: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def batch(self) -> bool:
        return self.kind.startswith("batch")

    @property
    def acked(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def path(self) -> str:
        return "/api/v1/events/batch" if self.batch else "/api/v1/events"

    def body(self) -> dict[str, Any]:
        if self.batch:
            return {"events": [event.body() for event in self.events]}
        return self.events[0].body()


def make_attempt(thread: int, seq: int) -> Attempt:
    """The `seq`-th request of a client thread: kinds and sessions cycle deterministically."""
    kind = KINDS[seq % len(KINDS)]
    size = BATCH_SIZE if kind.startswith("batch") else 1
    events = []
    for index in range(size):
        # Three shared sessions per thread (so sessions get extended across commits), and
        # every fifth event without a session_id (the server generates one).
        n = seq * BATCH_SIZE + index
        session = None if n % 5 == 4 else f"crash-s{thread}-{n % 3}"
        client_id = uuid.uuid4() if "client" in kind else None
        events.append(Sent(f"crash-t{thread}-r{seq}-e{index}", session, client_id))
    return Attempt(kind, events)


def client_loop(
    srv: Server, tenant: Tenant, thread: int, stop: threading.Event, out: list[Attempt]
) -> None:
    """Keep sending until told to stop; every outcome (answer or error) is recorded."""
    with httpx.Client(
        base_url=srv.base_url, headers=tenant.headers, timeout=REQUEST_TIMEOUT
    ) as client:
        for seq in range(MAX_REQUESTS_PER_THREAD):
            if stop.is_set():
                return
            attempt = make_attempt(thread, seq)
            attempt.started = time.monotonic()
            out.append(attempt)
            try:
                response = client.post(attempt.path(), json=attempt.body())
            except httpx.HTTPError as exc:  # refused, reset, timed out: not acknowledged
                attempt.finished = time.monotonic()
                attempt.error = type(exc).__name__
                continue
            attempt.finished = time.monotonic()
            attempt.status = response.status_code
            try:
                attempt.answer = response.json()
            except ValueError:
                attempt.answer = response.text
            if attempt.acked:
                answer = attempt.answer
                attempt.results = answer["results"] if attempt.batch else [answer]


def stored_events(srv: Server, project_id: int) -> dict[str, tuple[uuid.UUID, str]]:
    """Marker (input) -> (event id, session key) of every stored event; no marker twice."""
    rows = srv.query("SELECT id, session_key, input FROM events WHERE project_id = ?", project_id)
    ids = Counter(str(row[0]) for row in rows)
    assert [i for i, n in ids.items() if n > 1] == [], "an event id is stored twice"
    markers = Counter(str(row[2]) for row in rows)
    assert [m for m, n in markers.items() if n > 1] == [], "an event is stored twice"
    return {str(row[2]): (uuid.UUID(str(row[0])), str(row[1])) for row in rows}


def check_sessions(srv: Server, project_id: int) -> int:
    """Each session's event_count equals its stored events; returns the number of sessions."""
    counted = dict(
        srv.query("SELECT session_key, event_count FROM sessions WHERE project_id = ?", project_id)
    )
    actual = dict(
        srv.query(
            "SELECT session_key, count(*) FROM events WHERE project_id = ? GROUP BY session_key",
            project_id,
        )
    )
    keys = set(counted) | set(actual)
    wrong = {k: (counted.get(k), actual.get(k)) for k in keys if counted.get(k) != actual.get(k)}
    assert not wrong, f"{len(wrong)} sessions (event_count, stored events) disagree: {wrong}"
    return len(counted)


def test_kill_9_under_load_loses_and_duplicates_nothing(backend: str, tmp_path: Path) -> None:
    t0 = time.monotonic()
    srv = start_server(backend, tmp_path / "crash")
    try:
        tenant = srv.new_tenant()
        stop = threading.Event()
        per_thread: list[list[Attempt]] = [[] for _ in range(THREADS)]
        threads = [
            threading.Thread(
                target=client_loop, args=(srv, tenant, i, stop, per_thread[i]), daemon=True
            )
            for i in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        time.sleep(LOAD_SECONDS)
        killed_at = time.monotonic()
        srv.kill()
        stop.set()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT + 10)
        assert not any(thread.is_alive() for thread in threads), "a client thread hangs"
        t_kill = time.monotonic()
        srv.start()
        t_restart = time.monotonic()

        attempts = list(itertools.chain.from_iterable(per_thread))
        acked = [a for a in attempts if a.acked]
        failed = [a for a in attempts if not a.acked]
        answered_not_2xx = [(a.status, a.answer) for a in failed if a.status is not None]
        # The server never answered anything but 2xx; the failures are the kill's doing.
        assert answered_not_2xx == []
        assert all(a.finished >= killed_at for a in failed), "a request failed before the kill"
        # Eight clients spend nearly all their time inside a request: some were cut off.
        in_flight = [a for a in failed if a.started < killed_at]
        outcomes = Counter((a.error, a.started < killed_at) for a in failed)
        assert in_flight, f"no request was in flight when the server was killed: {outcomes}"
        acked_events = [(s, r) for a in acked for s, r in zip(a.events, a.results, strict=True)]
        assert len(acked_events) >= MIN_ACKED_EVENTS, f"only {len(acked_events)} acknowledged"
        assert all(a.status == 201 for a in acked), "a first send was answered as a retry"

        # 1. Every acknowledged event is stored exactly once, as sent, with its answered id.
        stored = stored_events(srv, tenant.project_id)
        sent_markers = {s.marker for a in attempts for s in a.events}
        assert set(stored) <= sent_markers, "stored events nobody sent"
        lost = [result for sent, result in acked_events if sent.marker not in stored]
        assert not lost, f"{len(lost)} acknowledged events lost, e.g. {lost[:3]}"
        for sent, result in acked_events:
            event_id, session_key = stored[sent.marker]
            assert str(event_id) == result["event_id"]
            assert session_key == result["session_id"]
            if sent.client_id is not None:
                assert event_id == sent.client_id
            if sent.session_id is not None:
                assert session_key == sent.session_id

        # 2. A batch is all or nothing, acknowledged or not.
        for attempt in attempts:
            if attempt.batch:
                present = sum(s.marker in stored for s in attempt.events)
                assert present in (0, len(attempt.events)), "a batch was stored in part"

        # 3. Sessions agree with the events the ingest transactions stored.
        sessions = check_sessions(srv, tenant.project_id)

        # 4. Retrying un-acknowledged client-id requests stores each event exactly once.
        retry = [a for a in failed if a.kind in ("single_client_id", "batch_client_ids")]
        before = set(stored)
        committed_unacked = sum(s.marker in before for a in failed for s in a.events)
        outcomes: Counter[int] = Counter()
        with httpx.Client(base_url=srv.base_url, headers=tenant.headers, timeout=30) as client:
            for attempt in retry:
                response = client.post(attempt.path(), json=attempt.body())
                was_stored = attempt.events[0].marker in before
                if attempt.batch:
                    assert response.status_code == 201, response.text
                    results = response.json()["results"]
                else:
                    assert response.status_code == (200 if was_stored else 201), response.text
                    results = [response.json()]
                outcomes[response.status_code if not attempt.batch else 0] += 1
                for sent, result in zip(attempt.events, results, strict=True):
                    assert result["event_id"] == str(sent.client_id)
                    if was_stored:
                        assert result["session_id"] == stored[sent.marker][1]
            # Acknowledged requests resent (the client lost the answer): the original answers.
            resend = [a for a in acked if a.kind in ("single_client_id", "batch_client_ids")]
            for attempt in resend[:RESEND_ACKED]:
                response = client.post(attempt.path(), json=attempt.body())
                assert response.status_code == (201 if attempt.batch else 200), response.text
                assert response.json() == attempt.answer
        after = stored_events(srv, tenant.project_id)
        for attempt in retry:
            for sent in attempt.events:
                assert sent.marker in after
                assert after[sent.marker][0] == sent.client_id
        # Nothing else changed: the retries added exactly the events that were missing.
        assert {k: v for k, v in after.items() if k in before} == stored
        missing = sum(s.marker not in before for a in retry for s in a.events)
        assert len(after) == len(before) + missing
        check_sessions(srv, tenant.project_id)
        # No commit failed and was retried or refused, before the kill or after the restart.
        assert "Traceback" not in srv.log(), srv.log()[-5000:]

        print(
            f"\n[{backend}] requests={len(attempts)} acked_requests={len(acked)} "
            f"acked_events={len(acked_events)} failed_requests={len(failed)} "
            f"in_flight_at_kill={len(in_flight)} "
            f"errors={dict(Counter(a.error for a in failed))} "
            f"stored_after_restart={len(stored)} committed_but_unacked={committed_unacked} "
            f"sessions={sessions} retried_requests={len(retry)} "
            f"retry_single_200={outcomes[200]} retry_single_201={outcomes[201]} "
            f"retry_batches={outcomes[0]} stored_after_retry={len(after)} "
            f"time_to_kill={t_kill - t0:.1f}s restart={t_restart - t_kill:.1f}s "
            f"total={time.monotonic() - t0:.1f}s"
        )
    finally:
        srv.destroy()
