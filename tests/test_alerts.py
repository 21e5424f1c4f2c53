"""Alerts in-process: destination URL checks, rule checks, signatures, every metric read from
the rollups, and the evaluator's states on the default 60 s path (a pass one minute after slow
events fires, the next does nothing, a process holding a stale state claims nothing)."""

from __future__ import annotations

import functools
import ipaddress
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.errors import Invalid
from app.services.alerts import manage, store
from app.services.alerts.delivery import DeliverySettings, deliver, sign
from app.services.alerts.delivery import _tls as delivery_tls
from app.services.alerts.evaluator import evaluate_once, next_state
from app.services.alerts.measure import Readings, span_of
from app.services.alerts.rules import Metric, check_rule
from app.services.alerts.urls import check_url, is_public
from app.services.ingest import Ingestor
from app.services.keys import Principal
from app.services.sql import dialect
from models import AlertRule
from tests.alerts_support import verify
from tests.factories import fresh_database, new_principal
from tests.harness import BACKENDS


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook", "http://localhost:8080/", "https://10.1.2.3/", "http://[::1]/",
        "http://169.254.169.254/latest/meta-data", "http://192.168.0.10/", "http://224.0.0.1/",
        "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/", "http://100.64.0.1/",
    ],
)  # fmt: skip
async def test_internal_addresses_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(Invalid, match="PHOSPHO_WEBHOOK_ALLOW_PRIVATE"):
        await check_url(url, allow_private=False)
    target = await check_url(url, allow_private=True)
    assert target.url.scheme in ("http", "https")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("http://user:pw@93.184.216.34/", "user name or password"),
        ("", "1 to 2048"),
        ("http://no-such-host.invalid/", "does not resolve"),
    ],
)
async def test_bad_urls_are_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        await check_url(url, allow_private=True)


async def test_a_public_address_is_pinned_with_its_host_kept() -> None:
    target = await check_url("https://93.184.216.34:8443/x?y=1", allow_private=False)
    assert str(target.url) == "https://93.184.216.34:8443/x?y=1"
    assert target.host_header == "93.184.216.34:8443"
    assert is_public(ipaddress.ip_address("93.184.216.34"))


def test_the_signature_is_over_the_timestamp_and_the_body() -> None:
    body, stamp = b'{"a":1}', str(int(time.time()))
    headers = {"x-phospho-timestamp": stamp, "x-phospho-signature": sign("s3cret", stamp, body)}
    assert verify("s3cret", headers, body)
    assert not verify("s3cret", {**headers, "x-phospho-timestamp": str(int(stamp) - 1)}, body)
    old = str(int(stamp) - 3600)  # a replay an hour later, signature and all
    assert not verify(
        "s3cret",
        {"x-phospho-timestamp": old, "x-phospho-signature": sign("s3cret", old, body)},
        body,
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", " ", "name"), ("metric", "p99", "metric must be one of"),
        ("window", "2h", "window must be one of"), ("comparison", "eq", "comparison"),
        ("threshold", "fast", "threshold must be a number"), ("threshold", "nan", "finite"),
        ("threshold", "1e400", "finite"),
    ],
)  # fmt: skip
def test_rule_checks_name_the_field(field: str, value: str, message: str) -> None:
    fields = {"name": "r", "metric": "events", "window": "5m", "comparison": "gt", "threshold": "1"}
    with pytest.raises(Invalid, match=message):
        check_rule(**{**fields, field: value})


def test_states_move_ok_firing_resolved_and_never_repeat() -> None:
    assert next_state("ok", True) == "firing"
    assert next_state("firing", True) is None
    assert next_state("firing", False) == "resolved"
    assert next_state("resolved", False) is None
    assert next_state("resolved", True) == "firing"
    assert next_state("ok", False) is None


def test_windows_cover_at_least_their_length() -> None:
    now = datetime(2026, 1, 1, 12, 30, 20, tzinfo=UTC)
    assert span_of(300, now) == (60, int(now.timestamp()) - 320, int(now.timestamp()) + 40)
    level, since, until = span_of(86400, now)
    assert level == 3600 and until - since == 25 * 3600


@dataclass
class World:
    ingestor: Ingestor
    principal: Principal


@pytest.fixture(params=BACKENDS)
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    ingestor = Ingestor()
    async with fresh_database(str(request.param), tmp_path_factory.mktemp("alerts"), ingestor):
        yield World(ingestor, await new_principal("alerts"))


async def _log(world: World, latency: float, n: int, **extra: object) -> list[str]:
    body = {
        "events": [
            {
                "input": "q",
                "output": "a",
                "metadata": {"model": "m", "latency_ms": latency, **extra.get("metadata", {})},
                **{k: v for k, v in extra.items() if k != "metadata"},
            }
            for _ in range(n)
        ]
    }  # type: ignore[dict-item]
    return [str(r.event_id) for r in await world.ingestor.log_events(world.principal, body)]


async def test_each_metric_is_read_from_the_rollups(world: World) -> None:
    project = world.principal.project_id
    await _log(
        world, 100.0, 3, metadata={"tokens_in": 10, "tokens_out": 5, "cost_usd": 0.5}, user_id="ann"
    )
    await _log(
        world,
        300.0,
        1,
        metadata={"tokens_in": 10, "tokens_out": 5, "cost_usd": 2.0},
        user_id="bob",
        status="error",
        error="boom",
    )
    await _log(
        world, 200.0, 1, metadata={"model": "unknown-model-x", "tokens_in": 3}, user_id="bob"
    )
    ids = await _log(world, 50.0, 2)
    await world.ingestor.add_feedback(world.principal, ids[0], {"score": 0})
    await world.ingestor.add_feedback(world.principal, ids[1], {"score": 1})
    readings = Readings(dialect(), datetime.now(UTC))

    async def value(metric: Metric, model: str | None = None) -> float | None:
        return (await readings.value(project, metric, model, 300))[0]

    assert await value(Metric.EVENTS) == 7
    assert await value(Metric.EVENTS, "m") == 6
    assert await value(Metric.ERROR_RATE) == pytest.approx(1 / 7)
    assert await value(Metric.NEGATIVE_FEEDBACK_RATE) == pytest.approx(0.5)
    assert await value(Metric.COST) == pytest.approx(3.5)
    assert await value(Metric.UNPRICED_EVENTS) == 1
    assert await value(Metric.LATENCY_P95) == pytest.approx(300, rel=0.02)
    assert await value(Metric.LATENCY_P50, "m") == pytest.approx(100, rel=0.02)
    assert await value(Metric.LATENCY_P95, "no-such-model") is None
    assert await readings.value(project, Metric.COST_PER_END_USER, None, 3600) == (
        pytest.approx(2.0),
        "bob",
    )
    assert readings.queries == 2  # one per (project, span): the 5 minutes, the users' hours


async def test_the_default_minute_fires_once_and_a_stale_process_claims_nothing(
    world: World,
) -> None:
    project = world.principal.project_id
    spec = check_rule("slow", "latency_p95", "5m", "gt", 1000)
    rule_id = (await manage.create_rule(project, spec, [])).rule.id
    await _log(world, 3000.0, 20)
    stale = await AlertRule.get(id=rule_id)  # another process read it before the change
    minute_later = datetime.now(UTC) + timedelta(seconds=60)  # the next default pass at worst
    first = await evaluate_once(minute_later)
    assert len(first.transitions) == 1
    assert (await AlertRule.get(id=rule_id)).state == "firing"
    assert await store.claim_transition(stale, "firing", 3000.0, "dup", minute_later) is None
    assert (await evaluate_once(minute_later + timedelta(seconds=60))).transitions == []
    await _log(world, 10.0, 400)
    resolved = await evaluate_once(datetime.now(UTC))
    assert len(resolved.transitions) == 1
    kinds = [view.event.kind for view in await manage.list_events(project)]
    assert kinds == ["resolved", "firing"]
    (newest,) = await manage.list_events(project, 1)  # pages by id, newest first
    (older,) = await manage.list_events(project, 1, before=newest.event.id)
    assert (
        older.event.kind == "firing" and await manage.list_events(project, 1, older.event.id) == []
    )
    # Ten minutes on, the window holds nothing: no value, the rule stays resolved, and the
    # pass keeps that value for Settings (a pass without a state change still writes it).
    assert (await AlertRule.get(id=rule_id)).last_value is not None
    assert (await evaluate_once(datetime.now(UTC) + timedelta(minutes=10))).transitions == []
    assert (await AlertRule.get(id=rule_id)).last_value is None


async def test_a_delivery_rechecks_the_address_and_records_the_failure(world: World) -> None:
    """A destination that became internal (saved while allowed, or re-pointed by DNS) is
    refused at delivery: three tries, marked failed, the reason kept for Settings."""
    project = world.principal.project_id
    made = await manage.create_destination(
        project, "inside", "webhook", "http://127.0.0.1:9/hook", allow_private=True
    )
    transition = await store.test_event(project, made.destination.id, "t", datetime.now(UTC))
    settings = DeliverySettings(allow_private=False, timeout=1, backoff=0)
    assert not await deliver(transition.delivery_ids[0], settings)
    (view,) = await manage.list_events(project)
    ((delivery, name),) = view.deliveries
    assert (name, delivery.status, delivery.attempts) == ("inside", "failed", 3)
    assert "PHOSPHO_WEBHOOK_ALLOW_PRIVATE" in (delivery.last_error or "")
    (destination,) = await manage.list_destinations(project)
    assert destination.last_error == delivery.last_error and destination.last_success_at is None


async def test_a_dead_process_delivery_is_taken_over_once_its_lease_passed(world: World) -> None:
    project = world.principal.project_id
    made = await manage.create_destination(
        project, "d", "webhook", "http://127.0.0.1:9/", allow_private=True
    )
    now = datetime.now(UTC)
    (delivery_id,) = (await store.test_event(project, made.destination.id, "t", now)).delivery_ids
    assert await store.abandoned_deliveries(now) == []  # leased to the process that made it
    assert not await store.claim_delivery(delivery_id, now)
    later = now + store.LEASE + timedelta(seconds=1)  # that process died without sending
    assert await store.abandoned_deliveries(later) == [delivery_id]
    assert await store.claim_delivery(delivery_id, later)
    assert not await store.claim_delivery(delivery_id, later)  # one taker only


def _tls_receiver(directory: Path) -> tuple[int, Path, list[dict[str, str]], ThreadingHTTPServer]:
    """An HTTPS receiver on 127.0.0.1 whose certificate (from a CA of its own, made with the
    openssl command) names only `localhost`: (port, the CA's file, the headers it got)."""
    ca_key, ca, key, csr, cert = (
        directory / n for n in ("ca.key", "ca.pem", "l.key", "l.csr", "l.pem")
    )
    run = functools.partial(subprocess.run, check=True, capture_output=True)
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
         "-days", "2", "-subj", "/CN=alerts test CA"])  # fmt: skip
    run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
         "-subj", "/CN=localhost"])  # fmt: skip
    ext = directory / "ext.cnf"
    ext.write_text("subjectAltName=DNS:localhost\n")
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "2", "-extfile", ext])  # fmt: skip
    got: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            got.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return int(httpd.server_address[1]), ca, got, httpd


async def test_https_goes_to_the_checked_address_with_the_name_verified(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delivery connects to the address it checked, yet sends the URL's host as Host and
    TLS server name, and verifies the certificate against that name."""
    port, ca, got, httpd = _tls_receiver(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    delivery_tls.cache_clear()
    try:
        project = world.principal.project_id
        settings = DeliverySettings(allow_private=True, timeout=5, backoff=0)
        for host, works in (("localhost", True), ("127.0.0.1", False)):  # the cert names localhost
            made = await manage.create_destination(
                project, host, "webhook", f"https://{host}:{port}/hook", allow_private=True
            )
            sent = await store.test_event(project, made.destination.id, "t", datetime.now(UTC))
            assert await deliver(sent.delivery_ids[0], settings) is works
        assert [h["host"] for h in got] == [f"localhost:{port}"]
        (destination,) = [d for d in await manage.list_destinations(project) if d.last_error]
        assert "CERTIFICATE_VERIFY_FAILED" in (destination.last_error or "")
    finally:
        httpd.shutdown()
        delivery_tls.cache_clear()
