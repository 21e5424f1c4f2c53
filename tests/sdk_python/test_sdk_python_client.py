"""Blocking mode, AsyncClient, configuration and typed errors, against the real server."""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime

import phospho
import pytest

from tests.harness import Server, Tenant
from tests.sdk_python.sdk_support import count_events, count_feedback, run_python, unused_url

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def _db_id(server: Server, value: str) -> object:
    return value if server.backend == "sqlite" else uuid.UUID(value)


def fast(**options: object) -> dict[str, object]:
    """Client options with tiny retry delays, so failing paths stay quick."""
    return {"retry_backoff": 0.01, "retry_backoff_max": 0.05, **options}


# --------------------------------------------------------------------------- module level


def test_module_log_and_feedback_store_what_was_sent(srv: Server, tenant: Tenant) -> None:
    phospho.init(api_key=tenant.key, base_url=srv.base_url)
    result = phospho.log(
        input="q",
        output="a",
        session_id="s-1",
        user_id="u-1",
        metadata={"model": "m", "tokens_in": 1, "tokens_out": 2, "latency_ms": 3.5, "x": [1]},
    )
    assert set(result) == {"event_id", "session_id", "created_at", "feedback_token"}
    assert result["feedback_token"].startswith("phf_")
    assert uuid.UUID(result["event_id"]).version == 7
    assert result["session_id"] == "s-1"
    assert ISO_UTC.fullmatch(result["created_at"])
    rows = srv.query(
        "SELECT session_key, user_id, input, output, model, tokens_in, tokens_out, latency_ms "
        "FROM events WHERE id = ?",
        _db_id(srv, result["event_id"]),
    )
    assert rows == [("s-1", "u-1", "q", "a", "m", 1, 2, 3.5)]

    fb = phospho.feedback(event_id=result["event_id"], score=0, comment="meh")
    assert (fb["event_id"], fb["score"], fb["comment"]) == (result["event_id"], 0, "meh")
    assert fb["feedback_id"] is not None
    assert count_feedback(srv, tenant) == 1


def test_server_generates_a_session_when_none_is_given(srv: Server, tenant: Tenant) -> None:
    with phospho.Client(api_key=tenant.key, base_url=srv.base_url) as client:
        result = client.log("q", "a")
    assert re.fullmatch(r"sess_[0-9a-f]{24}", result["session_id"])


def test_same_event_id_twice_stores_one_event(srv: Server, tenant: Tenant) -> None:
    event_id = str(uuid.uuid4())
    with phospho.Client(api_key=tenant.key, base_url=srv.base_url) as client:
        first = client.log("q", "a", event_id=event_id)
        second = client.log("q", "a", event_id=event_id)
    assert first == second
    assert first["event_id"] == event_id
    assert count_events(srv, tenant) == 1


def test_log_batch_keeps_order_and_stores_all(srv: Server, tenant: Tenant) -> None:
    events = [{"input": f"q{i}", "output": f"a{i}", "session_id": "batch"} for i in range(5)]
    with phospho.Client(api_key=tenant.key, base_url=srv.base_url) as client:
        results = client.log_batch(events)
    assert [r["session_id"] for r in results] == ["batch"] * 5
    stored = dict(srv.query("SELECT id, input FROM events WHERE project_id = ?", tenant.project_id))
    assert [stored[r["event_id"]] for r in results] == [f"q{i}" for i in range(5)]


def test_log_batch_splits_more_than_1000_events(srv: Server, tenant: Tenant) -> None:
    events = [{"input": "q", "output": str(i)} for i in range(1201)]
    with phospho.Client(api_key=tenant.key, base_url=srv.base_url) as client:
        results = client.log_batch(events)
    assert len(results) == 1201
    assert count_events(srv, tenant) == 1201


# --------------------------------------------------------------------------- typed errors


def test_bad_key_raises_authentication_error(srv: Server) -> None:
    phospho.init(api_key="ph_not_a_real_key", base_url=srv.base_url)
    with pytest.raises(phospho.AuthenticationError) as caught:
        phospho.log(input="q", output="a")
    assert caught.value.status_code == 401
    assert caught.value.code == "unauthorized"
    assert "API key" in caught.value.message
    assert caught.value.headers.get("www-authenticate") == "Bearer"


def test_feedback_on_unknown_event_raises_not_found(
    srv: Server, tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = phospho.Client(api_key=other_tenant.key, base_url=srv.base_url).log("q", "a")
    phospho.init(api_key=tenant.key, base_url=srv.base_url)
    for event_id in (str(uuid.uuid4()), foreign["event_id"]):  # unknown, other project's
        with pytest.raises(phospho.NotFoundError) as caught:
            phospho.feedback(event_id=event_id, score=1)
        assert caught.value.status_code == 404
        assert caught.value.message == "event not found"
    assert count_feedback(srv, tenant) == 0


def test_server_refusal_raises_validation_error_with_the_servers_message(
    srv: Server, tenant: Tenant
) -> None:
    phospho.init(api_key=tenant.key, base_url=srv.base_url)
    with pytest.raises(phospho.ValidationError) as caught:
        phospho.log(input="q", output="a", metadata={"tokens_in": -1})
    error = caught.value
    assert error.status_code == 422
    assert error.code == "invalid"
    assert error.message == "body.metadata.tokens_in: must be a non-negative number"
    assert error.errors[0]["loc"] == ["body", "metadata", "tokens_in"]
    assert error.message in str(error)
    assert count_events(srv, tenant) == 0


def test_batch_refusal_names_the_failing_index(srv: Server, tenant: Tenant) -> None:
    events = [{"input": "q", "output": "a"}] * 3 + [
        {"input": "q", "output": "a", "metadata": {"latency_ms": "slow"}}
    ]
    with phospho.Client(api_key=tenant.key, base_url=srv.base_url) as client:
        with pytest.raises(phospho.ValidationError) as caught:
            client.log_batch(events)
    assert caught.value.errors[0]["loc"][:3] == ["body", "events", 3]
    assert count_events(srv, tenant) == 0  # all or nothing


def test_wrong_argument_types_are_refused_before_sending(srv: Server, tenant: Tenant) -> None:
    phospho.init(api_key=tenant.key, base_url=srv.base_url)
    cases = [
        ({"input": 1, "output": "a"}, "input"),
        ({"input": "q", "output": None}, "output"),
        ({"input": "q", "output": "a", "session_id": ""}, "session_id"),
        ({"input": "q", "output": "a", "user_id": "u" * 257}, "user_id"),
        ({"input": "q", "output": "a", "metadata": ["x"]}, "metadata"),
        ({"input": "q", "output": "a", "metadata": {"t": object()}}, "metadata"),
        ({"input": "q", "output": "a", "metadata": {"x": float("nan")}}, "metadata"),
        ({"input": "q\x00", "output": "a"}, "input"),
        ({"input": "q", "output": "a", "event_id": "not-a-uuid"}, "event_id"),
    ]
    for kwargs, field in cases:
        with pytest.raises(phospho.ValidationError) as caught:
            phospho.log(**kwargs)  # type: ignore[arg-type]
        assert caught.value.status_code is None
        assert caught.value.message.startswith(field + ":"), caught.value.message
    for score in (2, True, 1.0, "1"):
        with pytest.raises(phospho.ValidationError, match="score"):
            phospho.feedback(event_id=str(uuid.uuid4()), score=score)  # type: ignore[arg-type]
    with pytest.raises(phospho.ValidationError, match="event_id"):
        phospho.feedback(event_id="nope", score=1)
    assert count_events(srv, tenant) == 0


def test_nothing_listening_raises_api_connection_error() -> None:
    client = phospho.Client(api_key="ph_x", base_url=unused_url(), **fast(max_retries=2))
    started = time.monotonic()
    with pytest.raises(phospho.APIConnectionError) as caught:
        client.log("q", "a")
    assert time.monotonic() - started < 2
    assert "could not connect to the phospho server" in str(caught.value)
    assert isinstance(caught.value, phospho.APIError)
    assert caught.value.status_code is None


def test_timeout_raises_api_timeout_error(hanging_url: str) -> None:
    client = phospho.Client(
        api_key="ph_x", base_url=hanging_url, timeout=0.2, **fast(max_retries=1)
    )
    with pytest.raises(phospho.APITimeoutError):
        client.log("q", "a")


def test_log_before_init_says_to_call_init() -> None:
    with pytest.raises(phospho.NotInitializedError, match=r"call phospho\.init\(api_key="):
        phospho.log(input="q", output="a")
    with pytest.raises(phospho.NotInitializedError):
        phospho.feedback(event_id=str(uuid.uuid4()), score=1)
    assert phospho.flush(timeout=0.1) is True  # nothing to flush, never raises


def test_log_before_init_in_a_fresh_interpreter() -> None:
    done = run_python("import phospho\nphospho.log(input='q', output='a')\n", {})
    assert done.returncode == 1
    assert "phospho.NotInitializedError: phospho is not initialised" in done.stderr
    assert "call phospho.init(api_key=" in done.stderr


# --------------------------------------------------------------------------- configuration


def test_explicit_arguments_beat_environment_beat_defaults(
    srv: Server, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PHOSPHO_API_KEY", raising=False)
    monkeypatch.delenv("PHOSPHO_BASE_URL", raising=False)
    with pytest.raises(phospho.ConfigurationError, match="PHOSPHO_API_KEY"):
        phospho.Client()
    assert phospho.Client(api_key="ph_x").base_url == "http://127.0.0.1:8000"

    monkeypatch.setenv("PHOSPHO_API_KEY", tenant.key)
    monkeypatch.setenv("PHOSPHO_BASE_URL", srv.base_url + "/")
    from_env = phospho.Client()
    assert from_env.base_url == srv.base_url
    assert from_env.log("q", "env")["event_id"]

    explicit = phospho.Client(api_key="ph_wrong", base_url=srv.base_url)
    with pytest.raises(phospho.AuthenticationError):
        explicit.log("q", "a")
    assert phospho.Client(base_url="https://example.test/api/v1").base_url == (
        "https://example.test"
    )
    with pytest.raises(phospho.ConfigurationError, match="http"):
        phospho.Client(base_url="localhost:8000")
    assert count_events(srv, tenant) == 1


def test_constructors_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        phospho.Client("ph_x")  # type: ignore[misc]
    with pytest.raises(TypeError):
        phospho.AsyncClient("ph_x")  # type: ignore[misc]
    with pytest.raises(TypeError):
        phospho.init("ph_x")  # type: ignore[misc]


def test_invalid_options_are_refused() -> None:
    for options in (
        {"max_retries": -1},
        {"timeout": 0},
        {"max_batch_size": 1001},
        {"max_queue_size": 0},
        {"flush_interval": float("nan")},
    ):
        with pytest.raises(phospho.ConfigurationError):
            phospho.Client(api_key="ph_x", **options)  # type: ignore[arg-type]


def test_errors_form_one_hierarchy() -> None:
    for cls in (
        phospho.AuthenticationError,
        phospho.NotFoundError,
        phospho.ValidationError,
        phospho.RateLimitError,
        phospho.APIConnectionError,
        phospho.APITimeoutError,
    ):
        assert issubclass(cls, phospho.APIError)
    assert issubclass(phospho.APIError, phospho.PhosphoError)
    assert issubclass(phospho.NotInitializedError, phospho.PhosphoError)
    assert issubclass(phospho.ConfigurationError, phospho.PhosphoError)


# --------------------------------------------------------------------------- AsyncClient


async def test_async_client_logs_batches_and_feedback(srv: Server, tenant: Tenant) -> None:
    async with phospho.AsyncClient(api_key=tenant.key, base_url=srv.base_url) as client:
        result = await client.log("q", "a", session_id="async", metadata={"model": "m"})
        assert result["session_id"] == "async"
        assert uuid.UUID(result["event_id"]).version == 7
        datetime.fromisoformat(result["created_at"].replace("Z", "+00:00"))
        batch = await client.log_batch([{"input": "q2", "output": "a2"}] * 2)
        assert len(batch) == 2
        feedback = await client.feedback(result["event_id"], 1, comment="async ok")
        assert feedback["comment"] == "async ok"
        assert await client.flush() is True
    assert count_events(srv, tenant) == 3
    assert count_feedback(srv, tenant) == 1


async def test_async_client_typed_errors(srv: Server, tenant: Tenant) -> None:
    async with phospho.AsyncClient(api_key=tenant.key, base_url=srv.base_url) as client:
        with pytest.raises(phospho.ValidationError) as caught:
            await client.log("q", "a", metadata={"tokens_out": 1.5})
        assert caught.value.message == "body.metadata.tokens_out: must be a non-negative integer"
        with pytest.raises(phospho.NotFoundError):
            await client.feedback(str(uuid.uuid4()), 1)
    async with phospho.AsyncClient(api_key="ph_wrong", base_url=srv.base_url) as client:
        with pytest.raises(phospho.AuthenticationError):
            await client.log("q", "a")
    async with phospho.AsyncClient(api_key="ph_x", base_url=unused_url(), **fast()) as client:
        with pytest.raises(phospho.APIConnectionError):
            await client.log("q", "a")
