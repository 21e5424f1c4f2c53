"""End-user erasure over the wire, on the shared servers (SQLite and PostgreSQL): the REST route
with odd user ids (slashes, Unicode, URL-significant characters, the longest id), its
refusals, idempotence and tenant isolation; GraphQL's `deleteEndUser`; `phospho users forget`
(refused on SQLite while a server holds the database, run when none does or on PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest

from tests.harness import REPO, Server, Tenant, make_server

COUNTS = ("events", "feedback", "event_tags", "sessions", "sessions_updated", "end_users",
          "user_rollups")  # fmt: skip
ZEROS = dict.fromkeys(COUNTS, 0)
ODD_IDS = ["plain", "a/b/c", "ü 🙂 ?#%&+=;", "/leading and trailing/", "x" * 256]


def seed(server: Server, tenant: Tenant, user_id: str, events: int = 2) -> list[str]:
    """`events` events of one end user (each in a session of its own, tagged), the first
    with feedback; their ids."""
    bodies = [
        {"input": "q", "output": "a", "user_id": user_id, "session_id": f"session-{n}",
         "tags": ["t"], "metadata": {"model": "gpt-4o", "tokens_in": 5, "latency_ms": 9.0}}
        for n in range(events)
    ]  # fmt: skip
    answer = httpx.post(
        server.base_url + "/api/v1/events/batch", json={"events": bodies}, headers=tenant.headers
    )
    assert answer.status_code == 201, answer.text
    ids = [result["event_id"] for result in answer.json()["results"]]
    url = f"{server.base_url}/api/v1/events/{ids[0]}/feedback"
    assert httpx.post(url, json={"score": 1}, headers=tenant.headers).status_code == 201
    return ids


def erase(server: Server, tenant: Tenant, raw_path: str) -> httpx.Response:
    """DELETE /api/v1/users/<raw_path> (already encoded as the caller wants it sent)."""
    return httpx.delete(server.base_url + "/api/v1/users/" + raw_path, headers=tenant.headers)


def rows_of(server: Server, project_id: int, user_id: str) -> dict[str, int]:
    """How many rows of each table name this end user of this project."""
    found = {}
    for table in ("events", "sessions", "end_users", "user_rollups"):
        sql = f"SELECT COUNT(*) FROM {table} WHERE project_id = ? AND user_id = ?"  # noqa: S608
        found[table] = int(server.query(sql, project_id, user_id)[0][0])
    return found


@pytest.mark.parametrize("user_id", ODD_IDS, ids=["plain", "slashes", "unicode", "edges", "256"])
def test_delete_erases_an_end_user_and_a_repeat_erases_nothing(
    server: Server, tenant: Tenant, user_id: str
) -> None:
    seed(server, tenant, user_id)
    erased = erase(server, tenant, quote(user_id, safe=""))
    assert erased.status_code == 200, erased.text
    # SQLite keeps the current hour's per-user counts in the end_users row until the hour is
    # folded; PostgreSQL writes the hour and day rows of user_rollups at once.
    per_user = 0 if server.backend == "sqlite" else 2
    assert erased.json() == {
        "user_id": user_id, **ZEROS, "events": 2, "feedback": 1, "event_tags": 2, "sessions": 2,
        "end_users": 1, "user_rollups": per_user,
    }  # fmt: skip
    assert rows_of(server, tenant.project_id, user_id) == dict.fromkeys(rows_of(server, 0, ""), 0)
    again = erase(server, tenant, quote(user_id, safe=""))
    assert (again.status_code, again.json()) == (200, {"user_id": user_id, **ZEROS})


def test_slashes_may_be_sent_as_they_are(server: Server, tenant: Tenant) -> None:
    seed(server, tenant, "org/team/alice", events=1)
    erased = erase(server, tenant, "org/team/alice")
    assert (erased.status_code, erased.json()["events"]) == (200, 1)


def test_a_key_erases_only_its_own_projects_user(
    server: Server, tenant: Tenant, other_tenant: Tenant
) -> None:
    seed(server, tenant, "same-id")
    seed(server, other_tenant, "same-id", events=3)
    assert erase(server, tenant, "same-id").json()["events"] == 2
    assert rows_of(server, other_tenant.project_id, "same-id")["events"] == 3
    mine = rows_of(server, tenant.project_id, "same-id")
    assert mine == dict.fromkeys(mine, 0)


@pytest.mark.parametrize(
    ("raw_path", "status"),
    [("", 422), ("x" * 257, 422), ("nul%00byte", 422), ("%C3%28", 200)],
    ids=["empty", "too-long", "nul", "bad-utf8-is-a-replacement-char"],
)
def test_bad_user_ids_are_refused_before_anything_is_deleted(
    server: Server, tenant: Tenant, raw_path: str, status: int
) -> None:
    answer = erase(server, tenant, raw_path)
    assert answer.status_code == status, answer.text
    if status == 422:
        assert answer.json()["errors"][0]["loc"] == ["path", "user_id"]


def test_no_key_or_a_revoked_key_erases_nothing(server: Server, tenant: Tenant) -> None:
    seed(server, tenant, "kept", events=1)
    anonymous = httpx.delete(server.base_url + "/api/v1/users/kept")
    assert anonymous.status_code == 401
    server.query("UPDATE api_keys SET revoked_at = created_at WHERE project_id = ?",
                 tenant.project_id)  # fmt: skip
    assert erase(server, tenant, "kept").status_code == 401
    assert rows_of(server, tenant.project_id, "kept")["events"] == 1


MUTATION = (REPO / "graphql" / "operations" / "delete_end_user.graphql").read_text()  # as published


def graphql(server: Server, tenant: Tenant, user_id: str) -> dict[str, Any]:
    body = {"query": MUTATION, "variables": {"userId": user_id}}
    answer = httpx.post(server.base_url + "/graphql", json=body, headers=tenant.headers)
    assert answer.status_code == 200
    result: dict[str, Any] = answer.json()
    return result


def test_graphql_delete_end_user(server: Server, tenant: Tenant) -> None:
    seed(server, tenant, "gql/ü")
    first = graphql(server, tenant, "gql/ü")["data"]["deleteEndUser"]
    assert (first["userId"], first["events"], first["feedback"], first["endUsers"]) == (
        "gql/ü", 2, 1, 1,
    )  # fmt: skip
    again = graphql(server, tenant, "gql/ü")["data"]["deleteEndUser"]
    assert again["events"] == again["endUsers"] == 0
    refused = graphql(server, tenant, "x" * 257)
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "invalid"


def test_cli_refuses_on_sqlite_while_the_server_runs(server: Server, tenant: Tenant) -> None:
    """On SQLite the running server is the only writer (and remembers the rollups it wrote):
    the CLI points at the server's ways in instead. On PostgreSQL it just runs."""
    name = server.query("SELECT name FROM projects WHERE id = ?", tenant.project_id)[0][0]
    seed(server, tenant, "cli-user", events=1)
    done = server.cli("users", "forget", "--project", name, "--user-id", "cli-user", check=False)
    if server.backend == "sqlite":
        assert done.returncode == 1
        assert "/api/v1/users/" in done.stderr and "dashboard" in done.stderr
        assert rows_of(server, tenant.project_id, "cli-user")["events"] == 1
    else:
        assert done.returncode == 0, done.stderr
        assert orjson.loads(done.stdout)["events"] == 1
        assert rows_of(server, tenant.project_id, "cli-user")["events"] == 0


def test_cli_erases_on_sqlite_once_the_server_is_stopped(tmp_path: Path) -> None:
    srv = make_server("sqlite", tmp_path)
    try:
        srv.start()
        tenant = srv.new_tenant("cli-project")
        seed(srv, tenant, "gone/ü")
        srv.stop()
        args = ("users", "forget", "--project", "cli-project", "--user-id", "gone/ü")
        done = srv.cli(*args)
        report = orjson.loads(done.stdout)
        assert (report["events"], report["feedback"], report["end_users"]) == (2, 1, 1)
        assert "erased end user 'gone/ü'" in done.stderr
        assert orjson.loads(srv.cli(*args).stdout)["events"] == 0  # a repeat: zeros
        assert rows_of(srv, tenant.project_id, "gone/ü")["events"] == 0
        unknown = srv.cli("users", "forget", "--project", "nope", "--user-id", "u", check=False)
        assert unknown.returncode == 1 and "project" in unknown.stderr
    finally:
        srv.destroy()
