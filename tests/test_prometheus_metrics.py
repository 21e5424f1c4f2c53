"""`GET /metrics` (app/api/prometheus.py, app/instruments.py) on a real server, both databases:
the counters rise by exactly what was stored, every metric the issue names is there and
parses with prometheus-client's own parser, the series stay bounded whatever paths clients
send, the token guards it, and the multiprocess mode sums the processes' files.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.instruments import REGISTRY
from app.live import EventLogged, LiveBus, Overflow
from tests.admission_support import Reader, connect, event, request
from tests.graphql_api.helpers import live
from tests.harness import REPO, Server, Tenant, require_backend, serving

TOKEN = "scrape-" + uuid.uuid4().hex
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RATE = 20  # requests per minute per API key on these servers
# What the issue asks /metrics to show (families, as the parser names them).
EXPECTED = {
    "phospho_events_stored": "counter",
    "phospho_feedback_stored": "counter",
    "phospho_http_requests": "counter",
    "phospho_http_request_duration_seconds": "histogram",
    "phospho_commit_jobs": "histogram",
    "phospho_commit_duration_seconds": "histogram",
    "phospho_write_queue_events": "gauge",
    "phospho_admission_refused": "counter",
    "phospho_rate_limited": "counter",
    "phospho_live_subscribers": "gauge",
    "phospho_live_messages_dropped": "counter",
    "phospho_live_resyncs": "counter",
    "phospho_database_size_bytes": "gauge",
}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def observed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server whose /metrics needs TOKEN, with a per-key rate limit."""
    require_backend(request.param)
    with serving(
        request.param,
        tmp_path_factory.mktemp(f"metrics-{request.param}"),
        PHOSPHO_METRICS_TOKEN=TOKEN,
        PHOSPHO_RATE_LIMIT=f"{RATE}/minute",
    ) as srv:
        yield srv


def scrape(server: Server) -> tuple[str, Samples]:
    """The /metrics text and its samples, parsed by prometheus-client's parser."""
    response = httpx.get(server.base_url + "/metrics", headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return response.text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when the series does not exist yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def post(server: Server, tenant: Tenant, path: str, body: object) -> httpx.Response:
    """POST JSON as `tenant`."""
    return httpx.post(server.base_url + path, json=body, headers=tenant.headers, timeout=30)


def test_counters_rise_by_exactly_what_was_stored(observed: Server) -> None:
    tenant = observed.new_tenant()
    _, before = scrape(observed)
    retried = str(uuid.uuid4())
    singles = [post(observed, tenant, "/api/v1/events", event()) for _ in range(3)]
    first = post(observed, tenant, "/api/v1/events", event(retried))
    again = post(observed, tenant, "/api/v1/events", event(retried))  # stores nothing
    batch = post(observed, tenant, "/api/v1/events/batch", {"events": [event() for _ in range(4)]})
    invalid = post(observed, tenant, "/api/v1/events", {"input": 5})
    assert [r.status_code for r in (*singles, first, again, batch, invalid)] == [
        201, 201, 201, 201, 200, 201, 422,
    ]  # fmt: skip
    target = singles[0].json()["event_id"]
    feedback = [
        post(observed, tenant, f"/api/v1/events/{target}/feedback", {"score": n % 2})
        for n in range(2)
    ]
    missing = post(observed, tenant, f"/api/v1/events/{uuid.uuid4()}/feedback", {"score": 1})
    assert [r.status_code for r in (*feedback, missing)] == [201, 201, 404]
    _, after = scrape(observed)

    def rise(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    stored = observed.query("SELECT count(*) FROM events WHERE project_id = ?", tenant.project_id)
    assert stored[0][0] == 8
    assert rise("phospho_events_stored_total") == 8  # 3 + 1 + 4: the retry stored nothing
    assert rise("phospho_feedback_stored_total") == 2

    def requests(route: str, status: int) -> float:
        return rise("phospho_http_requests_total", route=route, method="POST", status=str(status))

    events, batch_route = "/api/v1/events", "/api/v1/events/batch"
    feedback_route = "/api/v1/events/{event_id}/feedback"
    assert (requests(events, 201), requests(events, 200), requests(events, 422)) == (4, 1, 1)
    assert requests(batch_route, 201) == 1
    assert (requests(feedback_route, 201), requests(feedback_route, 404)) == (2, 1)
    assert rise("phospho_http_request_duration_seconds_count", route=events) == 6
    assert rise("phospho_http_request_duration_seconds_sum", route=events) > 0
    # Every stored write went through a group commit: 7 event requests + 2 feedback at least
    # in one transaction each when sent one after the other.
    assert rise("phospho_commit_jobs_count") >= 8
    assert rise("phospho_commit_duration_seconds_count") >= 8
    assert value(after, "phospho_write_queue_events") == 0  # nothing waits now
    assert value(after, "phospho_database_size_bytes") > 0


def test_every_listed_metric_is_present_with_help(observed: Server) -> None:
    text, _ = scrape(observed)
    families = {family.name: family for family in text_string_to_metric_families(text)}
    for name, kind in EXPECTED.items():
        assert name in families, f"{name} missing from /metrics"
        assert families[name].type == kind, name
        assert families[name].documentation, f"{name} has no help text"
    reasons = {s.labels["reason"] for s in families["phospho_admission_refused"].samples}
    assert {"in_flight", "in_flight_bytes", "pipelined"} <= reasons


def test_database_size_follows_the_database(observed: Server) -> None:
    if observed.backend == "sqlite":
        path = Path(observed.database_url.split("://", 1)[1])
        on_disk = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        _, samples = scrape(observed)
        assert value(samples, "phospho_database_size_bytes") == pytest.approx(on_disk, rel=0.05)
    else:
        size = observed.query("SELECT pg_database_size(current_database())")[0][0]
        _, samples = scrape(observed)
        assert value(samples, "phospho_database_size_bytes") == pytest.approx(size, rel=0.05)


def test_random_paths_do_not_add_series(observed: Server) -> None:
    httpx.get(observed.base_url + "/no/such/page", timeout=10)  # the "other" series exists
    text, _ = scrape(observed)
    series_before = _series(text)
    for _ in range(30):
        path = f"/{uuid.uuid4().hex}/{uuid.uuid4().hex}?q={uuid.uuid4().hex}"
        assert httpx.get(observed.base_url + path, timeout=10).status_code == 404
        httpx.post(observed.base_url + f"/api/v1/{uuid.uuid4().hex}", timeout=10)
    text, samples = scrape(observed)
    new = _series(text) - series_before
    assert all('route="other"' in line for line in new), new
    assert len(new) <= 4  # (other, POST, 404 or 405) and its histogram at most
    assert value(samples, "phospho_http_requests_total", route="other", method="GET",
                 status="404") >= 31  # fmt: skip


def _series(text: str) -> set[str]:
    """The series (name and labels, without values) of a /metrics text."""
    return {line.rsplit(" ", 1)[0] for line in text.splitlines() if line and line[0] != "#"}


def test_the_token_guards_metrics(observed: Server) -> None:
    url = observed.base_url + "/metrics"
    tenant = observed.new_tenant()
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": TOKEN}).status_code == 401
    refused = httpx.get(url, headers=tenant.headers, timeout=10)  # an API key is not the token
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["code"] == "unauthorized" and "phospho_" not in refused.text
    allowed = httpx.get(url, headers=AUTH, timeout=10)
    assert allowed.status_code == 200 and "phospho_events_stored_total" in allowed.text
    assert httpx.post(url, headers=AUTH, timeout=10).status_code == 405


def test_rate_limit_refusals_are_counted(observed: Server) -> None:
    tenant = observed.new_tenant()
    _, before = scrape(observed)
    answers = [post(observed, tenant, "/api/v1/events", event()) for _ in range(RATE + 5)]
    limited = sum(1 for answer in answers if answer.status_code == 429)
    assert limited >= 5
    _, after = scrape(observed)
    rise = value(after, "phospho_rate_limited_total", limit="api_key") - value(
        before, "phospho_rate_limited_total", limit="api_key"
    )
    assert rise == limited
    assert value(after, "phospho_http_requests_total", route="/api/v1/events", method="POST",
                 status="429") >= limited  # fmt: skip


def test_pipelined_refusals_are_counted_by_reason(observed: Server) -> None:
    """Default limits: of 5 pipelined requests, the first runs, the second waits, three are
    refused by the protocol (app/http_protocol.py) before any ASGI task exists."""
    tenant = observed.new_tenant()
    _, before = scrape(observed)
    sock = connect(observed)
    sock.sendall(b"".join(request(tenant, json.dumps(event()).encode()) for _ in range(5)))
    reader = Reader(sock)
    statuses = [reader.answer().status for _ in range(5)]
    sock.close()
    assert statuses == [201, 201, 503, 503, 503]
    _, after = scrape(observed)
    name = "phospho_admission_refused_total"
    assert value(after, name, reason="pipelined") - value(before, name, reason="pipelined") == 3
    assert value(after, name, reason="in_flight") == value(before, name, reason="in_flight")


async def test_live_subscribers_are_counted(observed: Server) -> None:
    tenant = observed.new_tenant()
    _, before = await asyncio.to_thread(scrape, observed)
    base = value(before, "phospho_live_subscribers")
    async with live(observed, tenant) as conn:
        await conn.subscribe("subscription { eventLogged { id } }")
        await asyncio.sleep(0.3)  # let the subscription reach the bus
        _, during = await asyncio.to_thread(scrape, observed)
        assert value(during, "phospho_live_subscribers") == base + 1
    for _ in range(50):  # the server notices the closed socket shortly after
        _, after = await asyncio.to_thread(scrape, observed)
        if value(after, "phospho_live_subscribers") == base:
            break
        await asyncio.sleep(0.1)
    assert value(after, "phospho_live_subscribers") == base


async def test_dropped_messages_and_resyncs_are_counted() -> None:
    """The bus itself, in-process: a subscriber with room for one message misses two."""
    bus = LiveBus()
    dropped = REGISTRY.get_sample_value("phospho_live_messages_dropped_total") or 0.0
    resyncs = REGISTRY.get_sample_value("phospho_live_resyncs_total") or 0.0
    subscribers = REGISTRY.get_sample_value("phospho_live_subscribers")
    assert subscribers is not None
    async with bus.subscribe(7, max_queue=1) as subscription:
        assert REGISTRY.get_sample_value("phospho_live_subscribers") == subscribers + 1
        bus.publish(_message(7) for _ in range(3))
        assert not isinstance(await subscription.get(), Overflow)
        assert await subscription.get() == Overflow(2)
    assert REGISTRY.get_sample_value("phospho_live_subscribers") == subscribers
    assert REGISTRY.get_sample_value("phospho_live_messages_dropped_total") == dropped + 2
    assert REGISTRY.get_sample_value("phospho_live_resyncs_total") == resyncs + 1


def _message(project_id: int) -> EventLogged:
    from datetime import UTC, datetime

    return EventLogged(project_id, uuid.uuid4(), "s", None, None, datetime.now(UTC))


# A second "worker": another process that records into the same directory and exits.
OTHER_WORKER = """
from app.instruments import EVENTS_STORED, LIVE_SUBSCRIBERS
EVENTS_STORED.inc(5)
LIVE_SUBSCRIBERS.inc(2)
import os; print(os.getpid())
"""


def test_multiprocess_mode_sums_every_process(backend: str, tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR set (as `phospho serve --workers N` sets it), a scrape
    shows the sum over every process's files; `live*` gauges forget a process marked dead."""
    require_backend(backend)
    directory = tmp_path / "prom"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(REPO)}
    other = subprocess.run([sys.executable, "-c", OTHER_WORKER], env=env, capture_output=True,
                           text=True, check=True, timeout=60)  # fmt: skip
    other_pid = int(other.stdout.strip())
    with serving(
        backend, tmp_path / "server", PHOSPHO_METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(directory),
    ) as srv:  # fmt: skip
        tenant = srv.new_tenant()
        for _ in range(3):
            assert post(srv, tenant, "/api/v1/events", event()).status_code == 201
        _, samples = scrape(srv)
        assert value(samples, "phospho_events_stored_total") == 3 + 5
        assert value(samples, "phospho_live_subscribers") == 2
        assert value(samples, "phospho_http_requests_total", route="/api/v1/events",
                     method="POST", status="201") == 3  # fmt: skip
        assert value(samples, "phospho_database_size_bytes") > 0
        assert any(p.name.endswith(".db") and str(srv.proc.pid) in p.name  # type: ignore[union-attr]
                   for p in directory.iterdir())  # fmt: skip
        mark_dead = f"import prometheus_client.multiprocess as m; m.mark_process_dead({other_pid})"
        subprocess.run([sys.executable, "-c", mark_dead], env=env, check=True, timeout=60)
        _, samples = scrape(srv)
        assert value(samples, "phospho_live_subscribers") == 0  # livesum: the dead one is gone
        assert value(samples, "phospho_events_stored_total") == 3 + 5  # counters keep it
