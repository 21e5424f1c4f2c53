"""Every dashboard page at phone width (390×844) and desktop width (1440×900), light and dark,
in a real browser on both databases: no page scrolls sideways, the top bar stays one line,
dark mode has no white boxes, and the narrow menu works by clicking (no JavaScript needed).

The data is made to be awkward: ids, a model name and a text of long unbroken strings, an end
user, a session, an alert destination with a long URL and a rule (added through the alerts
form at phone width, as a person would). With PHOSPHO_SHOTS=<dir> every view is also saved
as a PNG there (for looking at, not for comparing)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from app.services.accounts import SESSION_COOKIE
from tests.harness import Server
from tests.test_dashboard_accounts import browser as http_client
from tests.test_dashboard_accounts import create_key, sign_up
from tests.test_dashboard_browser import browser  # noqa: F401 (the module's chromium)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
VIEWS = [("phone", PHONE, "light"), ("phone", PHONE, "dark"),
         ("desktop", DESKTOP, "light"), ("desktop", DESKTOP, "dark")]  # fmt: skip
LONG = "x" * 200  # an id of 200 characters without a space
SESSION = "session-" + "0123456789abcdef" * 12
USER = "end-user-" + "fedcba9876543210" * 12
TOPBAR_ONE_LINE = 64  # px: the bar's height when everything in it sits on one line

# Luminance of a computed CSS colour (sRGB, 0 black .. 1 white); "transparent" reads as None.
LUMINANCE = """(el) => {
  const c = getComputedStyle(el).backgroundColor.match(/[\\d.]+/g).map(Number);
  if (c.length === 4 && c[3] === 0) return null;
  const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
}"""


@pytest.fixture(scope="module")
def site(server: Server) -> Iterator[tuple[Server, str, str]]:
    """An account with awkward data: (server, login cookie, one event's id)."""
    with http_client(server) as client:
        sign_up(client)
        key = create_key(client)
        cookie = client.cookies[SESSION_COOKIE]
    auth = {"Authorization": f"Bearer {key}"}
    events = [
        {"input": "What is " + LONG + "?", "output": "https://example.com/" + LONG,
         "session_id": SESSION, "user_id": USER, "tags": ["tag-" + "y" * 40, "ok"],
         "metadata": {"model": "model-" + "z" * 120, "tokens_in": 1234567, "tokens_out": 89,
                      "latency_ms": 1234, "note": LONG}},
        {"input": "Short question", "output": "Short answer", "session_id": SESSION,
         "user_id": USER, "status": "error", "error": "Traceback: " + LONG},
    ]  # fmt: skip
    ids = []
    for body in events:
        answer = httpx.post(server.base_url + "/api/v1/events", headers=auth, json=body)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["event_id"])
    yield server, cookie, ids[0]


@contextmanager
def tab(
    browser: Browser,  # noqa: F811
    server: Server,
    cookie: str | None,
    viewport: dict[str, int],
    scheme: str,
) -> Iterator[Page]:
    """A tab of `viewport` and colour scheme, signed in with `cookie`, failing the test on any
    JavaScript error or CSP violation."""
    context: BrowserContext = browser.new_context(viewport=viewport, color_scheme=scheme)  # type: ignore[arg-type]
    if cookie:
        context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": server.base_url}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert not errors, f"JavaScript errors or CSP violations: {errors}"


def pages(event_id: str) -> list[tuple[str, str]]:
    """Every page of the signed-in dashboard, with the awkward data on it: (path, name)."""
    user = quote(USER)
    return [("/", "overview"), ("/events", "events"), (f"/events/{event_id}", "event"),
            (f"/events?session={quote(SESSION)}", "events-filtered"), ("/sessions", "sessions"),
            (f"/sessions/{quote(SESSION)}", "session"), ("/users", "users"),
            (f"/users/profile?user={user}", "user"), (f"/users/erase?user={user}", "user-erase"),
            ("/settings/keys", "keys"), ("/settings/project", "project"),
            ("/settings/alerts", "alerts")]  # fmt: skip


def shoot(page: Page, backend: str, name: str) -> None:
    """Save the view when PHOSPHO_SHOTS names a directory (only on SQLite: one set is enough)."""
    folder = os.environ.get("PHOSPHO_SHOTS")
    if folder and backend == "sqlite":
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def misfits(page: Page, width: int, path: str) -> list[str]:
    """What is wrong with the view: sideways scrolling, a top bar on more than one line."""
    page.wait_for_load_state("load")
    wrong = []
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        wrong.append(f"{path} scrolls sideways at {width}px: {scroll}px wide")
    bar = page.locator(".topbar").bounding_box()
    if not bar or bar["height"] > TOPBAR_ONE_LINE:
        wrong.append(f"{path}: the top bar wraps at {width}px ({bar})")
    return wrong


def light_boxes(page: Page, path: str) -> list[str]:
    """In dark mode, the page and every card, panel, table box, field and plain button on it
    are dark (a primary or danger button is meant to stand out)."""
    selectors = ("body, .card, .panel, .table-scroll, .new-key, input:not([type=hidden]), "
                 "select, textarea, button:not(.primary, .danger), pre")  # fmt: skip
    wrong = []
    for element in page.locator(selectors).all():
        luminance = element.evaluate(LUMINANCE) if element.is_visible() else None
        if luminance is not None and luminance >= 0.2:
            html = element.evaluate("e => e.outerHTML.slice(0, 100)")
            wrong.append(f"{path}: a light box in dark mode: {html}")
    return wrong


def add_alert_rule_by_hand(page: Page, server: Server) -> None:
    """A destination with a long URL and a rule, through the alerts form at phone width."""
    page.goto(server.base_url + "/settings/alerts")
    page.get_by_label("Destination name").fill("ops hook")
    # A public address literal: saving resolves the host (no DNS here); the rule never fires.
    page.get_by_label("URL").fill("https://192.0.43.10/hooks/" + LONG)
    page.get_by_role("button", name="Add destination").click()
    page.locator("#new-secret").wait_for()
    page.get_by_label("Rule name").fill("slow answers")
    page.get_by_label("Metric").select_option(index=0)
    page.get_by_label("Threshold").fill("1000000000")
    page.get_by_label("ops hook").check()
    page.get_by_role("button", name="Add rule").click()
    page.locator("table.alert-rules tr", has_text="slow answers").wait_for()


def test_every_page_fits_at_phone_and_desktop_width_light_and_dark(
    site: tuple[Server, str, str],
    browser: Browser,  # noqa: F811
) -> None:
    server, cookie, event_id = site
    with tab(browser, server, cookie, PHONE, "light") as page:
        add_alert_rule_by_hand(page, server)
        page.goto(server.base_url + "/settings/keys")
        page.get_by_label("Name").fill("phone-" + LONG[:100])
        page.get_by_role("button", name="Create API key").click()
        page.locator("#new-key").wait_for()  # the new key's box and its curl command
        problems = misfits(page, PHONE["width"], "/settings/keys (new key)")
        shoot(page, server.backend, "phone-light-keys-new")
    for device, viewport, scheme in VIEWS:
        signed_out = [("/login", "login"), ("/signup", "signup"), ("/", "welcome")]
        for login, paths in [(cookie, pages(event_id)), (None, signed_out)]:
            with tab(browser, server, login, viewport, scheme) as page:
                for path, name in paths:
                    page.goto(server.base_url + path)
                    problems += misfits(page, viewport["width"], name)
                    if scheme == "dark":
                        problems += light_boxes(page, name)
                    shoot(page, server.backend, f"{device}-{scheme}-{name}")
    assert not problems, "\n".join(problems)


def test_the_phone_menu_opens_by_click_and_marks_the_current_page(
    site: tuple[Server, str, str],
    browser: Browser,  # noqa: F811
) -> None:
    server, cookie, _ = site
    with tab(browser, server, cookie, DESKTOP, "light") as page:
        page.goto(server.base_url + "/users/profile?user=" + quote(USER))
        assert not page.locator("details.menu").is_visible(), "wide screens show the links"
        current = page.locator(".nav a[aria-current=page]")
        assert current.inner_text() == "Users", "a page under /users marks Users"
    with tab(browser, server, cookie, {"width": 900, "height": 700}, "light") as page:
        page.goto(server.base_url + "/settings/alerts")  # the narrowest width with the links
        assert page.locator(".nav").is_visible()
        assert not misfits(page, 900, "alerts at 900 px")
    with tab(browser, server, cookie, PHONE, "light") as page:
        page.goto(server.base_url + "/events")
        menu = page.locator("details.menu > summary")
        assert menu.is_visible() and "Events" in menu.inner_text(), "the menu names the page"
        assert not page.get_by_role("link", name="Alerts").is_visible(), "the menu starts closed"
        menu.click()
        current = page.locator(".menu-links a[aria-current=page]")
        assert current.inner_text() == "Events"
        page.get_by_role("link", name="Alerts").click()
        page.wait_for_url("**/settings/alerts")
        assert "Alerts" in page.locator("details.menu > summary").inner_text()
        page.locator("details.menu > summary").click()
        assert page.locator(".menu-links a[aria-current=page]").inner_text() == "Alerts"
        page.get_by_role("link", name="Users").click()
        page.wait_for_url("**/users")
        page.get_by_role("button", name="Log out").click()  # still in the bar at phone width
        page.wait_for_url(re.compile(r".*/login.*"))
