"""One input contract: what REST refuses, GraphQL refuses too, whichever way a value arrives
(a variable in the JSON body, or a literal in the document), never a 500 or a stored null.

Over HTTP the body is parsed as REST parses it: a refusal is REST's 4xx JSON (`detail`,
`code`, `errors`) before anything runs. In the document or in a mutation's input, it is a
GraphQL error typed by `extensions.code`. Nothing refused is stored.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.graphql_api.helpers import post
from tests.harness import Server, Tenant

LOG_EVENT = "mutation($input: LogEventInput!) { logEvent(input: $input) { id } }"


def raw_post(server: Server, tenant: Tenant, body: bytes) -> httpx.Response:
    """POST raw bytes to /graphql as JSON."""
    headers = {**tenant.headers, "Content-Type": "application/json"}
    return httpx.post(server.base_url + "/graphql", content=body, headers=headers, timeout=30)


def rest_post(server: Server, tenant: Tenant, body: bytes) -> httpx.Response:
    """POST raw bytes to the REST event route."""
    headers = {**tenant.headers, "Content-Type": "application/json"}
    return httpx.post(server.base_url + "/api/v1/events", content=body, headers=headers)


def variables_body(event: str) -> bytes:
    """A logEvent request whose $input is the JSON text `event`."""
    return b'{"query": "%s", "variables": {"input": %s}}' % (LOG_EVENT.encode(), event.encode())


def literal_error(server: Server, tenant: Tenant, event: str) -> dict[str, Any]:
    """The only error of a logEvent whose input is written in the document."""
    query = f"mutation {{ logEvent(input: {event}) {{ id }} }}"
    body = post(server, tenant, query).json()
    assert body["data"] is None, body
    [error] = body["errors"]
    return dict(error)


def nothing_stored(server: Server, tenant: Tenant) -> bool:
    """Whether the tenant has no events."""
    return server.event_rows(tenant.project_id) == []


@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        ('{"input": "a\\u0000b", "output": "x"}', 422, "invalid"),
        ('{"input": "a", "output": "x", "metadata": {"k\\u0000": 1}}', 422, "invalid"),
        ('{"input": "a", "output": "x", "metadata": {"v": NaN}}', 422, "invalid"),
        ('{"input": "a", "output": "x", "metadata": {"v": 1e400}}', 422, "invalid"),
        ('{"input": "\\ud800", "output": "x"}', 422, "invalid"),
        ('{"input": "a", "output": "x", "metadata": ' + "[" * 40 + "]" * 40 + "}", 422, "invalid"),
    ],
    ids=["nul", "nul-key", "nan", "infinity", "lone-surrogate", "too-deep"],
)
def test_variables_obey_the_rest_rules(
    server: Server, tenant: Tenant, event: str, status: int, code: str
) -> None:
    rest = rest_post(server, tenant, event.encode())
    graph = raw_post(server, tenant, variables_body(event))
    assert (rest.status_code, rest.json()["code"]) == (status, code), rest.text
    assert (graph.status_code, graph.json()["code"]) == (status, code), graph.text
    assert nothing_stored(server, tenant)


def test_metadata_at_the_rest_depth_limit_is_accepted_by_both(
    server: Server, tenant: Tenant
) -> None:
    # body (1) > metadata (2) > 30 nested lists: exactly MAX_JSON_DEPTH (32) levels.
    event = '{"input": "a", "output": "x", "metadata": {"v": ' + "[" * 30 + "]" * 30 + "}}"
    assert rest_post(server, tenant, event.encode()).status_code == 201
    assert raw_post(server, tenant, variables_body(event)).json()["data"]["logEvent"]["id"]
    assert len(server.event_rows(tenant.project_id)) == 2


def test_integers_beyond_64_bits_in_variables_are_refused(server: Server, tenant: Tenant) -> None:
    event = '{"input": "a", "output": "x", "metadata": {"n": 1180591620717411303424}}'  # 2^70
    assert rest_post(server, tenant, event.encode()).status_code in (400, 422)
    assert raw_post(server, tenant, variables_body(event)).status_code in (400, 422)
    assert nothing_stored(server, tenant)


def test_deeply_nested_variables_get_a_clear_422(server: Server, tenant: Tenant) -> None:
    deep = "[" * 3000 + "]" * 3000  # a stack overflow (HTTP 500) before
    answer = raw_post(server, tenant, b'{"query": "{ project { name } }", "variables": {"v": %s}}'
                      % deep.encode())  # fmt: skip
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["type"] == "too_deep"
    rest = rest_post(
        server, tenant, b'{"input": "a", "output": "x", "metadata": %s}' % deep.encode()
    )
    assert rest.status_code == 422 and rest.json()["errors"][0]["type"] == "too_deep"


@pytest.mark.parametrize(
    "body",
    [b"[]", b'"query"', b"17", b"null", b"", b"{", b'{"query": "{ project { name } }"'],
    ids=["list", "string", "number", "null", "empty", "brace", "unclosed"],
)
def test_bodies_that_are_not_a_json_object_get_a_clear_400(
    server: Server, tenant: Tenant, body: bytes
) -> None:
    answer = raw_post(server, tenant, body)
    assert answer.status_code == 400 and answer.json()["code"] == "malformed_body", answer.text


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ('{input: "a\\u0000b", output: "x"}', "NUL"),
        ('{input: "a", output: "x", metadata: {v: 1e400}}', "1e400 is not a finite number"),
        ('{input: "a", output: "x", metadata: {n: 1180591620717411303424}}', "64"),
        ('{input: "a", output: "x", metadata: {n: -1180591620717411303424}}', "64"),
    ],
    ids=["nul", "infinity", "2^70", "-2^70"],
)
def test_literals_obey_the_same_rules(
    server: Server, tenant: Tenant, event: str, message: str
) -> None:
    error = literal_error(server, tenant, event)
    assert error["extensions"]["code"] == "invalid_query" and message in error["message"]
    assert error["locations"], error  # where in the document
    assert nothing_stored(server, tenant)


def test_lone_surrogates_in_literals_are_syntax_errors(server: Server, tenant: Tenant) -> None:
    error = literal_error(server, tenant, '{input: "\\ud800", output: "x"}')
    assert error["extensions"]["code"] == "invalid_query" and "Unicode" in error["message"]


def test_mutation_inputs_are_walked_by_the_rest_rules(server: Server, tenant: Tenant) -> None:
    deep = "{a: " * 40 + "1" + "}" * 40  # within the token limit, deeper than REST allows
    error = literal_error(server, tenant, f'{{input: "a", output: "x", metadata: {deep}}}')
    assert error["extensions"]["code"] == "invalid"
    [detail] = error["extensions"]["errors"]
    assert detail["type"] == "too_deep" and detail["loc"][-3:] == ["a", "a", "a"]
    assert nothing_stored(server, tenant)


def test_our_errors_are_typed_with_their_details(server: Server, tenant: Tenant) -> None:
    events = [{"input": "q", "output": "a", "metadata": {"tokens_in": -1}}]
    query = "mutation($input: [LogEventInput!]!) { logEvents(input: $input) { id } }"
    [error] = post(server, tenant, query, input=events).json()["errors"]
    assert error["extensions"]["code"] == "invalid"
    [detail] = error["extensions"]["errors"]
    assert detail["loc"][-2:] == ["metadata", "tokens_in"] and "tokens_in" in error["message"]
    assert json.dumps(error).count("Traceback") == 0
