"""`phospho serve --workers N`: on PostgreSQL N processes serve one port, every one answers,
the live bus spans them, SIGTERM stops them all and a dead worker is replaced; SQLite refuses.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.graphql_api.helpers import live
from tests.harness import Server, make_server, require_backend, start_server
from tests.workers_support import alive, answered_by, children, until_live


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[Server]:
    """`phospho serve` with PHOSPHO_WORKERS=2 on a migrated PostgreSQL database, its access
    log on (each line names its worker's pid) and its own TMPDIR (to see the metrics
    directory)."""
    require_backend("postgres")
    scratch = tmp_path / "tmp"
    scratch.mkdir(mode=0o700)
    srv = start_server(
        "postgres", tmp_path / "data",
        PHOSPHO_WORKERS="2", PHOSPHO_ACCESS_LOG="true", TMPDIR=str(scratch),
    )  # fmt: skip
    try:
        yield srv
    finally:
        srv.destroy()


def workers_of(server: Server, count: int = 2, wait: float = 20) -> set[int]:
    """The server's worker pids once there are `count` (a replacement may be starting)."""
    assert server.proc is not None
    deadline = time.monotonic() + wait
    while True:
        pids = {pid for pid in children(server.proc.pid) if alive(pid)}
        if len(pids) == count or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)


async def post_events(server: Server, key: str, count: int, batch: int = 10) -> list[str]:
    """POST `count` events, `batch` at a time, each on a new connection; their ids."""
    headers = {"Authorization": f"Bearer {key}"}
    ids: list[str] = []
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=30) as client:
        for start in range(0, count, batch):
            bodies = [
                {"input": f"q{n}", "output": "a"} for n in range(start, min(count, start + batch))
            ]
            answers = await asyncio.gather(
                *(client.post("/api/v1/events", headers=headers, json=body) for body in bodies)
            )
            for answer in answers:
                assert answer.status_code == 201, answer.text
                ids.append(answer.json()["event_id"])
    return ids


async def probe(server: Server, key: str) -> str:
    """One event, posted on a new connection; its id."""
    return (await post_events(server, key, 1))[0]


def test_two_workers_share_one_port_and_both_answer(two_workers: Server) -> None:
    srv = two_workers
    workers = workers_of(srv)
    serving(srv, workers)
    assert len(workers) == 2, srv.log()
    tenant = srv.new_tenant()
    ids = asyncio.run(post_events(srv, tenant.key, 200))
    assert len(srv.event_rows(tenant.project_id)) == 200 == len(set(ids))
    # Every answer came from one of the two workers, and both took a share.
    pids = answered_by(srv, "/api/v1/events")
    assert len(pids) == 200 and set(pids) == workers, (sorted(set(pids)), workers)
    # prometheus-client's multiprocess directory: private, made before the workers started.
    (metrics_dir,) = Path(srv.env["TMPDIR"]).glob("phospho-metrics-*")
    assert metrics_dir.stat().st_mode & 0o777 == 0o700
    # /metrics sums the workers: whichever worker answers a scrape, it counts all 200 events.
    scrapers: set[int] = set()
    for _ in range(200):
        with httpx.Client(base_url=srv.base_url, timeout=10) as client:  # a new connection each
            text = client.get("/metrics").text
        families = {family.name: family for family in text_string_to_metric_families(text)}
        (sample,) = families["phospho_events_stored"].samples
        assert sample.value == 200
        scrapers = set(answered_by(srv, "/metrics"))
        if scrapers == workers:
            break
    assert scrapers == workers, (scrapers, workers)  # both workers answered scrapes


async def test_an_event_on_one_worker_reaches_a_subscriber_on_the_other(
    two_workers: Server,
) -> None:
    srv = two_workers
    workers = workers_of(srv)
    serving(srv, workers)
    tenant = srv.new_tenant()
    async with live(srv, tenant) as conn:
        await conn.subscribe("subscription { eventLogged { id } }")
        (watcher,) = answered_by(srv, "/graphql")  # the WebSocket's worker
        assert watcher in workers
        probes = await until_live(conn, lambda: probe(srv, tenant.key))
        posted: list[str] = []
        while (
            set(answered_by(srv, "/api/v1/events")[len(probes) :]) <= {watcher} or len(posted) < 20
        ):
            posted += await post_events(srv, tenant.key, 10)  # until the other worker took some
            assert len(posted) <= 200, "every request went to the subscriber's worker"
        received = []
        while len(received) < len(posted):
            event_id = (await conn.next_data())["eventLogged"]["id"]
            if event_id not in probes:  # a probe may arrive late: not one of those counted
                received.append(event_id)
        assert sorted(received) == sorted(posted)  # each once, whichever worker stored it
        await conn.nothing_for(0.5)


def test_sigterm_stops_every_worker_and_removes_the_metrics_directory(
    two_workers: Server,
) -> None:
    srv = two_workers
    assert srv.proc is not None
    workers = workers_of(srv)
    serving(srv, workers)
    tenant = srv.new_tenant()
    asyncio.run(post_events(srv, tenant.key, 20))
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(timeout=30) == 0, srv.log()
    assert not any(alive(pid) for pid in workers)
    log = srv.log()
    for pid in workers:
        assert f"[{pid}] Finished server process" in log  # each stopped gracefully
    assert list(Path(srv.env["TMPDIR"]).iterdir()) == []
    assert len(srv.event_rows(tenant.project_id)) == 20


def serving(server: Server, pids: set[int], wait: float = 20) -> None:
    """Wait until every worker of `pids` has started its application (a worker killed before
    that is one that "could not start": the whole server stops, by design)."""
    deadline = time.monotonic() + wait
    while not all(f"[{pid}] Application startup complete" in server.log() for pid in pids):
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)


def test_a_worker_that_dies_is_replaced(two_workers: Server) -> None:
    srv = two_workers
    before = workers_of(srv)
    serving(srv, before)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while (after := workers_of(srv, wait=0)) == before or len(after) != 2:
        assert time.monotonic() < deadline, srv.log()
        time.sleep(0.05)
    assert victim not in after and len(after & before) == 1
    assert f"worker {victim} exited unexpectedly" in srv.log()
    tenant = srv.new_tenant()
    asyncio.run(post_events(srv, tenant.key, 40))
    assert set(answered_by(srv, "/api/v1/events")) <= after


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--workers", "2"], {}, "--workers 2 needs PostgreSQL"),
        ([], {"PHOSPHO_WORKERS": "2"}, "--workers 2 needs PostgreSQL"),
        (["--workers", "0"], {}, "must be between 1 and 64, got 0"),
        (["--workers", "500"], {}, "must be between 1 and 64, got 500"),
        (["--workers", "two"], {}, "expected a number, got 'two'"),
        ([], {"PHOSPHO_WORKERS": "0"}, "error: PHOSPHO_WORKERS: Input should be greater than"),
    ],
)
def test_bad_worker_counts_are_refused_before_anything_starts(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    srv = make_server("sqlite", tmp_path / "data", **env)
    done = srv.cli("serve", "--port", str(srv.port), *args, check=False)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert not (tmp_path / "data" / "phospho.sqlite3").exists()  # nothing was started
