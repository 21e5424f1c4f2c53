"""Every REST snippet of the public docs runs verbatim against a real server (base URL swapped)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from tests.docs_snippets import (
    COPY,
    SHARED_DOCS,
    adapt,
    curl_feedback,
    curl_log_event,
    documented_response_fields,
    python_quick_start,
)
from tests.harness import Server, Tenant


def run_curl(command: str) -> tuple[int, dict[str, object]]:
    """Run a curl command line as a shell would, adding only `-w` to learn the status code."""
    out = subprocess.run(
        ["bash", "-c", command + " -s -w '\\n%{http_code}'"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    body, status = out.rsplit("\n", 1)
    return int(status), json.loads(body)


def test_committed_docs_copy_matches_shared_docs() -> None:
    """The committed copy holds every snippet the tests run, and is the published text wherever
    the shared original is beside the checkout (a clean clone checks the first part only)."""
    for snippet in (curl_log_event, curl_feedback, python_quick_start):
        assert snippet().strip(), snippet.__name__
    assert documented_response_fields(), "the documented 201 response has fields"
    if SHARED_DOCS.exists():
        assert COPY.read_text() == SHARED_DOCS.read_text(), "refresh docs/phospho-docs.txt"


def test_curl_log_event_snippet_stores_the_event(server: Server, tenant: Tenant) -> None:
    status, body = run_curl(adapt(curl_log_event(), server.base_url, tenant.key))
    assert status == 201
    # The documented fields, in the documented order; then only what the README adds to the
    # answer (feedback_token: issue 21's browser feedback), never a documented field missing.
    documented = documented_response_fields()
    assert list(body)[: len(documented)] == documented
    assert list(body)[len(documented) :] == ["feedback_token"]
    assert body["session_id"] == "optional_session_id"
    rows = server.query(
        "SELECT input, output, session_key, user_id, model, tokens_in, tokens_out, latency_ms "
        "FROM events WHERE id = ?",
        str(body["event_id"]) if server.backend == "sqlite" else uuid.UUID(str(body["event_id"])),
    )
    assert rows == [
        ("User question here", "AI response here", "optional_session_id", "optional_user_id",
         "gpt-4", 100, 50, 1200.0)
    ]  # fmt: skip


def test_curl_feedback_snippet_attaches_feedback(server: Server, tenant: Tenant) -> None:
    _, event = run_curl(adapt(curl_log_event(), server.base_url, tenant.key))
    command = adapt(curl_feedback(), server.base_url, tenant.key).replace(
        "EVENT_ID", str(event["event_id"])
    )
    status, body = run_curl(command)
    assert status == 201
    assert body["event_id"] == event["event_id"]
    assert (body["score"], body["comment"]) == (1, "Great response!")
    assert server.query(
        "SELECT score, comment FROM feedback WHERE id = ?",
        str(body["feedback_id"])
        if server.backend == "sqlite"
        else uuid.UUID(str(body["feedback_id"])),
    ) == [(1, "Great response!")]


def test_python_quick_start_snippet_prints_event_and_session(
    server: Server, tenant: Tenant
) -> None:
    code = adapt(python_quick_start(), server.base_url, tenant.key)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    printed = eval(out)  # noqa: S307 (the snippet prints a dict literal)
    assert set(printed) >= {"event_id", "session_id"}
    assert printed["session_id"].startswith("sess_")
    assert uuid.UUID(printed["event_id"]).version == 7
    assert len(server.event_rows(tenant.project_id)) == 1
