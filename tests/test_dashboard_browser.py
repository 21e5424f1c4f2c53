"""The dashboard in a real browser: Debian's chromium driven by Playwright (never downloaded)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.docs_snippets import adapt, python_quick_start
from tests.harness import Server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not shutil.which("chromium") and os.environ.get("PHOSPHO_REQUIRE_BROWSER"):
    raise RuntimeError("chromium is required here (apt-get install chromium)")
pytestmark = pytest.mark.skipif(
    not shutil.which("chromium"), reason="Debian's chromium is not installed"
)
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless chromium for the module."""
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies), failing the test on any page error."""
    context = browser.new_context()
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def goto_live(page: Page, url: str, stream: str) -> None:
    """Open `url` and return once its live stream (`stream`, server-sent events) answered: an
    event committed before then would not be pushed, and the page showed it already or not."""
    with page.expect_response(lambda response: stream + "?" in response.url + "?"):
        page.goto(url)


def test_sign_up_create_a_key_use_it_then_revoke_it(server: Server, page: Page) -> None:
    if server.backend != "sqlite":
        pytest.skip("the browser flow runs once, on the SQLite server")
    page.goto(server.base_url + "/signup")
    page.get_by_label("Email").fill("browser@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign up").click()
    # Sign-up says the same for a new and a taken address: the account's owner logs in next.
    page.wait_for_url(re.compile(r".*/login\?signed_up=1"))
    assert "Your account is ready" in page.content()
    page.get_by_label("Email").fill("browser@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/settings/keys")
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Create API key").click()
    key = page.locator("#new-key").inner_text().strip()
    assert key.startswith("ph_")
    assert page.get_by_role("button", name="Copy command").is_visible()

    page.goto(server.base_url + "/events")
    assert page.locator("#first-run").is_visible()
    code = adapt(python_quick_start(), server.base_url, key)  # the docs' snippet, verbatim
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "event_id" in out.stdout
    row = page.locator("tr.event-row").first
    row.wait_for(timeout=10_000)  # pushed over SSE: no reload
    assert "What is machine learning?" in row.inner_text()
    assert page.locator("#first-run").count() == 0

    extra = {"model": "gpt-4", "latency_ms": 800, "retrieval": {"docs": 3}}
    httpx.post(server.base_url + "/api/v1/events", headers={"Authorization": f"Bearer {key}"},
               json={"input": "with metadata", "output": "ok", "metadata": extra})  # fmt: skip
    page.locator("tr.event-row", has_text="with metadata").wait_for(timeout=10_000)
    page.locator("tr.event-row", has_text="with metadata").locator("a").first.click()
    assert '"retrieval"' in page.locator("pre.metadata").inner_text()

    auth = {"Authorization": f"Bearer {key}"}
    for question, answer in [
        ("Hello", "Hi!"),
        ("What's 2+2?", "4"),
        ("Thanks!", "You're welcome!"),
    ]:
        body = {"input": question, "output": answer, "session_id": "conv-browser"}
        httpx.post(server.base_url + "/api/v1/events", headers=auth, json=body)
    goto_live(page, server.base_url + "/sessions", "/live/sessions")
    httpx.post(server.base_url + "/api/v1/events", headers=auth,
               json={"input": "live", "output": "ok", "session_id": "conv-live"})  # fmt: skip
    page.locator("tr[data-session='conv-live']").wait_for(timeout=10_000)  # the list is live
    goto_live(page, server.base_url + "/sessions/conv-browser", "/live/session")
    bubbles = page.locator(".bubble pre").all_inner_texts()
    assert bubbles == ["Hello", "Hi!", "What's 2+2?", "4", "Thanks!", "You're welcome!"]
    late = {"input": "One more thing", "output": "Sure.", "session_id": "conv-browser"}
    httpx.post(server.base_url + "/api/v1/events", headers=auth, json=late)
    page.locator(".turn").nth(3).wait_for(timeout=10_000)  # the new turn appends live

    page.goto(server.base_url + "/settings/keys")
    assert page.get_by_text(key).count() == 0, "the key is shown only once"
    assert "never" not in page.locator("table.keys tbody tr").first.inner_text()
    page.locator("summary", has_text="Revoke").click()
    page.get_by_role("button", name=f"Yes, revoke {key[:11]}…").click()
    page.wait_for_url("**/settings/keys")
    assert "revoked" in page.locator("table.keys").inner_text()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "invalid API key" in out.stdout
