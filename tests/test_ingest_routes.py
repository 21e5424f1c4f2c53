"""The ingest routes are answered ahead of the app's router (app/api/events.py): what a router
would answer besides their POSTs must not change, nor what happens to a half-sent body or an
unexpected error."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from app.api.events import add_feedback, log_event, log_events, match
from app.factory import create_app
from app.settings import Settings
from tests.harness import Server, Tenant

EVENT = {"input": "q", "output": "a"}
PATHS = ["/api/v1/events", "/api/v1/events/batch", "/api/v1/events/some-id/feedback"]


def test_paths_match_as_the_router_matched_them() -> None:
    assert match("/api/v1/events") == (log_event, "")
    assert match("/api/v1/events/batch") == (log_events, "")
    assert match("/api/v1/events/0190-ab/feedback") == (add_feedback, "0190-ab")
    assert match("/api/v1/events/batch/feedback") == (add_feedback, "batch")
    others = ["/api/v1/events//feedback", "/api/v1/events/a/b/feedback", "/api/v1/event",
              "/api/v1/events/", "/api/v1/events/feedback", "/api/v1/eventsX", "/"]  # fmt: skip
    for other in others:
        assert match(other) is None, other


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
@pytest.mark.parametrize("path", PATHS)
def test_other_methods_get_405_with_allow(server: Server, path: str, method: str) -> None:
    response = httpx.request(method, server.base_url + path)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"] == "application/json"
    if method != "HEAD":
        assert response.json() == {"detail": "Method Not Allowed", "code": "http_error"}


def test_a_trailing_slash_redirects_and_the_event_is_stored_once(
    server: Server, tenant: Tenant
) -> None:
    url = server.base_url + "/api/v1/events/"
    first = httpx.post(url, json=EVENT, headers=tenant.headers)
    assert first.status_code == 307
    assert first.headers["location"] == server.base_url + "/api/v1/events"
    assert server.event_rows(tenant.project_id) == []
    followed = httpx.post(url, json=EVENT, headers=tenant.headers, follow_redirects=True)
    assert followed.status_code == 201
    stored = [str(row[0]) for row in server.event_rows(tenant.project_id)]
    assert stored == [followed.json()["event_id"]]


@pytest.mark.parametrize("path", ["/api/v1/events//feedback", "/api/v1/events/a/b/feedback"])
def test_feedback_paths_without_one_event_id_are_not_found(
    server: Server, tenant: Tenant, path: str
) -> None:
    response = httpx.post(server.base_url + path, json={"score": 1}, headers=tenant.headers)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "code": "http_error"}


def test_a_body_cut_off_stores_nothing_and_the_server_goes_on(
    server: Server, tenant: Tenant
) -> None:
    # What arrives is a whole JSON event; the trailing spaces the length announces never do.
    body = b'{"input": "cut off", "output": "never finished"}' + b" " * 8
    head = (
        f"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tenant.key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + body.rstrip())
        time.sleep(0.3)  # the server is now waiting inside the body
    whole = httpx.post(server.base_url + "/api/v1/events", json=EVENT, headers=tenant.headers)
    assert whole.status_code == 201
    rows = server.event_rows(tenant.project_id)
    assert [(str(row[0]), row[2]) for row in rows] == [(whole.json()["event_id"], "q")]


def test_an_unexpected_error_is_a_logged_json_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PHOSPHO_DATA_DIR", str(tmp_path))
    app = create_app(Settings())
    with TestClient(app, raise_server_exceptions=False) as client:
        tenant = _tenant(tmp_path)

        async def broken(*_: object) -> None:
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(app.state.ingestor, "log_event", broken)
        response = client.post("/api/v1/events", json=EVENT, headers=tenant.headers)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; it has been logged", "code": "internal"}
    assert "disk on fire" not in response.text
    assert "unhandled error on POST /api/v1/events" in caplog.text


def _tenant(data_dir: Path) -> Tenant:
    server = Server(
        backend="sqlite", data_dir=data_dir,
        database_url=f"sqlite://{data_dir / 'phospho.sqlite3'}", extra_env={},
    )  # fmt: skip
    return server.new_tenant()
