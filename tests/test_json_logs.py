"""`PHOSPHO_LOG_FORMAT=json` and the request id (app/logs.py, app/api/observe.py) on a real
server, both databases: every line the server writes is one JSON object; a request's line
carries its id (the one echoed), route template, status, duration and project; no key,
password, query string or event text is ever logged; a hostile X-Request-ID is replaced.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.admission_support import Reader, connect
from tests.harness import Server, require_backend, serving

SECRET = uuid.uuid4().hex  # in every secret below: it must never reach the log
GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def json_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server writing JSON lines, one access line per request."""
    require_backend(request.param)
    with serving(
        request.param,
        tmp_path_factory.mktemp(f"jsonlogs-{request.param}"),
        PHOSPHO_LOG_FORMAT="json",
        PHOSPHO_ACCESS_LOG="true",
    ) as srv:
        yield srv


def lines(server: Server) -> list[dict[str, Any]]:
    """Every line the server wrote so far (stdout and stderr), each parsed as JSON."""
    time.sleep(0.2)  # the access line is written once the answer is sent
    parsed = []
    for line in server.log().splitlines():
        record = json.loads(line)  # fails the test on any line that is not JSON
        assert isinstance(record, dict) and {"level", "logger", "message"} <= set(record), line
        parsed.append(record)
    return parsed


def access(server: Server, request_id: str) -> dict[str, Any]:
    """The access line of the request with this id."""
    found = [r for r in lines(server) if r.get("request_id") == request_id]
    assert len(found) == 1, found
    assert found[0]["logger"] == "phospho.access"
    return found[0]


def test_a_request_line_has_id_route_status_duration_and_project(json_server: Server) -> None:
    tenant = json_server.new_tenant()
    headers = {**tenant.headers, "X-Request-ID": "client-trace-" + SECRET[:8]}
    body = {"input": f"event text {SECRET}", "output": f"answer {SECRET}"}
    answer = httpx.post(json_server.base_url + "/api/v1/events", json=body, headers=headers)
    assert answer.status_code == 201
    assert answer.headers["x-request-id"] == headers["X-Request-ID"]
    line = access(json_server, headers["X-Request-ID"])
    assert line["route"] == "/api/v1/events" and line["method"] == "POST"
    assert line["status"] == 201 and line["project_id"] == tenant.project_id
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert "timestamp" in line

    event_id = answer.json()["event_id"]
    feedback = httpx.post(json_server.base_url + f"/api/v1/events/{event_id}/feedback",
                          json={"score": 1}, headers=tenant.headers)  # fmt: skip
    assert feedback.status_code == 201
    generated = feedback.headers["x-request-id"]
    assert GENERATED.fullmatch(generated)
    line = access(json_server, generated)
    assert line["route"] == "/api/v1/events/{event_id}/feedback"  # the template, not the id
    assert event_id not in json.dumps(line)
    assert line["project_id"] == tenant.project_id


def test_errors_echo_the_id_and_nothing_secret_is_logged(json_server: Server) -> None:
    base = json_server.base_url
    bad_key = httpx.post(base + "/api/v1/events", json={"input": "x", "output": "y"},
                         headers={"Authorization": f"Bearer ph_{SECRET}"})  # fmt: skip
    assert bad_key.status_code == 401 and GENERATED.fullmatch(bad_key.headers["x-request-id"])
    assert access(json_server, bad_key.headers["x-request-id"])["status"] == 401
    query = httpx.get(base + f"/api/v1/events?api_key={SECRET}&token={SECRET}")
    assert query.status_code == 405 and "x-request-id" in query.headers
    login = httpx.post(base + "/login", data={"email": f"{SECRET}@example.com",
                                              "password": f"pw-{SECRET}"})  # fmt: skip
    assert login.status_code < 500 and "x-request-id" in login.headers
    line = access(json_server, login.headers["x-request-id"])
    assert line["route"] == "/login" and line["status"] == login.status_code
    unknown = httpx.get(base + f"/{SECRET}/page", headers={"Cookie": f"phospho_session={SECRET}"})
    assert unknown.status_code == 404
    assert access(json_server, unknown.headers["x-request-id"])["route"] == "other"
    assert SECRET not in json_server.log()


@pytest.mark.parametrize(
    "hostile",
    [
        b"x" * 5000,  # huge
        "caf\u00e9-\u00ff".encode("latin-1"),  # not ASCII
        b'abc", "status": 200, "x": "',  # JSON of its own
        b"two words",
        b"abc\tdef",  # a tab (the parser refuses other control bytes itself)
    ],
    ids=["huge", "non-ascii", "json", "space", "tab"],
)
def test_a_hostile_request_id_is_replaced(json_server: Server, hostile: bytes) -> None:
    sock = connect(json_server)
    sock.sendall(b"GET /api/v1/health/x HTTP/1.1\r\nHost: a\r\nX-Request-ID: " + hostile
                 + b"\r\n\r\n")  # fmt: skip
    answer = Reader(sock).answer()
    sock.close()
    assert answer.status == 404
    echoed = answer.headers["x-request-id"]
    assert GENERATED.fullmatch(echoed), echoed
    line = access(json_server, echoed)
    assert line["route"] == "other"
    log = json_server.log().encode("utf-8", "replace")
    assert hostile not in log and hostile.decode("latin-1").encode() not in log


def test_a_sane_request_id_is_kept(json_server: Server) -> None:
    given = "0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331.01:span/2+=_"
    answer = httpx.get(json_server.base_url + "/api/docs", headers={"X-Request-ID": given})
    assert answer.status_code == 200 and answer.headers["x-request-id"] == given
    assert access(json_server, given)["route"] == "/api/docs"


def test_every_line_is_json_including_start_and_stop(backend: str, tmp_path: Any) -> None:
    """Start-up lines, uvicorn's own and the shutdown: nothing but JSON objects."""
    require_backend(backend)
    with serving(backend, tmp_path, PHOSPHO_LOG_FORMAT="json") as srv:
        assert httpx.get(srv.base_url + "/api/v1/health").status_code == 200
        srv.stop()
        records = lines(srv)
    messages = [record["message"] for record in records]
    assert any(m.startswith("phospho listening on") for m in messages)
    assert any("Application startup complete" in m for m in messages)
    assert any("shutdown complete" in m for m in messages)
    assert not any(r["logger"] == "phospho.access" for r in records)  # access log off
