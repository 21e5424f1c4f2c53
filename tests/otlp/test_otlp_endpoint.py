"""`POST /v1/traces` (and /v1/metrics, /v1/logs) against real servers on both databases:
encodings, compression, limits, answers, idempotent re-sends, and the live bus."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.graphql_api.helpers import gql, live, memory_kib, operation, reset_peak_memory
from tests.harness import BACKENDS, Server, Tenant, serving
from tests.otlp.otlp_build import S, chat, export, http
from tests.otlp.otlp_json import to_json

FIXTURES = Path(__file__).parent / "fixtures"
PROTOBUF, JSON = "application/x-protobuf", "application/json"
COLUMNS = (
    "session_key, user_id, input, output, metadata, model, tokens_in, tokens_out, latency_ms, "
    "cost_nano, created_at, status, error"
)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def post(
    server: Server,
    tenant: Tenant | None,
    body: bytes,
    content_type: str = PROTOBUF,
    encoding: str | None = None,
    path: str = "/v1/traces",
) -> httpx.Response:
    headers = {"Content-Type": content_type, **(tenant.headers if tenant else {})}
    if encoding:
        headers["Content-Encoding"] = encoding
    return httpx.post(server.base_url + path, content=body, headers=headers, timeout=60)


def stored(server: Server, tenant: Tenant) -> list[tuple[Any, ...]]:
    """The project's events, all columns but id and project; metadata parsed."""
    rows = server.query(
        f"SELECT {COLUMNS} FROM events WHERE project_id = ? ORDER BY created_at, id",  # noqa: S608
        tenant.project_id,
    )
    return [(*row[:4], _json(row[4]), *row[5:]) for row in rows]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def rejected(response: httpx.Response) -> tuple[int, str]:
    """partial_success of an answer, in either encoding."""
    if response.headers["content-type"] == JSON:
        partial = response.json().get("partialSuccess", {})
        return int(partial.get("rejectedSpans", 0)), partial.get("errorMessage", "")
    answer = ExportTraceServiceResponse.FromString(response.content)
    return answer.partial_success.rejected_spans, answer.partial_success.error_message


def status_message(response: httpx.Response) -> str:
    """The message of a google.rpc.Status answer (JSON, or protobuf: field 2)."""
    if response.headers["content-type"] == JSON:
        return str(response.json()["message"])
    raw = response.content
    assert raw[0] == 0x08  # field 1, code
    at = raw.index(0x12)  # field 2, message (codes are one byte)
    return raw[at + 2 :].decode() if raw[at + 1] < 0x80 else raw[at + 3 :].decode()


def test_protobuf_json_gzip_and_deflate_give_identical_events(server: Server) -> None:
    raw = fixture("openllmetry.bin")
    sent = [
        (raw, PROTOBUF, None),
        (fixture("openllmetry.json"), JSON, None),
        (gzip.compress(raw), PROTOBUF, "gzip"),
        (gzip.compress(to_json(raw)), JSON, "gzip"),
        (zlib.compress(raw), PROTOBUF, "deflate"),
    ]
    results = []
    for body, content_type, encoding in sent:
        tenant = server.new_tenant()
        response = post(server, tenant, body, content_type, encoding)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == content_type
        assert response.content == (b"{}" if content_type == JSON else b"")
        results.append(stored(server, tenant))
    assert len(results[0]) == 3
    assert all(result == results[0] for result in results)
    first = results[0][0]
    assert (first[0], first[1], first[2], first[3]) == (
        "fixture-session-1",
        "fixture-user-1",
        "Where is my order 1?",
        "Echo: Where is my order 1?",
    )
    assert (first[5], first[6], first[7]) == ("gpt-4o-mini-2024-07-18", 23, 9)
    assert first[9] > 0  # priced


def _metrics(server: Server, tenant: Tenant) -> dict[str, Any]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    window = {
        "since": (today - timedelta(days=60)).isoformat(),
        "until": (today + timedelta(days=1)).isoformat(),
        "bucket": "DAY",
    }
    return dict(gql(server, tenant, operation("metrics"), **window)["metrics"])


def test_a_resent_export_adds_nothing_and_changes_no_figure(server: Server, tenant: Tenant) -> None:
    raw = fixture("openinference.bin")
    assert post(server, tenant, raw).status_code == 200
    before, figures = stored(server, tenant), _metrics(server, tenant)
    assert len(before) == 3 and figures["summary"]["events"] == 3
    for body, content_type in ((raw, PROTOBUF), (fixture("openinference.json"), JSON)):
        response = post(server, tenant, body, content_type)
        assert response.status_code == 200 and rejected(response) == (0, "")
    assert stored(server, tenant) == before
    assert _metrics(server, tenant) == figures


def test_one_llm_span_and_five_http_spans_give_one_event(server: Server, tenant: Tenant) -> None:
    response = post(server, tenant, fixture("one_llm_five_http.bin"))
    assert response.status_code == 200 and response.content == b""
    (event,) = stored(server, tenant)
    assert event[0] == "checkout-conversation-1" and event[8] == 1234.0
    assert event[2] == "Can I still change the delivery address of order 42?"


@pytest.mark.parametrize("name", ["legacy_attributes", "openai_v2", "openai_v2_default"])
def test_legacy_and_openai_v2_exports_map(server: Server, tenant: Tenant, name: str) -> None:
    assert post(server, tenant, fixture(f"{name}.bin")).status_code == 200
    events = stored(server, tenant)
    assert len(events) == (1 if name == "legacy_attributes" else 3)
    for event in events:
        assert event[5] == "gpt-4o-mini-2024-07-18" and event[9] > 0
        assert event[4]["otel"]["resource"]["service.name"]
    if name == "legacy_attributes":
        assert events[0][6:9] == (31, 17, 1234.0)


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
def test_a_bad_or_missing_key_is_401_in_the_requests_encoding(
    server: Server, content_type: str
) -> None:
    body = fixture("openllmetry.bin" if content_type == PROTOBUF else "openllmetry.json")
    bad = Tenant(project_id=0, key="ph_" + "x" * 40)
    for who in (None, bad):
        response = post(server, who, body, content_type)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"] == content_type
        assert "API key" in status_message(response)
    for path in ("/v1/metrics", "/v1/logs"):
        assert post(server, None, b"", content_type, path=path).status_code == 401


@pytest.mark.parametrize(
    ("body", "content_type", "encoding"),
    [
        (b"not a protobuf at all", PROTOBUF, None),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": "x"}]}]}', JSON, None),
        (b"{not json", JSON, None),
        (b"not gzip", PROTOBUF, "gzip"),
        (gzip.compress(b"\x0a\x05junk!", mtime=0), PROTOBUF, "gzip"),  # one id in every process
    ],
)
def test_junk_is_400_and_stores_nothing(
    server: Server, tenant: Tenant, body: bytes, content_type: str, encoding: str | None
) -> None:
    response = post(server, tenant, body, content_type, encoding)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == content_type
    assert status_message(response)
    assert stored(server, tenant) == []


def test_other_content_types_and_encodings_are_415(server: Server, tenant: Tenant) -> None:
    raw = fixture("openllmetry.bin")
    for content_type, encoding in (
        ("text/plain", None),
        ("application/grpc", None),
        (PROTOBUF, "br"),
    ):
        response = post(server, tenant, raw, content_type, encoding)
        assert response.status_code == 415, response.text
        assert "not accepted" in status_message(response)
    assert stored(server, tenant) == []


def test_limit_counts_the_export_after_decompression(server: Server, tenant: Tenant) -> None:
    """17 MiB of attribute text gzips to ~17 KiB: 413 (the limit is 16 MiB once inflated)."""
    raw = export([chat(1, padding="a" * (17 << 20))])
    response = post(server, tenant, gzip.compress(raw), PROTOBUF, "gzip")
    assert response.status_code == 413
    assert "decompressed" in status_message(response)
    assert stored(server, tenant) == []


def test_a_gzip_bomb_is_refused_without_inflating_it(server: Server, tenant: Tenant) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    bomb = b"".join(compressor.compress(zeros) for _ in range(512)) + compressor.flush()
    assert len(bomb) < 1 << 20  # 512 MiB once inflated
    reset_peak_memory(server)
    before = memory_kib(server, "VmRSS")
    response = post(server, tenant, bomb, PROTOBUF, "gzip")
    assert response.status_code == 413
    assert memory_kib(server, "VmHWM") - before < 96 * 1024  # far below 512 MiB


def test_a_512_span_export_is_accepted(server: Server, tenant: Tenant) -> None:
    """The size OTel SDKs batch by default, half of them LLM spans with a long prompt."""
    prompt = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "q" * 8000}]}])
    spans: list[S] = []
    for n in range(256):
        spans += [
            chat(2 * n + 1, trace=n + 1, **{"gen_ai.input.messages": prompt}),
            http(2 * n + 2, trace=n + 1, parent=2 * n + 1),
        ]
    raw = export(spans)
    assert len(raw) > 2 << 20
    response = post(server, tenant, gzip.compress(raw), PROTOBUF, "gzip")
    assert response.status_code == 200 and rejected(response) == (0, "")
    count = server.query("SELECT count(*) FROM events WHERE project_id = ?", tenant.project_id)
    assert count[0][0] == 256


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
def test_partial_success_counts_spans_that_cannot_be_events(
    server: Server, tenant: Tenant, content_type: str
) -> None:
    spans = [
        chat(1),
        chat(2, **{"gen_ai.usage.input_tokens": 2_000_000_000}),  # past the tokens bound
        chat(3, trace=0),  # no trace id
        http(4),  # skipped: not an LLM span, not a rejection
    ]
    raw = export(spans)
    body = raw if content_type == PROTOBUF else to_json(raw)
    response = post(server, tenant, body, content_type)
    assert response.status_code == 200
    count, message = rejected(response)
    assert count == 2
    assert "trace_id" in message and "(and 1 more)" in message
    assert len(stored(server, tenant)) == 1


@pytest.mark.parametrize("path", ["/v1/metrics", "/v1/logs"])
def test_metrics_and_logs_are_accepted_and_ignored(
    server: Server, tenant: Tenant, path: str
) -> None:
    for body, content_type in ((b"\x0a\x00", PROTOBUF), (b'{"resourceMetrics": []}', JSON)):
        response = post(server, tenant, body, content_type, path=path)
        assert response.status_code == 200
        assert response.headers["content-type"] == content_type
        assert response.content == (b"{}" if content_type == JSON else b"")
    assert stored(server, tenant) == []


def test_other_methods_and_a_trailing_slash(server: Server, tenant: Tenant) -> None:
    response = httpx.get(server.base_url + "/v1/traces", headers=tenant.headers)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    response = post(server, tenant, b"", path="/v1/traces/")
    assert response.status_code == 307
    assert response.headers["location"].endswith("/v1/traces")


async def test_events_reach_a_graphql_subscriber(server: Server, tenant: Tenant) -> None:
    async with live(server, tenant) as conn:
        await conn.subscribe("subscription { eventLogged { input sessionId } }")
        await asyncio.sleep(0.2)  # let the subscription reach the bus
        response = await asyncio.to_thread(post, server, tenant, fixture("openai_v2.bin"))
        assert response.status_code == 200
        got = [(await conn.next_data())["eventLogged"] for _ in range(3)]
    assert sorted(event["input"] for event in got) == [f"Where is my order {n}?" for n in (1, 2, 3)]
    assert {event["sessionId"] for event in got} == {"fixture-session-1"}


@pytest.fixture(scope="module", params=BACKENDS)
def limited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server whose keys may make 2 requests a minute."""
    with serving(
        request.param, tmp_path_factory.mktemp("otlp-rate"), PHOSPHO_RATE_LIMIT="2/minute"
    ) as srv:
        yield srv


def test_the_per_key_rate_limit_applies(limited: Server) -> None:
    tenant = limited.new_tenant()
    answers = [
        post(limited, tenant, b"", path=path).status_code
        for path in ("/v1/traces", "/v1/metrics", "/v1/logs")
    ]
    assert answers == [200, 200, 429]
    response = post(limited, tenant, b"")
    assert response.status_code == 429 and response.headers["retry-after"]
