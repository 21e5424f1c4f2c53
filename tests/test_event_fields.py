"""The optional event fields `tags`, `status` and `error` (app/services/event_fields.py): stored
and returned the same over REST, batch and GraphQL, refused with a 422 naming the field."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.graphql_api.helpers import gql, live, log_rest
from tests.graphql_api.helpers import post as gql_post
from tests.harness import Server, Tenant

EVENT_FIELDS = "id tags status error"
BY_ID = f"query($id: ID!) {{ event(id: $id) {{ {EVENT_FIELDS} }} }}"
LOG_EVENT = f"mutation($input: LogEventInput!) {{ logEvent(input: $input) {{ {EVENT_FIELDS} }} }}"
LOG_EVENTS = (
    f"mutation($input: [LogEventInput!]!) {{ logEvents(input: $input) {{ {EVENT_FIELDS} }} }}"
)


def rest(server: Server, tenant: Tenant, path: str, body: Any) -> httpx.Response:
    """POST a JSON body to an ingest route as `tenant`."""
    return httpx.post(server.base_url + path, json=body, headers=tenant.headers, timeout=30)


def stored(server: Server, event_id: str) -> tuple[list[str], str | None, str | None]:
    """(tags in order, status, error) as the database holds them."""
    # CAST: SQLite stores UUIDs as text, PostgreSQL as uuid.
    tags = server.query(
        "SELECT tag FROM event_tags WHERE CAST(event_id AS TEXT) = ? ORDER BY id", event_id
    )
    [(status, error)] = server.query(
        "SELECT status, error FROM events WHERE CAST(id AS TEXT) = ?", event_id
    )
    return [tag for (tag,) in tags], status, error


def read_back(server: Server, tenant: Tenant, event_id: str) -> dict[str, Any]:
    """The event as GraphQL's `event(id:)` returns it."""
    event: dict[str, Any] = gql(server, tenant, BY_ID, id=event_id)["event"]
    return event


def test_rest_event_stores_and_returns_tags_status_and_error(
    server: Server, tenant: Tenant
) -> None:
    body = {"input": "q", "output": "", "tags": ["prod", "beta", "prod"], "error": "timeout"}
    response = rest(server, tenant, "/api/v1/events", body)
    assert response.status_code == 201, response.text
    event_id = response.json()["event_id"]
    # Repeats dropped in order; an error without a status means status "error".
    assert stored(server, event_id) == (["prod", "beta"], "error", "timeout")
    assert read_back(server, tenant, event_id) == {
        "id": event_id, "tags": ["prod", "beta"], "status": "ERROR", "error": "timeout"
    }  # fmt: skip


def test_events_without_the_fields_have_unknown_status_and_no_tags(
    server: Server, tenant: Tenant
) -> None:
    event_id = rest(server, tenant, "/api/v1/events", {"input": "q", "output": "a"}).json()
    assert stored(server, event_id["event_id"]) == ([], None, None)
    assert read_back(server, tenant, event_id["event_id"])["tags"] == []
    assert read_back(server, tenant, event_id["event_id"])["status"] is None


def test_batch_stores_each_events_fields(server: Server, tenant: Tenant) -> None:
    events = [
        {"input": "a", "output": "b", "tags": ["t1"], "status": "ok"},
        {"input": "a", "output": "b"},
        {"input": "a", "output": "b", "tags": [f"tag-{n}" for n in range(20)], "status": "error",
         "error": "e" * 4096},
    ]  # fmt: skip
    response = rest(server, tenant, "/api/v1/events/batch", {"events": events})
    assert response.status_code == 201, response.text
    ids = [item["event_id"] for item in response.json()["results"]]
    assert stored(server, ids[0]) == (["t1"], "ok", None)
    assert stored(server, ids[1]) == ([], None, None)
    assert stored(server, ids[2]) == ([f"tag-{n}" for n in range(20)], "error", "e" * 4096)


def test_graphql_log_event_and_log_events_take_the_fields(server: Server, tenant: Tenant) -> None:
    graph_input = {"input": "q", "output": "a", "tags": ["x", "y"], "status": "OK"}
    event = gql(server, tenant, LOG_EVENT, input=graph_input)["logEvent"]
    assert event == {"id": event["id"], "tags": ["x", "y"], "status": "OK", "error": None}
    assert stored(server, event["id"]) == (["x", "y"], "ok", None)
    batch = [{"input": "q", "output": "a", "error": "boom"}, {"input": "q", "output": "a"}]
    logged = gql(server, tenant, LOG_EVENTS, input=batch)["logEvents"]
    assert [(e["tags"], e["status"], e["error"]) for e in logged] == [
        ([], "ERROR", "boom"), ([], None, None)
    ]  # fmt: skip
    assert stored(server, logged[0]["id"]) == ([], "error", "boom")


def test_tags_are_another_projects_never(
    server: Server, tenant: Tenant, other_tenant: Tenant
) -> None:
    body = {"input": "q", "output": "a", "tags": ["secret"]}
    event_id = rest(server, tenant, "/api/v1/events", body).json()["event_id"]
    answer = gql_post(server, other_tenant, BY_ID, id=event_id).json()
    assert answer["data"] is None or answer["data"]["event"] is None


BAD_FIELDS = [
    pytest.param({"tags": [f"t{n}" for n in range(21)]}, ["body", "tags"], id="21-tags"),
    pytest.param({"tags": ["x" * 65]}, ["body", "tags", 0], id="65-char-tag"),
    pytest.param({"tags": [""]}, ["body", "tags", 0], id="empty-tag"),
    pytest.param({"tags": ["ok", 5]}, ["body", "tags", 1], id="non-string-tag"),
    pytest.param({"tags": "prod"}, ["body", "tags"], id="tags-not-a-list"),
    pytest.param({"status": "bad"}, ["body", "status"], id="status-bad"),
    pytest.param({"status": "ERROR"}, ["body", "status"], id="status-upper-case"),
    pytest.param({"status": "ok", "error": "e"}, ["body", "error"], id="ok-with-error"),
    pytest.param({"error": 5}, ["body", "error"], id="error-not-text"),
    pytest.param({"error": "e" * 4097}, ["body", "error"], id="error-too-long"),
]


@pytest.mark.parametrize(("fields", "loc"), BAD_FIELDS)
def test_bad_fields_are_422_naming_the_field_and_store_nothing(
    server: Server, tenant: Tenant, fields: dict[str, Any], loc: list[Any]
) -> None:
    response = rest(server, tenant, "/api/v1/events", {"input": "q", "output": "a", **fields})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == loc
    assert ".".join(map(str, loc)) in response.json()["detail"]
    batch = {"events": [{"input": "q", "output": "a"}, {"input": "q", "output": "a", **fields}]}
    response = rest(server, tenant, "/api/v1/events/batch", batch)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "events", 1, *loc[1:]]
    assert server.query("SELECT count(*) FROM events WHERE project_id = ?", tenant.project_id) == [
        (0,)
    ]


def test_graphql_refuses_what_rest_refuses(server: Server, tenant: Tenant) -> None:
    for graph_input, field in [
        ({"tags": ["x" * 65]}, "tags"),
        ({"status": "OK", "error": "e"}, "error"),
    ]:
        answer = gql_post(
            server, tenant, LOG_EVENT, input={"input": "q", "output": "a", **graph_input}
        )
        [error] = answer.json()["errors"]
        assert field in error["message"], error
    answer = gql_post(
        server, tenant, LOG_EVENT, input={"input": "q", "output": "a", "status": "BAD"}
    )
    assert answer.json()["errors"]
    assert server.query("SELECT count(*) FROM events WHERE project_id = ?", tenant.project_id) == [
        (0,)
    ]


def test_integral_float_tokens_are_integers_and_fractions_are_refused(
    server: Server, tenant: Tenant
) -> None:
    """The documentation types tokens as "number": 150.0 is 150, 150.5 a 422 naming the key,
    on REST and on GraphQL alike."""
    graph = "mutation($input: LogEventInput!) { logEvent(input: $input) { id tokensIn } }"
    body = {"input": "q", "output": "a", "metadata": {"tokens_in": 150.0}}
    event_id = rest(server, tenant, "/api/v1/events", body).json()["event_id"]
    assert gql(server, tenant, graph, input=body)["logEvent"]["tokensIn"] == 150
    assert server.query("SELECT tokens_in FROM events WHERE CAST(id AS TEXT) = ?", event_id) == [
        (150,)
    ]
    body["metadata"] = {"tokens_in": 150.5}
    response = rest(server, tenant, "/api/v1/events", body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "metadata", "tokens_in"]
    [error] = gql_post(server, tenant, graph, input=body).json()["errors"]
    assert "metadata.tokens_in" in error["message"]


FILTERED = """query($filter: EventFilter) { events(first: 100, filter: $filter) {
    totalCount edges { node { id tags status } } } }"""


def test_graphql_event_filter_by_tag_and_status(server: Server, tenant: Tenant) -> None:
    bodies = [
        {"input": "1", "output": "", "tags": ["prod", "eu"], "status": "ok"},
        {"input": "2", "output": "", "tags": ["prod"], "error": "timeout"},
        {"input": "3", "output": "", "tags": ["dev"], "status": "error"},
        {"input": "4", "output": ""},
    ]
    response = rest(server, tenant, "/api/v1/events/batch", {"events": bodies})
    ids = [item["event_id"] for item in response.json()["results"]]

    def listed(**f: Any) -> set[str]:
        page = gql(server, tenant, FILTERED, filter=f)["events"]
        assert page["totalCount"] == len(page["edges"])
        return {edge["node"]["id"] for edge in page["edges"]}

    assert listed(tag="prod") == {ids[0], ids[1]}
    assert listed(status="ERROR") == {ids[1], ids[2]}
    assert listed(status="OK") == {ids[0]}
    assert listed(tag="prod", status="ERROR") == {ids[1]}
    assert listed(tag="nope") == set()
    assert listed() == set(ids)


async def test_live_event_filter_by_tag_and_status(server: Server, tenant: Tenant) -> None:
    query = """subscription($tag: String, $status: EventStatus) {
        eventLogged(filter: {tag: $tag, status: $status}) { id tags status error } }"""
    async with live(server, tenant) as conn:
        await conn.subscribe(query, tag="prod", status="ERROR")
        await asyncio.sleep(0.2)  # let the subscription reach the bus
        for body in ({"tags": ["prod"], "status": "ok"}, {"tags": ["dev"], "error": "x"},
                     {"error": "x"}):  # fmt: skip
            await asyncio.to_thread(log_rest, server, tenant, **body)
        wanted = await asyncio.to_thread(log_rest, server, tenant, tags=["a", "prod"], error="e")
        got = (await conn.next_data())["eventLogged"]
        assert got == {"id": wanted["event_id"], "tags": ["a", "prod"], "status": "ERROR",
                       "error": "e"}  # fmt: skip
        await conn.nothing_for(0.3)
