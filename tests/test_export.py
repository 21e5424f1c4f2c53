"""`GET /api/v1/events/export` against real servers (SQLite and PostgreSQL): JSONL that logs
again into another project with the same input, output and metadata; CSV that Python's `csv`
reads back to the same values; the events list's filters; clear 4xx answers; one project only.
The oracle is the database (ids, order, filters) and what the test itself logged."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pytest

from app.services.export_sql import FIELDS, SERVER_FIELDS
from tests.harness import Server, Tenant

EXPORT = "/api/v1/events/export"
NASTY: list[dict[str, Any]] = [
    {
        "input": 'line one\nline two, "quoted", comma\r\n\ttab',
        "output": "unicode: é ß 中文 🙂 𝄞 \u2028 \u200b",
        "session_id": "s-a",
        "user_id": "alice",
        "metadata": {
            "model": "gpt-4o-mini", "tokens_in": 12, "tokens_out": 3,
            "latency_ms": 412.33333333333331,
            "big": 9223372036854775807, "small": -9223372036854775808, "float": 0.1,
            "nested": {"list": [1, "two", None, True, {"deep": ["x", {"y": "=1+2"}]}]},
            "quote\"key": "back\\slash", "emoji 🙂": "", "unicode": "𝄞",
        },
        "tags": ["zeta", "alpha"],
    },
    {"input": "=HYPERLINK(\"http://x\")", "output": "+1", "session_id": "s-a", "user_id": "alice",
     "status": "ok", "metadata": {"model": "claude-3-5-haiku-20241022"}},
    {"input": "-2", "output": "@sum", "session_id": "s-b", "user_id": "bob", "error": "timeout",
     "tags": ["prod"]},
    {"input": "", "output": "", "session_id": "s-b"},
    {"input": "needle in here", "output": "x", "user_id": "bob", "status": "error",
     "metadata": {"model": "gpt-4o-mini", "tokens_in": 1, "tokens_out": 1}},
]  # fmt: skip


def log(server: Server, tenant: Tenant, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Log a batch; its results (event_id, session_id, created_at)."""
    url = server.base_url + "/api/v1/events/batch"
    response = httpx.post(url, json={"events": events}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def export(server: Server, tenant: Tenant, **params: str) -> httpx.Response:
    """The export answer (read whole)."""
    return httpx.get(server.base_url + EXPORT, params=params, headers=tenant.headers, timeout=30)


def lines(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSONL body's objects (every line ends with a newline)."""
    assert response.status_code == 200, response.text
    assert response.text.endswith("\n") or response.text == ""
    return [json.loads(line) for line in response.text.splitlines()]


def stored_ids(server: Server, project_id: int, where: str = "1 = 1", *params: Any) -> list[str]:
    """The project's event ids matching `where`, oldest first, from the database."""
    rows = server.query(
        f"SELECT CAST(id AS TEXT) FROM events WHERE project_id = ? AND {where} "  # noqa: S608
        "ORDER BY created_at, id",
        project_id, *params,
    )  # fmt: skip
    return [str(row[0]) for row in rows]


def feedback(server: Server, tenant: Tenant, event_id: str, score: int, comment: str) -> None:
    url = f"{server.base_url}/api/v1/events/{event_id}/feedback"
    body = {"score": score, "comment": comment}
    assert httpx.post(url, json=body, headers=tenant.headers).status_code == 201


@pytest.fixture(scope="module")
def source(server: Server) -> tuple[Tenant, list[dict[str, Any]]]:
    """A project with the nasty events (in two batches, so times differ) and feedback on the
    first: a thumbs down, then a thumbs up with a comment (the latest counts)."""
    tenant = server.new_tenant()
    results = log(server, tenant, NASTY[:3]) + log(server, tenant, NASTY[3:])
    feedback(server, tenant, results[0]["event_id"], 0, "first")
    feedback(server, tenant, results[0]["event_id"], 1, 'better, "really"\nyes')
    feedback(server, tenant, results[2]["event_id"], 0, "")
    return tenant, results


def test_jsonl_round_trips_into_another_project(
    server: Server, source: tuple[Tenant, list[dict[str, Any]]]
) -> None:
    tenant, results = source
    response = export(server, tenant, format="jsonl")
    assert response.headers["content-type"] == "application/x-ndjson"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="phospho-events-')
    assert disposition.endswith('.jsonl"')
    rows = lines(response)
    assert [row["event_id"] for row in rows] == stored_ids(server, tenant.project_id)
    assert [list(row) for row in rows] == [list(FIELDS)] * len(NASTY)
    by_id = {row["event_id"]: row for row in rows}
    for sent, result in zip(NASTY, results, strict=True):
        row = by_id[result["event_id"]]
        assert (row["input"], row["output"], row["metadata"]) == (
            sent["input"], sent["output"], sent.get("metadata")
        )  # fmt: skip
        assert row["created_at"] == result["created_at"]
        assert row["session_id"] == result["session_id"]
        assert row["tags"] == sent.get("tags", [])
    first = by_id[results[0]["event_id"]]
    assert (first["feedback_score"], first["feedback_comment"]) == (1, 'better, "really"\nyes')
    assert (first["model"], first["tokens_in"], first["tokens_out"]) == ("gpt-4o-mini", 12, 3)
    assert first["latency_ms"] == NASTY[0]["metadata"]["latency_ms"]
    assert isinstance(first["cost_usd"], float) and first["cost_usd"] > 0
    third = by_id[results[2]["event_id"]]
    assert (third["status"], third["error"], third["feedback_score"]) == ("error", "timeout", 0)

    # Log the lines again, less the server's fields, into another project.
    target = server.new_tenant()
    replay = [{k: v for k, v in row.items() if k not in SERVER_FIELDS} for row in rows]
    log(server, target, replay)
    again = lines(export(server, target))
    kept = ("input", "output", "metadata", "session_id", "user_id", "tags", "status", "error")
    assert [{k: row[k] for k in kept} for row in again] == [
        {k: row[k] for k in kept} for row in rows
    ]


def test_csv_reads_back_to_the_same_values(
    server: Server, source: tuple[Tenant, list[dict[str, Any]]]
) -> None:
    tenant, _ = source
    response = export(server, tenant, format="csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].endswith('.csv"')
    records = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
    assert records[0] == list(FIELDS)
    as_json = lines(export(server, tenant, format="jsonl"))
    assert len(records) - 1 == len(as_json) == len(NASTY)
    for record, row in zip(records[1:], as_json, strict=True):
        cell = dict(zip(FIELDS, record, strict=True))
        assert cell["event_id"] == row["event_id"] and cell["created_at"] == row["created_at"]
        # Text verbatim: newlines, quotes, commas, unicode, and formula-like cells alike.
        assert (cell["input"], cell["output"]) == (row["input"], row["output"])
        assert (json.loads(cell["metadata"]) if cell["metadata"] else None) == row["metadata"]
        assert json.loads(cell["tags"]) == row["tags"]
        assert cell["user_id"] == (row["user_id"] or "")
        assert cell["latency_ms"] == ("" if row["latency_ms"] is None else cell["latency_ms"])
        if row["latency_ms"] is not None:
            assert float(cell["latency_ms"]) == row["latency_ms"]
        if row["cost_usd"] is not None:
            assert float(cell["cost_usd"]) == row["cost_usd"]
        assert cell["feedback_comment"] == (row["feedback_comment"] or "")
    assert records[2][FIELDS.index("input")] == NASTY[1]["input"]  # "=HYPERLINK(...)" verbatim


FILTERS: list[tuple[dict[str, str], str, tuple[Any, ...]]] = [
    ({"session_id": "s-a"}, "session_key = ?", ("s-a",)),
    ({"user_id": "bob"}, "user_id = ?", ("bob",)),
    ({"model": "gpt-4o-mini"}, "model = ?", ("gpt-4o-mini",)),
    ({"status": "error"}, "status = ?", ("error",)),
    ({"tag": "prod"}, "id IN (SELECT event_id FROM event_tags WHERE tag = ?)", ("prod",)),
    ({"q": "NEEDLE"}, "input LIKE ?", ("%needle%",)),
    ({"feedback": "positive"}, "id IN (SELECT event_id FROM feedback WHERE score = 1)", ()),
    ({"feedback": "negative"}, "id IN (SELECT event_id FROM feedback WHERE comment = '')", ()),
    ({"feedback": "none"}, "id NOT IN (SELECT event_id FROM feedback)", ()),
    ({"user_id": "alice", "model": "", "q": "", "tag": ""}, "user_id = ?", ("alice",)),
]


@pytest.mark.parametrize(("params", "where", "args"), FILTERS, ids=lambda v: str(v)[:40])
def test_filters_select_what_the_database_holds(
    server: Server,
    source: tuple[Tenant, list[dict[str, Any]]],
    params: dict[str, str],
    where: str,
    args: tuple[Any, ...],
) -> None:
    tenant, _ = source
    expected = stored_ids(server, tenant.project_id, where, *args)
    assert expected, "a filter that selects nothing proves nothing"
    assert [row["event_id"] for row in lines(export(server, tenant, **params))] == expected


def test_time_window_since_inclusive_until_exclusive(
    server: Server, source: tuple[Tenant, list[dict[str, Any]]]
) -> None:
    tenant, results = source
    second_batch = results[3]["created_at"]
    later = stored_ids(server, tenant.project_id, "created_at >= (SELECT created_at FROM events "
                       "WHERE CAST(id AS TEXT) = ?)", results[3]["event_id"])  # fmt: skip
    assert [r["event_id"] for r in lines(export(server, tenant, since=second_batch))] == later
    earlier = [r["event_id"] for r in lines(export(server, tenant, until=second_batch))]
    assert earlier == [r["event_id"] for r in results[:3]] and len(later) == 2


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"format": "xml"}, 422, "format must be jsonl or csv"),
        ({"since": "yesterday"}, 422, "since must be a date and time"),
        ({"until": "2026-13-01"}, 422, "until must be a date and time"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, 422, "since must not be later"),
        ({"feedback": "maybe"}, 422, "feedback must be positive, negative or none"),
        ({"status": "fine"}, 422, "status must be ok or error"),
        ({"session_id": "a\x00b"}, 422, "NUL"),
        ({"tag": "t" * 65}, 422, "tag"),
    ],
)
def test_bad_parameters_get_a_clear_4xx(
    server: Server, tenant: Tenant, params: dict[str, str], status: int, says: str
) -> None:
    response = export(server, tenant, **params)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert says in response.json()["detail"]


def test_keys_see_their_own_project_only(
    server: Server, source: tuple[Tenant, list[dict[str, Any]]], other_tenant: Tenant
) -> None:
    mine = log(server, other_tenant, [{"input": "other project", "output": "o"}])
    rows = lines(export(server, other_tenant))
    assert [row["event_id"] for row in rows] == [mine[0]["event_id"]]
    theirs = {row["event_id"] for row in lines(export(server, source[0]))}
    assert mine[0]["event_id"] not in theirs and len(theirs) == len(NASTY)
    # The other project's session or user id as a filter finds nothing of theirs.
    assert lines(export(server, other_tenant, session_id="s-a")) == []
    missing = httpx.get(server.base_url + EXPORT)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    wrong = httpx.get(server.base_url + EXPORT, headers={"Authorization": "Bearer ph_nope"})
    assert wrong.status_code == 401
    # The dashboard's download takes a login, never a key: without one, the login page.
    page = httpx.get(server.base_url + "/events/export", headers=other_tenant.headers)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
