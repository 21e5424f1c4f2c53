"""GraphQL fuzzing: schemathesis (hypothesis-graphql) writes queries and mutations from
graphql/schema.graphql, with arguments of every shape the schema allows, and a real server
answers them. No answer may be a server error: no 5xx, nothing but a JSON object, no error
masked as "Unexpected error." (code `internal`) and no `unavailable` (the PostgreSQL answer to
a NUL character before the input rules applied to GraphQL). Client errors (bad cursors, unknown
events, costs above the limit) are answers, not failures.

Cases are derandomized so that CI sees the same ones every run (~10 s a backend); set
PHOSPHO_FUZZ_RANDOM=1 to explore new ones.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case

from tests.graphql_api.helpers import feedback_rest, log_rest
from tests.harness import REPO, Server, Tenant, start_server

SCHEMA = schemathesis.graphql.from_path(REPO / "graphql" / "schema.graphql")
CASES = 330  # 11 root fields, ~30 each
# Masked faults, and "retry later" for input that no retry can store (an unloaded server
# has no reason to be unavailable).
SERVER_CODES = {"internal", "unavailable"}


def server_errors(status: int, content_type: str, text: str, body: Any) -> list[str]:
    """What is wrong with an answer, as a server error; [] for a proper (even failed) one."""
    if status >= 500:
        return [f"HTTP {status}: {text[:300]}"]
    if not content_type.startswith("application/json") or not isinstance(body, dict):
        return [f"not a JSON object (HTTP {status}): {text[:300]}"]
    return [
        f"server error: {error}"
        for error in body.get("errors") or ()
        if error.get("message") == "Unexpected error."
        or (error.get("extensions") or {}).get("code") in SERVER_CODES
    ]


def fuzz(server: Server, tenant: Tenant, cases: int, schema: Any = SCHEMA) -> tuple[int, list[str]]:
    """Send `cases` generated operations; how many were sent and the server errors found."""
    sent: list[Case] = []
    problems: list[str] = []

    @settings(
        max_examples=cases,
        deadline=None,
        database=None,
        derandomize=not os.environ.get("PHOSPHO_FUZZ_RANDOM"),
        phases=[Phase.generate],  # keep every problem rather than stop and shrink the first
        suppress_health_check=list(HealthCheck),
    )
    @given(case=schema.as_strategy())
    def run(case: Case) -> None:
        sent.append(case)
        response = case.call(base_url=server.base_url + "/graphql", headers=tenant.headers)
        try:
            body = response.json()
        except ValueError:
            body = None
        kind = (response.headers.get("content-type") or [""])[0]  # header values are lists
        found = server_errors(response.status_code, kind, response.text, body)
        problems.extend(f"{case.body}: {problem}" for problem in found)

    run()
    return len(sent), problems


def seed(server: Server, tenant: Tenant) -> None:
    """A few events, sessions, users, models and feedback, so resolvers have data to follow."""
    for n in range(6):
        metadata = {"model": f"m{n % 2}", "tokens_in": 10, "tokens_out": 5, "latency_ms": 12.5}
        event = log_rest(server, tenant, session_id=f"s{n % 3}", user_id=f"u{n % 2}",
                         metadata=metadata)  # fmt: skip
        feedback_rest(server, tenant, event["event_id"], n % 2, comment="ok" if n else "")


def test_generated_operations_get_no_server_error(server: Server) -> None:
    tenant = server.new_tenant()
    seed(server, tenant)
    sent, problems = fuzz(server, tenant, CASES)
    assert sent >= 300
    assert not problems, "\n".join(problems[:20])


def test_the_fuzz_check_finds_the_errors_of_a_broken_server(backend: str, tmp_path: Path) -> None:
    """Negative control: with a table gone, fuzzing the fields that read it finds errors."""
    srv = start_server(backend, tmp_path)
    try:
        tenant = srv.new_tenant()
        seed(srv, tenant)
        srv.query("ALTER TABLE sessions RENAME TO sessions_elsewhere")
        sessions = SCHEMA.include(name_regex=r"^Query\.sessions?$")
        sent, problems = fuzz(srv, tenant, 30, sessions)
        assert sent == 30 and problems
        assert all("Unexpected error." in problem for problem in problems)
    finally:
        srv.destroy()
