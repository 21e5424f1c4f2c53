"""Feedback from a real browser: pages served from two other loopback ports load the JS SDK's
built `feedback.js` (sdks/js/dist/esm, as a bundler-less page would) and call `sendFeedback`.
The page of the origin listed in PHOSPHO_CORS_ORIGINS stores its feedback (and can read the
server's errors); the other one is blocked by the browser and stores nothing.
"""

from __future__ import annotations

import functools
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.harness import BACKENDS, Server, Tenant, free_port, serving
from tests.test_dashboard_browser import CHROMIUM, FLAGS

pytestmark = pytest.mark.skipif(
    not shutil.which("chromium"), reason="Debian's chromium is not installed"
)

PAGE = """<!doctype html><meta charset="utf-8"><title>chat</title>
<script type="module">
  import { sendFeedback } from "./sdk/feedback.js";
  window.sendFeedback = sendFeedback;
  window.ready = true;
</script>
"""
# Calls the SDK in the page; resolves to what happened, never rejects.
SEND = """async ([token, score, baseUrl]) => {
  try {
    return { ok: await window.sendFeedback({ token, score, comment: "from the page", baseUrl }) };
  } catch (error) {
    return { error: error.name, status: error.status ?? null, message: error.message };
  }
}"""
# A plain fetch a page may send without a preflight (text/plain): the server must refuse it.
SIMPLE_POST = """async ([url, body]) => {
  try {
    const headers = { "content-type": "text/plain" };
    const response = await fetch(url, { method: "POST", body, headers });
    return { status: response.status };
  } catch (error) {
    return { error: String(error) };
  }
}"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access lines in the test output."""


@contextmanager
def static_site(root: Path) -> Iterator[str]:
    """Serve `root` over HTTP on a loopback port of its own; its origin."""
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A page and the SDK's ESM build, as a web app would serve them."""
    from tests.sdk_js.test_js_sdk import build_sdk, npm_installing

    root = tmp_path_factory.mktemp("site")
    sdk = build_sdk()
    with npm_installing():  # not while another pytest-xdist worker rebuilds dist/
        shutil.copytree(sdk / "dist" / "esm", root / "sdk")
    (root / "index.html").write_text(PAGE)
    return root


@pytest.fixture(scope="module")
def origins(site: Path) -> Iterator[tuple[str, str]]:
    """The listed origin and an unlisted one, both serving the page."""
    with static_site(site) as listed, static_site(site) as unlisted:
        yield listed, unlisted


@pytest.fixture(scope="module", params=BACKENDS)
def srv(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    origins: tuple[str, str],
) -> Iterator[Server]:
    """A server per database listing the first origin only."""
    path = tmp_path_factory.mktemp(f"fbbrowser-{request.param}")
    with serving(request.param, path, PHOSPHO_CORS_ORIGINS=origins[0]) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless chromium for the module."""
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


@contextmanager
def page_at(browser: Browser, origin: str) -> Iterator[Page]:
    """A fresh tab on the page of `origin`, the SDK loaded; fails on any page error."""
    context = browser.new_context()
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(origin + "/index.html")
    tab.wait_for_function("window.ready === true")
    yield tab
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def logged(srv: Server, tenant: Tenant) -> dict[str, Any]:
    """Log an event with the project's key, as the app's server does; its answer."""
    response = httpx.post(
        srv.base_url + "/api/v1/events", json={"input": "q", "output": "a"}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def feedback_rows(srv: Server, event_id: str) -> list[tuple[Any, ...]]:
    """(score, comment) of the event's stored feedback."""
    event = event_id if srv.backend == "sqlite" else uuid.UUID(event_id)
    return srv.query("SELECT score, comment FROM feedback WHERE event_id = ?", event)


def test_a_page_of_the_listed_origin_sends_feedback(
    srv: Server, browser: Browser, origins: tuple[str, str]
) -> None:
    tenant = srv.new_tenant()
    event = logged(srv, tenant)
    with page_at(browser, origins[0]) as tab:
        sent = tab.evaluate(SEND, [event["feedback_token"], 1, srv.base_url])
        assert "ok" in sent, sent
        assert (sent["ok"]["eventId"], sent["ok"]["score"]) == (event["event_id"], 1)
        # The server's errors reach the page too (CORS headers on every answer).
        forged = event["feedback_token"][:-2] + (
            "AA" if event["feedback_token"][-2:] != "AA" else "BB"
        )
        refused = tab.evaluate(SEND, [forged, 0, srv.base_url])
        assert (refused["error"], refused["status"]) == ("AuthenticationError", 401), refused
    assert feedback_rows(srv, event["event_id"]) == [(1, "from the page")]


def test_a_page_of_another_origin_is_blocked_and_stores_nothing(
    srv: Server, browser: Browser, origins: tuple[str, str]
) -> None:
    tenant = srv.new_tenant()
    event = logged(srv, tenant)
    with page_at(browser, origins[1]) as tab:
        sent = tab.evaluate(SEND, [event["feedback_token"], 1, srv.base_url])
        assert sent.get("error") == "APIConnectionError", sent  # fetch rejected by the browser
        assert "PHOSPHO_CORS_ORIGINS" in sent["message"]
        body = f'{{"token": "{event["feedback_token"]}", "score": 0}}'
        simple = tab.evaluate(SIMPLE_POST, [srv.base_url + "/api/v1/feedback", body])
        assert "error" in simple, simple  # sent (no preflight), refused: 403 without CORS
    assert feedback_rows(srv, event["event_id"]) == []
