"""The cost limit: how operations are estimated, and refusals before anything runs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLObjectType, get_nullable_type, is_list_type, parse
from graphql.utilities import get_introspection_query

from app.schema.cost import (
    DEFAULT_PAGE,
    LIST_ESTIMATES,
    Cost,
    estimate,
    introspection_limit,
)
from app.schema.schema import build_schema
from app.settings import Settings
from tests.graphql_api.helpers import (
    AMPLIFICATION,
    OPERATIONS,
    gql,
    live,
    log_rest,
    operation,
    post,
)
from tests.harness import Server, Tenant, start_server

SCHEMA = build_schema()._schema
BUDGET = Settings().graphql_max_cost
# Variables that make each documented operation as large as it can be.
LARGEST = {
    "latest_events": {"first": 100},
    "negative_feedback_since": {"first": 100, "since": "2026-01-01T00:00:00Z"},
    "session_replay": {"first": 100, "id": "s"},
    "metrics": {
        "since": "2026-01-01T00:00:00Z",
        "until": "2026-01-01T16:40:00Z",
        "bucket": "MINUTE",
        "groupBy": "MODEL",
    },
}


def cost(query: str, **variables: Any) -> Cost:
    """The estimate of a document's only operation."""
    return estimate(SCHEMA, parse(query), None, variables)


def test_the_budget_fits_every_documented_operation_at_its_largest() -> None:
    costs = {
        path.stem: cost(path.read_text(), **LARGEST.get(path.stem, {})).objects
        for path in OPERATIONS.glob("*.graphql")
    }
    assert max(costs.values()) <= BUDGET, costs
    # The largest is the metrics operation (21 series of 1,000 points): what the default buys.
    assert costs["metrics"] > 21_000 and costs["session_replay"] == 303, costs


def test_the_amplification_query_is_far_above_the_budget() -> None:
    assert len(AMPLIFICATION) < 2_000
    assert cost(AMPLIFICATION).objects == 15 * (1 + 100 * (1 + 1 + 1 + 1 + 100 * 2))
    assert cost(AMPLIFICATION).objects > 10 * BUDGET


def test_pages_multiply_through_nesting() -> None:
    flat = cost("{ events(first: 10) { totalCount edges { cursor node { id input } } } }")
    assert flat.objects == 1 + 10 * 2  # the connection, then edge + node per item
    nested = cost(
        "{ events(first: 10) { edges { node { session { events(first: 7) "
        "{ edges { node { id latestFeedback { score } } } } } } } } }"
    )
    assert nested.objects == 1 + 10 * (2 + 1 + 1 + 7 * 3)


@pytest.mark.parametrize(
    ("argument", "variables", "page"),
    [
        ("", {}, DEFAULT_PAGE),
        ("(first: null)", {}, DEFAULT_PAGE),
        ("(first: 1000)", {}, 100),
        ("(first: 0)", {}, 1),
        ("(first: $n)", {"n": 7}, 7),
        ("(first: $n)", {"n": "lots"}, 100),  # refused by coercion later: counted at most
        ("(first: $n)", {}, 3),  # the variable's default
    ],
)
def test_first_comes_from_literals_variables_and_defaults(
    argument: str, variables: dict[str, Any], page: int
) -> None:
    query = f"query($n: Int = 3) {{ events{argument} {{ edges {{ node {{ id }} }} }} }}"
    if "$n" not in argument:
        query = query.replace("($n: Int = 3)", "")
    assert cost(query, **variables).objects == 1 + page * 2


def test_fragments_count_wherever_they_are_spread() -> None:
    direct = cost("{ events(first: 5) { edges { node { session { id } } } } }")
    spread = cost(
        "{ events(first: 5) { ...Page } } "
        "fragment Page on EventConnection { edges { node { ... on Event { session { id } } } } }"
    )
    twice = cost(
        "{ a: events(first: 5) { ...Page } b: events(first: 5) { ...Page } } "
        "fragment Page on EventConnection { edges { node { session { id } } } }"
    )
    assert spread == direct and twice.objects == 2 * direct.objects


def test_nested_fragment_spreads_are_estimated_quickly() -> None:
    # Each fragment spreads the next twice: 2^40 spreads if expanded naively.
    fragments = " ".join(
        f"fragment F{n} on Event {{ session {{ id }} ...F{n + 1} ...F{n + 1} }}" for n in range(40)
    )
    query = "{ events(first: 1) { edges { node { ...F0 } } } } " + fragments
    query += " fragment F40 on Event { id }"
    began = time.perf_counter()
    found = cost(query)
    assert time.perf_counter() - began < 0.5
    assert found.objects > 2**40


def test_introspection_is_bounded_by_its_own_limit() -> None:
    full = cost(get_introspection_query(descriptions=True, specified_by_url=True, one_of=True))
    assert full.objects == 0 and 0 < full.introspection <= introspection_limit(SCHEMA)
    nested = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    assert cost(nested).introspection > introspection_limit(SCHEMA)


def test_every_list_field_has_a_documented_estimate() -> None:
    """A new list field must say how long it can be (LIST_ESTIMATES), or be a page."""
    for kind in SCHEMA.type_map.values():
        if not isinstance(kind, GraphQLObjectType) or kind.name.startswith("__"):
            continue
        for name, field in kind.fields.items():
            if not is_list_type(get_nullable_type(field.type)):
                continue
            page = kind.name.endswith("Connection") and name == "edges"
            assert page or (kind.name, name) in LIST_ESTIMATES, f"{kind.name}.{name}"


def test_a_costly_query_is_refused_naming_the_limit_and_the_estimate(
    server: Server, tenant: Tenant
) -> None:
    log_rest(server, tenant, session_id="s")
    body = post(server, tenant, AMPLIFICATION).json()
    assert body["data"] is None
    [error] = body["errors"]
    expected = cost(AMPLIFICATION).objects
    assert error["extensions"]["code"] == "query_too_costly"
    assert error["extensions"]["errors"] == [{"limit": BUDGET, "estimate": expected}]
    assert "PHOSPHO_GRAPHQL_MAX_COST" in error["message"]
    assert str(BUDGET) in error["message"] and str(expected) in error["message"]


def test_documented_operations_at_their_largest_run(server: Server, tenant: Tenant) -> None:
    log_rest(server, tenant, session_id="s", metadata={"model": "m"})
    for name, variables in LARGEST.items():
        gql(server, tenant, operation(name), **variables)
    full = get_introspection_query(descriptions=True, specified_by_url=True, one_of=True)
    assert gql(server, tenant, full)["__schema"]["queryType"]["name"] == "Query"


def test_the_budget_is_a_setting(backend: str, tmp_path: Path) -> None:
    srv = start_server(backend, tmp_path, PHOSPHO_GRAPHQL_MAX_COST="100")
    try:
        tenant = srv.new_tenant()
        small = "{ events(first: 10) { edges { node { id } } } }"  # 21
        assert gql(srv, tenant, small)["events"]["edges"] == []
        [error] = post(srv, tenant, operation("latest_events")).json()["errors"]  # 152
        assert error["extensions"] == {
            "code": "query_too_costly",
            "errors": [{"limit": 100, "estimate": 152}],
        }
    finally:
        srv.destroy()


def test_a_metrics_window_is_costed_at_its_bound() -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    variables = {"since": since.isoformat(), "until": (since + timedelta(hours=1)).isoformat()}
    # The estimate does not read the window: a metrics answer is counted at its largest.
    assert cost(operation("metrics"), **variables) == cost(operation("metrics"))


async def test_a_costly_subscription_is_refused(server: Server, tenant: Tenant) -> None:
    costly = (
        "subscription { eventLogged { session { a: events(first: 100) { edges { node { session "
        "{ events(first: 100) { edges { node { id } } } } } } } "
        "b: events(first: 100) { edges { node { session { events(first: 100) "
        "{ edges { node { id } } } } } } } } } }"
    )
    async with live(server, tenant) as conn:
        await conn.subscribe(costly)
        message = await conn.receive()
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "query_too_costly", message
