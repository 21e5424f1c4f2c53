"""Settings → Alerts as a person uses it, in Debian's chromium on SQLite and PostgreSQL: add a
destination (its secret shown once), add a rule sending to it, pause and resume it, delete
both; refused input said on the page and nothing stored. Each step checked in the database.
(Sending a test message is tests/test_alerts_server.py's, with a receiver.)"""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests import test_dashboard_browser as browser_tests
from tests.browser_forms import logged_in, one
from tests.harness import Server
from tests.test_dashboard_browser import browser  # noqa: F401  (fixture)

pytestmark = browser_tests.pytestmark
PUBLIC_URL = "https://93.184.215.14/phospho-alerts"  # a public address: nothing is sent here


def destinations(server: Server, project_id: int) -> list[tuple[str, str, str]]:
    """The project's destinations (name, kind, url) in the database."""
    rows = server.query(
        "SELECT name, kind, url FROM alert_destinations WHERE project_id = ? ORDER BY id",
        project_id,
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def rules(server: Server, project_id: int) -> list[tuple[object, ...]]:
    """The project's rules as stored: name, metric, model, window, comparison, threshold,
    enabled, and the names of the destinations they send to."""
    found = []
    for rule_id, *fields in server.query(
        "SELECT id, name, metric, model, window_seconds, comparison, threshold, enabled "
        "FROM alert_rules WHERE project_id = ? ORDER BY id",
        project_id,
    ):
        sends_to = server.query(
            "SELECT d.name FROM alert_rule_destinations t JOIN alert_destinations d "
            "ON d.id = t.destination_id WHERE t.rule_id = ?",
            rule_id,
        )
        fields[-1] = bool(fields[-1])  # SQLite's 1/0
        found.append((*fields, [name for (name,) in sends_to]))
    return found


def add_destination(page: Page, name: str, kind: str, url: str) -> None:
    """Fill and send the destination form."""
    page.get_by_label("Destination name").fill(name)
    page.get_by_label("Kind").select_option(label=kind)
    page.get_by_label("URL").fill(url)
    page.get_by_role("button", name="Add destination").click()
    page.wait_for_load_state()


def test_destinations_and_rules_from_the_forms(browser: Browser, server: Server) -> None:  # noqa: F811
    with logged_in(browser, server) as (page, account):
        project = account.project_id
        page.goto(server.base_url + "/settings/alerts")
        add_destination(page, "on-call", "Slack-compatible (text)", PUBLIC_URL)
        assert destinations(server, project) == [("on-call", "slack", PUBLIC_URL)]
        secret = page.locator("code", has_text=re.compile(r"^whsec_")).inner_text()
        stored = "SELECT secret FROM alert_destinations WHERE project_id = ?"
        assert one(server, stored, project) == secret, "the secret shown is the one that signs"
        page.goto(server.base_url + "/settings/alerts")
        assert secret not in page.content(), "shown once only"

        add_destination(page, "internal", "Webhook (signed JSON)", "http://127.0.0.1:9/hook")
        expect(page.get_by_role("alert")).to_contain_text("PHOSPHO_WEBHOOK_ALLOW_PRIVATE")
        assert len(destinations(server, project)) == 1, "refused: nothing stored"

        page.get_by_label("Rule name").fill("slow answers")
        page.get_by_label("Metric").select_option(label="latency p95 (ms)")
        page.get_by_label("Model (optional)").fill("gpt-4o")
        page.get_by_label("Window").select_option(label="1h")
        page.get_by_label("Comparison").select_option(label=">=")
        page.get_by_label("Threshold").fill("2500")
        page.get_by_role("group", name="Send to").get_by_label("on-call").check()
        page.get_by_role("button", name="Add rule").click()
        page.wait_for_url("**/settings/alerts")
        expected = ("slow answers", "latency_p95", "gpt-4o", 3600, "gte", 2500.0, True)
        assert rules(server, project) == [(*expected, ["on-call"])]
        row = page.get_by_role("row").filter(has_text="slow answers")
        expect(row).to_contain_text("latency p95 (ms) of gpt-4o over 1h >= 2500")

        page.get_by_label("Rule name").fill("bad threshold")
        page.get_by_label("Threshold").fill("a lot")
        page.get_by_role("button", name="Add rule").click()
        expect(page.get_by_role("alert")).to_be_visible()
        assert len(rules(server, project)) == 1, "refused: nothing stored"

        page.goto(server.base_url + "/settings/alerts")
        page.get_by_role("button", name="Pause slow answers").click()
        page.wait_for_url("**/settings/alerts")
        assert rules(server, project)[0][6] is False
        expect(page.get_by_role("row").filter(has_text="slow answers")).to_contain_text("paused")
        page.get_by_role("button", name="Resume slow answers").click()
        page.wait_for_url("**/settings/alerts")
        assert rules(server, project)[0][6] is True

        delete(page, "slow answers")
        assert rules(server, project) == []
        delete(page, "on-call")
        assert destinations(server, project) == []
        expect(page.get_by_text("No destination yet.")).to_be_visible()
        expect(page.get_by_text("No alert rule yet.")).to_be_visible()


def delete(page: Page, name: str) -> None:
    """Open a row's Delete and confirm it."""
    row = page.get_by_role("row").filter(has_text=name)
    row.get_by_text("Delete", exact=True).click()
    row.get_by_role("button", name=f"Yes, delete {name}").click()
    page.wait_for_url("**/settings/alerts")
