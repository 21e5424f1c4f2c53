"""Every dashboard page at phone width (390 by 844) and desktop width (1440 by 900), light and dark,
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
from itertools import product
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
VIEWS = [("phone", PHONE), ("desktop", DESKTOP)]
LONG = "x" * 200  # an id of 200 characters without a space
SESSION = "session-" + "0123456789abcdef" * 12
USER = "end-user-" + "fedcba9876543210" * 12
TOPBAR_ONE_LINE = 64  # px: the bar's height when everything in it sits on one line

# One look at the page in the browser: how wide it scrolls, how tall the top bar is, and the
# visible boxes with a light background (sRGB luminance >= 0.2; primary and danger buttons are
# meant to stand out and are not asked, nor is GraphiQL, which has its own theme).
LOOK = """() => {
  const luminance = (css) => {
    const c = css.match(/[\\d.]+/g).map(Number);
    if (c.length === 4 && c[3] === 0) return 0;
    const lin = (v) => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  };
  const boxes = "body, .card, .table-scroll, .new-key, input:not([type=hidden]), " +
                "select, textarea, button:not(.primary, .danger), pre";
  const light = [...document.querySelectorAll(boxes)]
    .filter((el) => el.getClientRects().length && !el.closest(".graphiql-container"))
    .filter((el) => luminance(getComputedStyle(el).backgroundColor) >= 0.2)
    .map((el) => el.outerHTML.slice(0, 100));
  const bar = document.querySelector(".topbar").getBoundingClientRect().height;
  const page = luminance(getComputedStyle(document.body).backgroundColor);
  return { scroll: document.documentElement.scrollWidth, bar, light, page };
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
    javascript: bool = True,
) -> Iterator[Page]:
    """A tab of `viewport` and colour scheme, signed in with `cookie`, failing the test on any
    JavaScript error or CSP violation."""
    context: BrowserContext = browser.new_context(
        viewport=viewport,  # type: ignore[arg-type]
        color_scheme=scheme,  # type: ignore[arg-type]
        java_script_enabled=javascript,
    )
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
            ("/graphiql", "graphql"), ("/settings/keys", "keys"), ("/settings/project", "project"),
            ("/settings/alerts", "alerts")]  # fmt: skip


def shoot(page: Page, backend: str, name: str) -> None:
    """Save the view when PHOSPHO_SHOTS names a directory (only on SQLite: one set is enough)."""
    folder = os.environ.get("PHOSPHO_SHOTS")
    if folder and backend == "sqlite":
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def misfits(page: Page, width: int, name: str, dark: bool = False) -> list[str]:
    """What is wrong with the view: sideways scrolling, a top bar on more than one line and,
    in dark mode, a light box."""
    look = page.evaluate(LOOK)
    wrong = []
    if look["scroll"] > width:
        wrong.append(f"{name} scrolls sideways at {width}px: {look['scroll']}px wide")
    if look["bar"] > TOPBAR_ONE_LINE:
        wrong.append(f"{name}: the top bar wraps at {width}px ({look['bar']}px high)")
    if dark:
        wrong += [f"{name}: a light box in dark mode: {html}" for html in look["light"]]
    elif look["page"] < 0.5:
        wrong.append(f"{name}: a dark page in light mode")
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
    signed_out = [("/login", "login"), ("/signup", "signup"), ("/", "welcome")]
    logins = [(cookie, pages(event_id)), (None, signed_out)]
    for (device, viewport), (login, paths) in product(VIEWS, logins):
        with tab(browser, server, login, viewport, "light") as page:
            for path, name in paths:
                page.goto(server.base_url + path)
                for scheme in ["light", "dark"]:  # the same page, its media query switched
                    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
                    problems += misfits(page, viewport["width"], name, scheme == "dark")
                    shoot(page, server.backend, f"{device}-{scheme}-{name}")
                page.emulate_media(color_scheme="light")  # type: ignore[arg-type]
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
    with tab(browser, server, cookie, {"width": 1040, "height": 700}, "light") as page:
        page.goto(server.base_url + "/settings/alerts")  # about the narrowest with the links
        assert page.locator(".nav").is_visible()
        assert not misfits(page, 1040, "alerts at 1040 px")
    with tab(browser, server, cookie, PHONE, "light", javascript=False) as page:
        page.goto(server.base_url + "/settings/keys")  # the menu needs no JavaScript
        page.locator("details.menu > summary").click()
        page.get_by_role("link", name="Project").click()
        page.wait_for_url("**/settings/project")
        assert "Project" in page.locator("details.menu > summary").inner_text()
    with tab(browser, server, cookie, PHONE, "light") as page:
        page.goto(server.base_url + "/events")
        menu = page.locator("details.menu > summary")
        assert menu.is_visible() and "Events" in menu.inner_text(), "the menu names the page"
        assert not page.get_by_role("link", name="Alerts").is_visible(), "the menu starts closed"
        menu.click()
        current = page.locator(".menu-links a[aria-current=page]")
        assert current.inner_text() == "Events"
        shoot(page, server.backend, "phone-light-menu-open")
        page.get_by_role("link", name="Alerts").click()
        page.wait_for_url("**/settings/alerts")
        assert "Alerts" in page.locator("details.menu > summary").inner_text()
        page.locator("details.menu > summary").click()
        assert page.locator(".menu-links a[aria-current=page]").inner_text() == "Alerts"
        page.get_by_role("link", name="Users").click()
        page.wait_for_url("**/users")
        page.get_by_role("button", name="Log out").click()  # still in the bar at phone width
        page.wait_for_url(re.compile(r".*/login.*"))
