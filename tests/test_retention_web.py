"""Settings → Project's retention form: owners set a project's window (empty: the server's
default, 0: forever) with friendly refusals of bad values; members read it and are refused
by the server, whatever the page shows. Over HTTP on both databases (the shared servers), and
once in a real browser."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser

from tests.browser_session import signed_in_tab
from tests.harness import Server
from tests.test_dashboard_accounts import browser as http_client
from tests.test_dashboard_accounts import csrf_of, sign_up
from tests.test_dashboard_browser import browser  # noqa: F401 (the module's chromium)
from tests.test_dashboard_roles import (
    Project,
    post_form,
    project,  # noqa: F401 (an owner's project with a member)
)


@pytest.fixture
def owned(project: Project) -> Project:  # noqa: F811 (tests/test_dashboard_roles.py's fixture)
    """An owner's project with a member, both signed in."""
    return project


def stored(p: Project) -> object:
    return p.server.query("SELECT retention_days FROM projects WHERE id = ?", p.id)[0][0]


def set_days(client: httpx.Client, p: Project, value: str) -> httpx.Response:
    return post_form(client, f"/projects/{p.id}/retention", retention_days=value)


def test_the_owner_sets_the_window_and_clears_it(owned: Project) -> None:
    assert set_days(owned.owner, owned, " 30 ").status_code == 303
    assert stored(owned) == 30
    assert (
        "Events are kept: 30 days (this project&#39;s setting)."
        in owned.owner.get("/settings/project").text
    )
    assert set_days(owned.owner, owned, "0").status_code == 303
    assert stored(owned) == 0
    assert set_days(owned.owner, owned, "").status_code == 303
    assert stored(owned) is None
    page = owned.owner.get("/settings/project").text
    assert "Events are kept: forever (the server&#39;s default)." in page


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-3", "cannot be negative"),
        ("thirty", "enter a whole number of days"),
        ("1.5", "enter a whole number of days"),
        ("36501", "at most 36500 days"),
        ("9" * 400, "at most 36500 days"),
        ("\u0663", "enter a whole number of days"),  # an Arabic-Indic digit
    ],
)
def test_bad_values_are_refused_with_a_reason(owned: Project, value: str, message: str) -> None:
    assert set_days(owned.owner, owned, "7").status_code == 303
    answer = set_days(owned.owner, owned, value)
    assert answer.status_code == 422
    assert message in answer.text and 'role="alert"' in answer.text
    assert stored(owned) == 7  # unchanged


def test_a_member_reads_it_and_is_refused_by_the_server(owned: Project) -> None:
    assert set_days(owned.owner, owned, "12").status_code == 303
    page = owned.member.get("/settings/project").text
    assert "Events are kept: 12 days" in page
    assert '/retention"' not in page and "Only the project's owner changes this." in page
    answer = set_days(owned.member, owned, "1")  # the form posted by hand
    assert answer.status_code == 403
    assert "only the project&#39;s owner can change how long" in answer.text
    assert stored(owned) == 12


def test_no_csrf_token_or_someone_elses_project_changes_nothing(owned: Project) -> None:
    assert set_days(owned.owner, owned, "5").status_code == 303
    forged = owned.owner.post(f"/projects/{owned.id}/retention", data={"retention_days": "1"})
    assert forged.status_code == 403
    with http_client(owned.server) as stranger:
        sign_up(stranger)
        token = csrf_of(stranger.get("/settings/project").text)
        answer = stranger.post(
            f"/projects/{owned.id}/retention",
            data={"csrf_token": token, "retention_days": "1"},
        )
        assert answer.status_code == 404
    assert stored(owned) == 5


def test_in_a_browser_the_owner_saves_and_a_demoted_owner_is_refused(
    server: Server,
    browser: Browser,  # noqa: F811
) -> None:
    if server.backend != "sqlite":
        pytest.skip("the browser flow runs once, on the SQLite server")
    with signed_in_tab(browser, server) as (tab, _):
        tab.goto(server.base_url + "/")
        tab.get_by_role("link", name="Project").click()
        field = tab.get_by_label("Days of events to keep")
        field.fill("-1")
        tab.get_by_role("button", name="Save retention").click()
        assert "cannot be negative" in tab.get_by_role("alert").inner_text()
        tab.get_by_label("Days of events to keep").fill("14")
        tab.get_by_role("button", name="Save retention").click()
        tab.wait_for_url("**/settings/project")
        assert "14 days (this project's setting)" in tab.locator("#retention-now").inner_text()
        assert tab.get_by_label("Days of events to keep").input_value() == "14"
        project_id = int(tab.locator("#project-id").input_value())
        # The form is on the page; the account is now only a member: the server refuses.
        server.query("UPDATE memberships SET role = 'member' WHERE project_id = ?", project_id)
        tab.get_by_label("Days of events to keep").fill("1")
        tab.get_by_role("button", name="Save retention").click()
        assert "only the project's owner can" in tab.get_by_role("alert").inner_text()
        assert "14 days" in tab.locator("#retention-now").inner_text()
        assert tab.get_by_role("button", name="Save retention").count() == 0
    stored_days = server.query("SELECT retention_days FROM projects WHERE id = ?", project_id)
    assert stored_days == [(14,)]
