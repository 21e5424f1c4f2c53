"""The Python SDK's `tags`, `status` and `error`: sent by `log`, `log_batch`, the AsyncClient and
background mode, stored as the server stores them; bad values refused before anything is sent."""

from __future__ import annotations

from typing import Any

import phospho
import pytest

from tests.harness import Server, Tenant
from tests.sdk_python.sdk_support import count_events


def stored(server: Server, event_id: str) -> tuple[list[str], str | None, str | None]:
    """(tags in order, status, error) of one stored event."""
    tags = server.query(
        "SELECT tag FROM event_tags WHERE CAST(event_id AS TEXT) = ? ORDER BY id", event_id
    )
    [(status, error)] = server.query(
        "SELECT status, error FROM events WHERE CAST(id AS TEXT) = ?", event_id
    )
    return [tag for (tag,) in tags], status, error


def test_log_and_log_batch_send_the_fields(srv: Server, tenant: Tenant) -> None:
    phospho.init(api_key=tenant.key, base_url=srv.base_url)
    failed = phospho.log(input="q", output="", tags=["prod", "eu", "prod"], error="timeout")
    assert stored(srv, failed["event_id"]) == (["prod", "eu"], "error", "timeout")
    fine = phospho.log(input="q", output="a", tags=("beta",), status="ok")
    assert stored(srv, fine["event_id"]) == (["beta"], "ok", None)
    batch = phospho.log_batch([
        {"input": "q", "output": "a", "tags": ["x"], "status": "error", "error": "boom"},
        {"input": "q", "output": "a"},
    ])  # fmt: skip
    assert stored(srv, batch[0]["event_id"]) == (["x"], "error", "boom")
    assert stored(srv, batch[1]["event_id"]) == ([], None, None)


async def test_async_client_sends_the_fields(srv: Server, tenant: Tenant) -> None:
    async with phospho.AsyncClient(api_key=tenant.key, base_url=srv.base_url) as client:
        result = await client.log("q", "a", tags=["async"], status="error", error="e")
    assert stored(srv, result["event_id"]) == (["async"], "error", "e")


def test_background_mode_sends_the_fields(srv: Server, tenant: Tenant) -> None:
    phospho.init(api_key=tenant.key, base_url=srv.base_url, background=True, flush_interval=60)
    result = phospho.log(input="q", output="a", tags=["bg"], error="late")
    assert phospho.flush(timeout=10)
    assert stored(srv, result["event_id"]) == (["bg"], "error", "late")


BAD: list[tuple[dict[str, Any], str]] = [
    ({"tags": [f"t{n}" for n in range(21)]}, "tags"),
    ({"tags": ["x" * 65]}, "tags[0]"),
    ({"tags": ["ok", ""]}, "tags[1]"),
    ({"tags": ["ok", 5]}, "tags[1]"),
    ({"tags": "prod"}, "tags"),
    ({"status": "bad"}, "status"),
    ({"status": "ok", "error": "e"}, "error"),
    ({"error": 5}, "error"),
    ({"error": "e" * 4097}, "error"),
]


@pytest.mark.parametrize(("fields", "field"), BAD, ids=[field for _, field in BAD])
def test_bad_fields_are_refused_before_sending(
    srv: Server, tenant: Tenant, fields: dict[str, Any], field: str
) -> None:
    phospho.init(api_key=tenant.key, base_url=srv.base_url)
    with pytest.raises(phospho.ValidationError) as caught:
        phospho.log(input="q", output="a", **fields)
    assert caught.value.status_code is None  # refused locally
    assert caught.value.message.startswith(field + ":"), caught.value.message
    with pytest.raises(phospho.ValidationError) as caught:
        phospho.log_batch([{"input": "q", "output": "a"}, {"input": "q", "output": "a", **fields}])
    assert caught.value.message.startswith(f"events[1].{field}"), caught.value.message
    assert count_events(srv, tenant) == 0
