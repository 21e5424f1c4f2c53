"""What GraphQL errors leave in the server's log: one line per client error, a traceback per
server fault (before: a traceback for every error with an exception behind it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.graphql_api.helpers import post
from tests.harness import Server, Tenant, start_server

UNKNOWN_EVENT = "00000000-0000-0000-0000-000000000000"
CLIENT_ERRORS: list[tuple[str, dict[str, object], str]] = [
    ("{ events(first: 5 { id } }", {}, "invalid_query"),  # syntax
    ("{ nope }", {}, "invalid_query"),  # validation
    ('{ events(filter: {search: "a\\u0000b"}) { totalCount } }', {}, "invalid_query"),
    ("query($n: Int) { events(first: $n) { totalCount } }", {"n": "ten"}, "invalid_variables"),
    ('{ events(after: "x") { totalCount } }', {}, "invalid"),  # our Invalid
    (
        "mutation($id: ID!) { addFeedback(input: {eventId: $id, score: 1}) { id } }",
        {"id": UNKNOWN_EVENT},
        "not_found",
    ),
    (
        "{ a: events(first: 100) { edges { node { session { "
        "events(first: 100) { edges { node { id } } } } } } }"
        " b: events(first: 100) { edges { node { session { "
        "events(first: 100) { edges { node { id } } } } } } } }",
        {},
        "query_too_costly",
    ),
]


@pytest.fixture
def own_server(backend: str, tmp_path: Path) -> Iterator[tuple[Server, Tenant]]:
    """A server of this test's own, whose log and tables it may inspect and break."""
    srv = start_server(backend, tmp_path)
    try:
        yield srv, srv.new_tenant()
    finally:
        srv.destroy()


def new_log(srv: Server, since: int) -> list[str]:
    """The server's log lines written after offset `since`."""
    return srv.log()[since:].splitlines()


def test_client_errors_log_one_line_each_and_no_traceback(
    own_server: tuple[Server, Tenant],
) -> None:
    srv, tenant = own_server
    since = len(srv.log())
    for query, variables, code in CLIENT_ERRORS:
        body = post(srv, tenant, query, **variables).json()
        assert [error["extensions"]["code"] for error in body["errors"]] == [code], body
    lines = new_log(srv, since)
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    logged = [line for line in lines if "graphql client error" in line]
    assert len(logged) == len(CLIENT_ERRORS), "\n".join(lines)


def test_server_faults_keep_their_traceback(own_server: tuple[Server, Tenant]) -> None:
    srv, tenant = own_server
    srv.query("ALTER TABLE sessions RENAME TO sessions_elsewhere")  # the database breaks
    try:
        since = len(srv.log())
        [error] = post(srv, tenant, "{ sessions { totalCount } }").json()["errors"]
    finally:
        srv.query("ALTER TABLE sessions_elsewhere RENAME TO sessions")
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "internal"}
    lines = new_log(srv, since)
    assert any("graphql server error" in line for line in lines), "\n".join(lines)
    assert any("Traceback" in line for line in lines), "\n".join(lines)
    assert not any("graphql client error" in line for line in lines)
