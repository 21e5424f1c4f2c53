"""The OpenTelemetry JavaScript exporter, with its defaults (OTLP/JSON, sent chunked), sends one
chat span to a real server configured only by the two standard environment variables, and the
span is stored as one event with its session, user, model, tokens, latency and text.

Needs Node >= 18.19 and npm; `npm ci` runs in tests/otlp/js when node_modules is missing or
older than package-lock.json (as tests/sdk_js does).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
from pathlib import Path

import pytest

from tests.harness import Server, Tenant
from tests.otlp.exporting import otel_env, stored_events
from tests.sdk_js.test_js_sdk import npm_installing, run

JS = Path(__file__).resolve().parent / "js"
LOCK_MARKER = JS / "node_modules" / ".phospho-lock-sha256"


@pytest.fixture(scope="module")
def js_project() -> Path:
    """tests/otlp/js with its pinned dependencies installed (npm ci, only when stale)."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are needed for the JavaScript exporter")
    lock = hashlib.sha256((JS / "package-lock.json").read_bytes()).hexdigest()
    with npm_installing():  # the other module using tests/otlp/js may be installing it too
        if not LOCK_MARKER.exists() or LOCK_MARKER.read_text() != lock:
            run(["npm", "ci", "--no-audit", "--no-fund"], JS, timeout=300)
            LOCK_MARKER.write_text(lock)
    return JS


def test_js_exporter_span_is_stored(server: Server, tenant: Tenant, js_project: Path) -> None:
    session, user = f"js-{secrets.token_hex(4)}", f"ju-{secrets.token_hex(4)}"
    done = run(["node", "send.mjs", session, user], js_project, env=otel_env(server, tenant.key))
    span = json.loads(done.stdout.strip().splitlines()[-1])
    (event,) = stored_events(server, tenant, session)
    assert event["userId"] == user and event["model"] == "gpt-4o-mini-2024-07-18"
    assert (event["tokensIn"], event["tokensOut"]) == (40, 12)
    assert event["latencyMs"] == pytest.approx(1250)
    assert "Is the JavaScript exporter welcome?" in event["input"]
    assert "Yes, in OTLP/JSON." in event["output"]
    assert event["costUsd"] is not None and event["costUsd"] > 0
    assert span["trace_id"] in json.dumps(event["metadata"])
