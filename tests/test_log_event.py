"""POST /api/v1/events: what is stored, what is answered, and how bad input is refused."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.harness import Server, Tenant


def post(server: Server, tenant: Tenant, body: Any, **kwargs: Any) -> httpx.Response:
    """POST a JSON body (or raw bytes/str) to /api/v1/events as `tenant`."""
    url = server.base_url + "/api/v1/events"
    headers = {**tenant.headers, "Content-Type": "application/json"}
    if isinstance(body, bytes | str):
        return httpx.post(url, content=body, headers=headers, **kwargs)
    return httpx.post(url, json=body, headers=headers, **kwargs)


def stored_count(server: Server, tenant: Tenant) -> int:
    """How many events the tenant has in the database."""
    return int(
        server.query("SELECT count(*) FROM events WHERE project_id = ?", tenant.project_id)[0][0]
    )


def event_param(server: Server, event_id: str) -> Any:
    """An event id as the backend stores it (text on SQLite, uuid on PostgreSQL)."""
    return event_id if server.backend == "sqlite" else uuid.UUID(event_id)


def test_answer_is_201_with_time_ordered_id_and_utc_time(server: Server, tenant: Tenant) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    response = post(server, tenant, {"input": "q", "output": "a", "session_id": "s-1"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"event_id", "session_id", "created_at", "feedback_token"}
    assert body["feedback_token"].startswith("phf_")
    assert uuid.UUID(body["event_id"]).version == 7
    assert body["session_id"] == "s-1"
    assert body["created_at"].endswith("Z")
    created = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
    assert before <= created <= datetime.now(UTC) + timedelta(seconds=1)


def test_event_without_session_starts_a_generated_session(server: Server, tenant: Tenant) -> None:
    first = post(server, tenant, {"input": "q", "output": "a"}).json()
    second = post(server, tenant, {"input": "q", "output": "a"}).json()
    assert first["session_id"].startswith("sess_")
    assert first["session_id"] != second["session_id"]
    rows = server.query(
        "SELECT session_key, event_count FROM sessions WHERE project_id = ? ORDER BY id",
        tenant.project_id,
    )
    assert rows == [(first["session_id"], 1), (second["session_id"], 1)]


def test_events_with_one_session_id_form_one_session(server: Server, tenant: Tenant) -> None:
    for turn in ("Hello", "What's 2+2?", "Thanks!"):
        post(
            server, tenant, {"input": turn, "output": "ok", "session_id": "conv_1", "user_id": "u1"}
        )
    sessions = server.query(
        "SELECT session_key, user_id, event_count, first_event_at <= last_event_at "
        "FROM sessions WHERE project_id = ?",
        tenant.project_id,
    )
    assert sessions == [("conv_1", "u1", 3, 1 if server.backend == "sqlite" else True)]
    inputs = [row[2] for row in server.event_rows(tenant.project_id)]
    assert inputs == ["Hello", "What's 2+2?", "Thanks!"]


def test_recognised_metadata_is_typed_and_all_metadata_kept(server: Server, tenant: Tenant) -> None:
    metadata = {
        "model": "gpt-4",
        "tokens_in": 150,
        "tokens_out": 89,
        "latency_ms": 1230.5,
        "temperature": 0.2,
        "tags": ["a", {"nested": [1, 2, None]}],
        "unicode": "héllo ✓",
    }
    body = post(server, tenant, {"input": "q", "output": "a", "metadata": metadata}).json()
    row = server.query(
        "SELECT model, tokens_in, tokens_out, latency_ms, metadata FROM events WHERE id = ?",
        event_param(server, body["event_id"]),
    )[0]
    assert row[:4] == ("gpt-4", 150, 89, 1230.5)
    stored = row[4] if isinstance(row[4], dict) else json.loads(row[4])
    assert stored == metadata


def test_camel_case_metadata_keys_are_recognised(server: Server, tenant: Tenant) -> None:
    metadata = {"model": "gpt-4", "tokensIn": 7, "tokensOut": 9, "latencyMs": 800}
    body = post(server, tenant, {"input": "q", "output": "a", "metadata": metadata}).json()
    row = server.query(
        "SELECT model, tokens_in, tokens_out, latency_ms FROM events WHERE id = ?",
        event_param(server, body["event_id"]),
    )[0]
    assert row == ("gpt-4", 7, 9, 800.0)


@pytest.mark.parametrize(
    ("metadata", "key"),
    [
        ({"tokens_in": "5"}, "tokens_in"),
        ({"tokens_in": -1}, "tokens_in"),
        ({"tokens_in": 1.5}, "tokens_in"),
        ({"tokens_in": 2**64 - 1}, "tokens_in"),
        ({"tokens_out": True}, "tokens_out"),
        ({"tokensOut": [1]}, "tokensOut"),
        ({"latency_ms": "fast"}, "latency_ms"),
        ({"latencyMs": -0.5}, "latencyMs"),
        ({"model": 4}, "model"),
        ({"model": "m" * 300}, "model"),
        ({"tokens_in": 1, "tokensIn": 1}, "tokensIn"),
        ({"cost_usd": -0.5}, "cost_usd"),
        ({"cost_usd": "0.5"}, "cost_usd"),
        ({"costUsd": True}, "costUsd"),
        ({"costUsd": 2_000_000}, "costUsd"),
        ({"cost_usd": 1, "costUsd": 1}, "costUsd"),
        # Bounds of the summed figures (validation.BOUNDS)
        ({"tokens_in": 1_000_000_001}, "tokens_in"),
        ({"tokensOut": 1e10}, "tokensOut"),
        ({"latency_ms": 1_000_000_000.5}, "latency_ms"),
        ({"latencyMs": 1e300}, "latencyMs"),
        ({"costUsd": 1_000_000.01}, "costUsd"),
    ],
)
def test_recognised_metadata_with_wrong_type_is_422_naming_the_key(
    server: Server, tenant: Tenant, metadata: dict[str, Any], key: str
) -> None:
    response = post(server, tenant, {"input": "q", "output": "a", "metadata": metadata})
    assert response.status_code == 422
    body = response.json()
    assert key in body["detail"]
    assert body["errors"][0]["loc"] == ["body", "metadata", key]
    assert stored_count(server, tenant) == 0


def test_figures_at_their_bounds_and_integral_floats_are_stored(
    server: Server, tenant: Tenant
) -> None:
    """The largest accepted figures are stored as sent; `100.0` tokens are 100 (JSON Schema
    counts 1.0 as an integer)."""
    metadata = {"tokens_in": 1_000_000_000, "tokensOut": 100.0, "latency_ms": 1_000_000_000,
                "cost_usd": 1_000_000}  # fmt: skip
    body = post(server, tenant, {"input": "q", "output": "a", "metadata": metadata}).json()
    row = server.query(
        "SELECT tokens_in, tokens_out, latency_ms, cost_nano FROM events WHERE id = ?",
        event_param(server, body["event_id"]),
    )[0]
    assert row == (1_000_000_000, 100, 1e9, 10**15)


def test_misspelt_top_level_field_is_422_naming_it(server: Server, tenant: Tenant) -> None:
    response = post(server, tenant, {"input": "q", "output": "a", "sessionId": "s"})
    assert response.status_code == 422
    assert "sessionId" in response.json()["detail"]
    assert response.json()["errors"][0]["loc"] == ["body", "sessionId"]
    assert stored_count(server, tenant) == 0


def test_project_comes_from_the_key_never_the_body(server: Server, tenant: Tenant) -> None:
    response = post(server, tenant, {"input": "q", "output": "a", "project_id": 1})
    assert response.status_code == 422
    assert "project_id" in response.json()["detail"]


BAD_BODIES = [
    pytest.param(b"{not json", 400, "not valid JSON", id="malformed"),
    pytest.param(b"", 400, "empty", id="empty"),
    # Values the JSON contract refuses (validation.check_json_values): 422 naming the value,
    # as GraphQL mutations answer them.
    pytest.param(
        b'{"input": "q", "output": "a", "metadata": {"x": NaN}}', 422, "body.metadata.x", id="nan"
    ),
    pytest.param(
        b'{"input": "q", "output": "a", "metadata": {"x": Infinity}}', 422, "Infinity", id="inf"
    ),
    pytest.param(
        b'{"input": "q", "output": "a", "metadata": {"x": 1e999}}', 422, "finite", id="1e999"
    ),
    pytest.param(
        b'{"input": "q", "output": "a", "metadata": {"x": 18446744073709551616}}',
        422,
        "body.metadata.x: integers must be between",
        id="int-past-64-bits",
    ),
    pytest.param(
        b'{"input": "q", "output": "a", "metadata": {"x": [9223372036854775808]}}',
        422,
        "body.metadata.x.0",
        id="int-past-63-bits",
    ),
    pytest.param(b'{"input": "q", "output": "a", "metadata": {"x": NaN', 400, "NaN", id="nan-cut"),
    pytest.param(b"[1, 2]", 422, "JSON object", id="array"),
    pytest.param(b'"text"', 422, "JSON object", id="string"),
    pytest.param(b'{"input": 1, "output": "a"}', 422, "body.input", id="input-int"),
    pytest.param(b'{"input": "q"}', 422, "body.output", id="missing-output"),
    pytest.param(b'{"input": null, "output": "a"}', 422, "body.input", id="input-null"),
    pytest.param(
        b'{"input": "q", "output": "a", "session_id": ""}', 422, "session_id", id="empty-sid"
    ),
    pytest.param(b'{"input": "q", "output": "a", "user_id": 5}', 422, "user_id", id="uid-int"),
    pytest.param(b'{"input": "q", "output": "a", "metadata": []}', 422, "metadata", id="meta-list"),
    pytest.param(b'{"input": "q", "output": "a", "event_id": "x"}', 422, "event_id", id="bad-uuid"),
    pytest.param(b'{"input": "a\\u0000b", "output": "a"}', 422, "NUL", id="nul"),
    pytest.param(
        b'{"input": "q", "output": "a", "metadata": {"k\\u0000": 1}}', 422, "NUL", id="nul-key"
    ),
    pytest.param(
        b'{"input": "\\ud800", "output": "a"}',
        422,
        "body.input: text must not contain lone",
        id="lone-surrogate",
    ),
    pytest.param(
        b'{"input": "q", "output": "a", "metadata": {"\\udc00k": 1}}',
        422,
        "keys must not",
        id="lone-surrogate-key",
    ),
]


@pytest.mark.parametrize(("raw", "status", "fragment"), BAD_BODIES)
def test_bad_input_gets_a_clear_4xx_and_stores_nothing(
    server: Server, tenant: Tenant, raw: bytes, status: int, fragment: str
) -> None:
    response = post(server, tenant, raw)
    assert response.status_code == status, response.text
    assert fragment in response.json()["detail"]
    assert stored_count(server, tenant) == 0


def test_identifiers_longer_than_256_characters_are_refused(server: Server, tenant: Tenant) -> None:
    for field in ("session_id", "user_id"):
        response = post(server, tenant, {"input": "q", "output": "a", field: "x" * 257})
        assert response.status_code == 422
        assert field in response.json()["detail"]
    assert (
        post(server, tenant, {"input": "q", "output": "a", "session_id": "x" * 256}).status_code
        == 201
    )


def test_deeply_nested_metadata_is_refused(server: Server, tenant: Tenant) -> None:
    deep: Any = "leaf"
    for _ in range(40):
        deep = {"d": deep}
    response = post(server, tenant, {"input": "q", "output": "a", "metadata": deep})
    assert response.status_code == 422
    assert "nested" in response.json()["detail"]
    very_deep = b'{"input":"q","output":"a","metadata":' + b"[" * 5000 + b"]" * 5000 + b"}"
    refused = post(server, tenant, very_deep)
    assert refused.status_code == 422 and "nested" in refused.json()["detail"]
    assert stored_count(server, tenant) == 0


def test_retry_with_same_event_id_answers_200_with_original(server: Server, tenant: Tenant) -> None:
    event_id = str(uuid.uuid4())
    body = {"input": "q", "output": "a", "event_id": event_id}
    first = post(server, tenant, body)
    assert first.status_code == 201
    assert first.json()["event_id"] == event_id
    again = post(server, tenant, {**body, "input": "changed on retry"})
    assert again.status_code == 200
    assert again.json() == first.json()
    assert server.event_rows(tenant.project_id) == [
        (
            event_id if server.backend == "sqlite" else uuid.UUID(event_id),
            first.json()["session_id"],
            "q",
            "a",
        )
    ]
    assert server.query(
        "SELECT event_count FROM sessions WHERE project_id = ?", tenant.project_id
    ) == [(1,)]


def test_concurrent_retries_of_one_event_store_it_once(server: Server, tenant: Tenant) -> None:
    body = {"input": "q", "output": "a", "event_id": str(uuid.uuid4())}
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: post(server, tenant, body), range(16)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1 and statuses.count(200) == 15
    assert len({r.text for r in responses}) == 1
    assert stored_count(server, tenant) == 1


def test_event_id_of_another_project_is_409_revealing_nothing(
    server: Server, tenant: Tenant, other_tenant: Tenant
) -> None:
    event_id = str(uuid.uuid4())
    post(
        server,
        other_tenant,
        {"input": "secret", "output": "a", "event_id": event_id, "session_id": "hidden"},
    )
    response = post(server, tenant, {"input": "q", "output": "a", "event_id": event_id})
    assert response.status_code == 409
    assert "hidden" not in response.text and "secret" not in response.text
    assert stored_count(server, tenant) == 0


def test_concurrent_events_are_all_stored(server: Server, tenant: Tenant) -> None:
    def send(index: int) -> httpx.Response:
        return post(server, tenant, {"input": f"q{index}", "output": "a", "session_id": "busy"})

    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(send, range(200)))
    assert all(r.status_code == 201 for r in responses)
    assert len({r.json()["event_id"] for r in responses}) == 200
    assert stored_count(server, tenant) == 200
    assert server.query(
        "SELECT event_count FROM sessions WHERE project_id = ?", tenant.project_id
    ) == [(200,)]


def test_unicode_and_large_text_round_trip(server: Server, tenant: Tenant) -> None:
    text = "émoji 🚀 中文 <script>alert(1)</script> " * 2000
    body = post(server, tenant, {"input": text, "output": text[::-1]}).json()
    row = server.query(
        "SELECT input, output FROM events WHERE id = ?", event_param(server, body["event_id"])
    )
    assert row == [(text, text[::-1])]


@pytest.mark.parametrize(
    ("metadata", "cost_nano"),
    [
        # genai-prices: gpt-4o is $2.50 in / $10 out per million tokens.
        pytest.param({"model": "gpt-4o", "tokens_in": 1000, "tokens_out": 100}, 3_500_000,
                     id="estimated"),
        pytest.param({"model": "GPT-4o", "tokensIn": 1000}, 2_500_000, id="camel-and-case"),
        pytest.param({"model": "gpt-4o", "tokens_in": 1000, "cost_usd": 0.25}, 250_000_000,
                     id="client-cost-wins"),
        pytest.param({"costUsd": 0.000000001}, 1, id="cost-without-model"),
        pytest.param({"model": "no-such-model", "tokens_in": 5}, None, id="unpriced"),
        pytest.param({"model": "gpt-4o"}, None, id="no-tokens"),
    ],
)  # fmt: skip
def test_cost_is_estimated_at_ingest_into_a_typed_column(
    server: Server, tenant: Tenant, metadata: dict[str, Any], cost_nano: int | None
) -> None:
    """Cost in nano-dollars: priced from model and tokens, or the client's cost_usd; NULL
    (unpriced, never 0) for a model without a known price."""
    response = post(server, tenant, {"input": "q", "output": "a", "metadata": metadata})
    assert response.status_code == 201
    rows = server.query(
        "SELECT cost_nano, metadata FROM events WHERE id = ?",
        event_param(server, response.json()["event_id"]),
    )
    assert rows[0][0] == cost_nano
    stored = rows[0][1] if isinstance(rows[0][1], dict) else json.loads(rows[0][1])
    assert stored == metadata  # the metadata itself is kept as sent
