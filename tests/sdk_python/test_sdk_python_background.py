"""Background mode against the real server: nothing lost, nothing blocks, nothing hangs."""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import phospho
import pytest

from tests.harness import Server, Tenant, start_server
from tests.sdk_python.sdk_support import (
    FlakyProxy,
    count_events,
    count_feedback,
    run_python,
    unused_url,
)

FAST = {"retry_backoff": 0.01, "retry_backoff_max": 0.05}


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def batch_sizes(proxy: FlakyProxy) -> list[int]:
    return [len(p.json()["events"]) for p in proxy.posts() if p.path.endswith("/batch")]


def test_log_returns_client_ids_at_once_and_flush_sends_them(srv: Server, tenant: Tenant) -> None:
    phospho.init(api_key=tenant.key, base_url=srv.base_url, background=True, flush_interval=60)
    before = datetime.now(UTC)
    given = phospho.log(input="q1", output="a1", session_id="mine", user_id="u")
    generated = phospho.log(input="q2", output="a2", metadata={"model": "m", "tokens_in": 7})
    after = datetime.now(UTC)

    assert (
        set(given) == set(generated) == {"event_id", "session_id", "created_at", "feedback_token"}
    )
    assert given["feedback_token"] is None  # signed by the server, not known before sending
    assert given["session_id"] == "mine"
    assert re.fullmatch(r"sess_[0-9a-f]{24}", generated["session_id"])
    assert uuid.UUID(generated["event_id"]).version == 7
    created = datetime.fromisoformat(generated["created_at"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= created <= after + timedelta(seconds=1)
    assert count_events(srv, tenant) == 0  # queued, not sent yet (flush_interval=60)

    assert phospho.flush(timeout=10) is True
    rows = srv.query(
        "SELECT id, session_key, user_id, model, tokens_in FROM events WHERE project_id = ? "
        "ORDER BY id",
        tenant.project_id,
    )
    assert rows == [
        (given["event_id"], "mine", "u", None, None),
        (generated["event_id"], generated["session_id"], None, "m", 7),
    ]
    assert phospho.stats() == {"queued": 0, "sent": 2, "dropped": 0, "failed": 0}


def test_feedback_is_queued_behind_its_event(srv: Server, tenant: Tenant) -> None:
    phospho.init(api_key=tenant.key, base_url=srv.base_url, background=True, flush_interval=60)
    event = phospho.log(input="q", output="a")
    feedback = phospho.feedback(event_id=event["event_id"], score=1, comment="nice")
    assert feedback["feedback_id"] is None and feedback["event_id"] == event["event_id"]
    phospho.log(input="q2", output="a2")
    assert phospho.flush(timeout=10) is True
    assert count_events(srv, tenant) == 2
    assert srv.query(
        "SELECT score, comment FROM feedback WHERE project_id = ?", tenant.project_id
    ) == [(1, "nice")]


def test_batches_are_sent_when_full_by_count(
    srv: Server, tenant: Tenant, proxy: FlakyProxy
) -> None:
    sdk = phospho.Client(
        api_key=tenant.key,
        base_url=proxy.url,
        background=True,
        max_batch_size=10,
        flush_interval=60,
    )
    for i in range(25):
        sdk.log(f"q{i}", "a")
    assert wait_for(lambda: count_events(srv, tenant) == 20)
    time.sleep(0.2)
    assert batch_sizes(proxy) == [10, 10]  # the last 5 wait for their age or a flush
    assert sdk.flush(timeout=10) is True
    assert batch_sizes(proxy) == [10, 10, 5]
    assert count_events(srv, tenant) == 25
    sdk.close()


def test_batches_are_sent_when_old_enough(srv: Server, tenant: Tenant) -> None:
    sdk = phospho.Client(
        api_key=tenant.key, base_url=srv.base_url, background=True, flush_interval=0.2
    )
    for i in range(3):
        sdk.log(f"q{i}", "a")
    assert wait_for(lambda: count_events(srv, tenant) == 3, timeout=5)  # no flush called
    sdk.close()


def test_batches_are_bounded_by_size(srv: Server, tenant: Tenant, proxy: FlakyProxy) -> None:
    sdk = phospho.Client(
        api_key=tenant.key,
        base_url=proxy.url,
        background=True,
        max_batch_bytes=2500,
        flush_interval=60,
    )
    for i in range(7):
        sdk.log("x" * 1000, str(i))
    assert sdk.flush(timeout=10) is True
    sizes = batch_sizes(proxy)
    assert sum(sizes) == 7 and max(sizes) == 2  # ~1.1 kB per event, 2.5 kB per request
    assert all(len(p.body) < 2600 for p in proxy.posts())
    assert count_events(srv, tenant) == 7
    sdk.close()


def test_an_invalid_event_is_dropped_alone(
    srv: Server, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    sdk = phospho.Client(
        api_key=tenant.key, base_url=srv.base_url, background=True, flush_interval=60
    )
    for i in range(5):
        sdk.log(f"q{i}", "a")
        if i == 2:  # passes the local checks, refused by the server (422 in the batch)
            sdk.log("bad", "a", metadata={"tokens_in": -5})
    with caplog.at_level(logging.WARNING, logger="phospho"):
        assert sdk.flush(timeout=10) is True
    assert count_events(srv, tenant) == 5
    assert sdk.stats() == {"queued": 0, "sent": 5, "dropped": 0, "failed": 1}
    assert "body.events.3.metadata.tokens_in" in caplog.text
    sdk.close()


def test_a_bad_key_never_raises_into_the_app(srv: Server, caplog: pytest.LogCaptureFixture) -> None:
    sdk = phospho.Client(api_key="ph_wrong", base_url=srv.base_url, background=True)
    result = sdk.log("q", "a")
    assert result["event_id"]
    with caplog.at_level(logging.WARNING, logger="phospho"):
        assert sdk.flush(timeout=10) is True
    assert sdk.stats()["failed"] == 1
    assert "API key" in caplog.text
    sdk.close()


def test_full_queue_drops_with_a_warning_and_a_counter(
    hanging_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    sdk = phospho.Client(
        api_key="ph_x", base_url=hanging_url, background=True, max_queue_size=10, timeout=30
    )
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="phospho"):
        results = [sdk.log(f"q{i}", "a") for i in range(50)]
    assert time.monotonic() - started < 0.5  # never blocks
    assert len({r["event_id"] for r in results}) == 50
    assert sdk.stats() == {"queued": 10, "sent": 0, "dropped": 40, "failed": 0}
    drops = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(drops) == 1  # rate-limited: one warning, not forty
    assert "queue is full" in drops[0].getMessage()
    assert "max_queue_size=10" in drops[0].getMessage()
    assert sdk.close(timeout=0.2) is False


@pytest.mark.parametrize("down", ["refused", "hanging"])
def test_flush_returns_within_its_timeout_when_the_server_is_down(
    down: str, hanging_url: str
) -> None:
    url = unused_url() if down == "refused" else hanging_url
    sdk = phospho.Client(api_key="ph_x", base_url=url, background=True, retry_backoff=5)
    for i in range(5):
        sdk.log(f"q{i}", "a")
    started = time.monotonic()
    assert sdk.flush(timeout=0.5) is False
    assert time.monotonic() - started < 0.8
    started = time.monotonic()
    assert sdk.close(timeout=0.3) is False
    assert time.monotonic() - started < 0.6


def test_log_never_blocks_on_a_hung_server(hanging_url: str) -> None:
    sdk = phospho.Client(api_key="ph_x", base_url=hanging_url, background=True, flush_interval=0.01)
    sdk.log("first", "a")
    time.sleep(0.1)  # the worker is now stuck in a request
    started = time.monotonic()
    for i in range(1000):
        sdk.log(f"q{i}", "a")
    assert time.monotonic() - started < 0.5
    sdk.close(timeout=0.1)


def test_events_logged_before_exit_are_sent_without_flush(srv: Server, tenant: Tenant) -> None:
    code = (
        "import phospho\n"
        "phospho.init(background=True, flush_interval=60)\n"
        "for i in range(300):\n"
        "    phospho.log(input=f'q{i}', output='a', session_id='exit')\n"
    )
    env = {"PHOSPHO_API_KEY": tenant.key, "PHOSPHO_BASE_URL": srv.base_url}
    done = run_python(code, env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert count_events(srv, tenant) == 300
    assert srv.query(
        "SELECT event_count FROM sessions WHERE project_id = ? AND session_key = 'exit'",
        tenant.project_id,
    ) == [(300,)]


def test_exit_does_not_hang_when_the_server_is_down(hanging_url: str) -> None:
    code = (
        "import phospho\n"
        "phospho.init(background=True, shutdown_timeout=0.5)\n"
        "phospho.log(input='q', output='a')\n"
    )
    started = time.monotonic()
    done = run_python(code, {"PHOSPHO_API_KEY": "ph_x", "PHOSPHO_BASE_URL": hanging_url})
    assert time.monotonic() - started < 5
    assert done.returncode == 0
    assert "could not be sent within 0.5 s" in done.stderr


def test_init_again_from_several_threads_loses_nothing_accepted(
    srv: Server, tenant: Tenant
) -> None:
    clients = [phospho.init(api_key=tenant.key, base_url=srv.base_url, background=True)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def logger() -> None:
        try:
            for i in range(200):
                phospho.log(input=f"q{i}", output="a")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reinit() -> None:
        while not stop.is_set():
            clients.append(
                phospho.init(
                    api_key=tenant.key, base_url=srv.base_url, background=True, flush_interval=0.05
                )
            )
            time.sleep(0.01)

    threads = [threading.Thread(target=logger) for _ in range(6)]
    again = [threading.Thread(target=reinit) for _ in range(2)]
    for thread in threads + again:
        thread.start()
    for thread in threads:
        thread.join(30)
    stop.set()
    for thread in again:
        thread.join(30)
    assert not errors
    assert phospho.flush(timeout=10) is True
    for client in clients:
        client.close(timeout=10)
    sent = sum(c.stats()["sent"] for c in clients)
    dropped = sum(c.stats()["dropped"] for c in clients)
    assert sum(c.stats()["failed"] for c in clients) == 0
    assert sent + dropped == 6 * 200
    assert count_events(srv, tenant) == sent
    assert len(clients) > 2


def test_fork_gives_the_child_its_own_empty_queue_and_worker(srv: Server, tenant: Tenant) -> None:
    code = """
import os, sys, phospho
client = phospho.init(background=True, flush_interval=60)
phospho.log(input="parent-before-fork", output="a")      # still queued at fork time
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    for i in range(5):
        phospho.log(input=f"child-{i}", output="a")
    ok = phospho.flush(timeout=10)
    os.write(write, f"{ok} {phospho.stats()['sent']}".encode())
    os._exit(0)
os.waitpid(pid, 0)
print(os.read(read, 100).decode())
phospho.log(input="parent-after-fork", output="a")
print(phospho.flush(timeout=10), phospho.stats()["sent"])
"""
    env = {"PHOSPHO_API_KEY": tenant.key, "PHOSPHO_BASE_URL": srv.base_url}
    done = run_python(code, env, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["True 5", "True 2"]  # the child sent only its own
    inputs = sorted(
        row[0]
        for row in srv.query("SELECT input FROM events WHERE project_id = ?", tenant.project_id)
    )
    assert inputs == sorted(
        ["parent-before-fork", "parent-after-fork"] + [f"child-{i}" for i in range(5)]
    )


def test_log_batch_in_background_mode(srv: Server, tenant: Tenant) -> None:
    sdk = phospho.Client(api_key=tenant.key, base_url=srv.base_url, background=True, **FAST)  # type: ignore[arg-type]
    results = sdk.log_batch([{"input": "q", "output": str(i)} for i in range(3)])
    assert len({r["session_id"] for r in results}) == 3
    assert sdk.flush(timeout=10) is True
    stored = dict(
        srv.query("SELECT id, session_key FROM events WHERE project_id = ?", tenant.project_id)
    )
    assert stored == {r["event_id"]: r["session_id"] for r in results}
    assert count_feedback(srv, tenant) == 0
    sdk.close()


def test_batches_too_large_for_the_server_are_split(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    small = start_server("sqlite", tmp_path / "small", PHOSPHO_MAX_BATCH_BODY_BYTES="4096")
    try:
        tenant = small.new_tenant()
        sdk = phospho.Client(
            api_key=tenant.key, base_url=small.base_url, background=True, flush_interval=60
        )
        for i in range(20):  # ~10 kB in one batch: 413, halves, quarters...
            sdk.log("x" * 450, str(i))
        sdk.log("y" * 5000, "too big for one batch request on this server")
        with caplog.at_level(logging.WARNING, logger="phospho"):
            assert sdk.flush(timeout=10) is True
        assert sdk.stats() == {"queued": 0, "sent": 20, "dropped": 0, "failed": 1}
        assert "larger than 4096 bytes" in caplog.text
        assert count_events(small, tenant) == 20
        sdk.close()
    finally:
        small.destroy()
