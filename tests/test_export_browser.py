"""The events page's downloads in chromium (both databases): filter through the real form,
click the real "Download JSONL" / "Download CSV" links, and the files hold exactly the
filtered events of the signed-in user's project, as the database lists them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from app.services.export_sql import FIELDS
from tests import test_dashboard_browser as browser_tests
from tests.browser_session import signed_in_tab
from tests.harness import Server
from tests.test_dashboard_browser import browser  # noqa: F401  (fixture)
from tests.test_dashboard_overview import log_batch

pytestmark = browser_tests.pytestmark


@pytest.fixture
def signed_in(browser: Browser, server: Server) -> Iterator[tuple[Page, str]]:  # noqa: F811
    """A tab signed in to a fresh account, and a key of its project."""
    with signed_in_tab(browser, server) as signed:
        yield signed


def download(page: Page, link: str, tmp_path: Path) -> bytes:
    """Click a download link as a person does; the file the browser saved."""
    with page.expect_download() as info:
        page.get_by_role("link", name=link).click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    return saved.read_bytes()


def test_downloads_carry_the_current_filter(
    server: Server, signed_in: tuple[Page, str], tmp_path: Path
) -> None:
    page, key = signed_in
    ids = log_batch(server, key, [
        {"input": "bob, failing\n\"quoted\"", "user_id": "bob", "error": "timeout"},
        {"input": "bob, fine", "user_id": "bob", "status": "ok"},
        {"input": "carol, failing", "user_id": "carol", "status": "error"},
        {"input": "bob again 🙂, failing", "user_id": "bob", "status": "error",
         "metadata": {"k": [1, {"n": 2}]}},
    ])  # fmt: skip
    [(project_id,)] = server.query(
        "SELECT project_id FROM events WHERE CAST(id AS TEXT) = ?", ids[0]
    )
    page.goto(server.base_url + "/events")
    page.get_by_label("End user").fill("bob")
    page.get_by_label("Status").select_option("error")
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    expected = server.query(
        "SELECT CAST(id AS TEXT), input FROM events WHERE project_id = ? AND user_id = ? "
        "AND status = ? ORDER BY created_at, id",
        project_id, "bob", "error",
    )  # fmt: skip
    assert [row[0] for row in expected] == [ids[0], ids[3]]

    jsonl = download(page, "Download JSONL", tmp_path)
    rows = [json.loads(line) for line in jsonl.decode().splitlines()]
    assert [(row["event_id"], row["input"]) for row in rows] == [tuple(r) for r in expected]
    assert rows[1]["metadata"] == {"k": [1, {"n": 2}]}

    records = list(csv.reader(io.StringIO(download(page, "Download CSV", tmp_path).decode(),
                                          newline="")))  # fmt: skip
    assert records[0] == list(FIELDS)
    assert [(r[0], r[FIELDS.index("input")]) for r in records[1:]] == [tuple(r) for r in expected]

    # Cleared filters: the download lists every event of this project, and only those.
    page.get_by_role("link", name="Clear").click()
    page.wait_for_url(server.base_url + "/events")
    everything = [
        json.loads(line)["event_id"]
        for line in download(page, "Download JSONL", tmp_path).decode().splitlines()
    ]
    assert sorted(everything) == sorted(ids)
