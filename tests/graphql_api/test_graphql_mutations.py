"""GraphQL mutations go through the REST write path: same validation, same stored rows."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.graphql_api.helpers import gql, gql_errors, log_rest, operation
from tests.harness import Server, Tenant

LOG_EVENT = """mutation($input: LogEventInput!) { logEvent(input: $input) {
    id input output sessionId userId metadata model tokensIn tokensOut latencyMs createdAt
    session { id eventCount } } }"""
LOG_EVENTS = "mutation($input: [LogEventInput!]!) { logEvents(input: $input) { id sessionId } }"
COLUMNS = "session_key, user_id, input, output, metadata, model, tokens_in, tokens_out, latency_ms"


def stored(server: Server, event_id: str) -> tuple[Any, ...]:
    """The stored columns of one event (metadata decoded for comparison)."""
    # CAST: SQLite stores UUIDs as text, PostgreSQL as uuid.
    sql = f"SELECT {COLUMNS} FROM events WHERE CAST(id AS TEXT) = ?"  # noqa: S608
    values = list(server.query(sql, event_id)[0])
    if isinstance(values[4], str):
        values[4] = json.loads(values[4])
    return tuple(values)


def test_log_event_stores_what_rest_stores(server: Server, tenant: Tenant) -> None:
    body = {
        "input": "What is 2+2?",
        "output": "4",
        "session_id": "math",
        "user_id": "student",
        "metadata": {"model": "gpt-4o", "tokens_in": 12, "tokensOut": 1, "latency_ms": 350.5},
    }
    rest = log_rest(server, tenant, **body)
    graph_input = {"input": body["input"], "output": body["output"], "sessionId": "math",
                   "userId": "student", "metadata": body["metadata"]}  # fmt: skip
    event = gql(server, tenant, LOG_EVENT, input=graph_input)["logEvent"]
    assert stored(server, event["id"]) == stored(server, rest["event_id"])
    assert event["model"] == "gpt-4o" and event["tokensIn"] == 12 and event["tokensOut"] == 1
    assert event["latencyMs"] == 350.5 and event["session"] == {"id": "math", "eventCount": 2}


def test_log_event_generates_a_session_and_is_idempotent(server: Server, tenant: Tenant) -> None:
    client_id = str(uuid.uuid4())
    first = gql(
        server, tenant, LOG_EVENT, input={"input": "a", "output": "b", "eventId": client_id}
    )
    again = gql(
        server, tenant, LOG_EVENT, input={"input": "a", "output": "b", "eventId": client_id}
    )
    assert first["logEvent"]["id"] == again["logEvent"]["id"] == client_id
    assert first["logEvent"]["sessionId"].startswith("sess_")
    assert len(server.event_rows(tenant.project_id)) == 1


def test_log_events_all_or_nothing_with_rest_messages(server: Server, tenant: Tenant) -> None:
    events = [{"input": f"q{n}", "output": "a", "sessionId": "batch"} for n in range(3)]
    logged = gql(server, tenant, LOG_EVENTS, input=events)["logEvents"]
    assert [e["sessionId"] for e in logged] == ["batch"] * 3
    rows = server.event_rows(tenant.project_id)
    assert [str(r[0]) for r in rows] == [e["id"] for e in logged]
    bad = [*events, {"input": "x", "output": "y", "metadata": {"tokens_in": -1}}]
    [message] = gql_errors(server, tenant, LOG_EVENTS, input=bad)
    assert "tokens_in" in message
    assert len(server.event_rows(tenant.project_id)) == 3


def test_add_feedback_matches_rest_and_checks_the_tenant(
    server: Server, tenant: Tenant, other_tenant: Tenant
) -> None:
    event_id = log_rest(server, tenant)["event_id"]
    data = gql(server, tenant, operation("add_feedback"), eventId=event_id, score=0,
               comment="wrong")["addFeedback"]  # fmt: skip
    assert data["eventId"] == event_id and data["score"] == 0 and data["comment"] == "wrong"
    rows = server.query("SELECT score, comment FROM feedback WHERE project_id = ?",
                        tenant.project_id)  # fmt: skip
    assert rows == [(0, "wrong")]
    assert gql_errors(server, other_tenant, operation("add_feedback"), eventId=event_id,
                      score=1) == ["event not found"]  # fmt: skip
    [message] = gql_errors(server, tenant, operation("add_feedback"), eventId=event_id, score=5)
    assert "score" in message
