"""Text search in a real `phospho serve` (one per database): every way in indexes an event in
its own commit (searchable as soon as it is acknowledged), every way out removes it, a 1 MB
input is stored whole and searched up to the cap, and a live subscription with a search
admits exactly what the stored list returns."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.services.search import CAP
from tests.graphql_api.helpers import gql, live, log_rest
from tests.harness import BACKENDS, Server, Tenant, serving
from tests.otlp import otlp_build

SEARCH = (
    "query($q: String!) { events(first: 100, filter: {search: $q}) "
    "{ edges { node { id input } } } }"
)


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server per backend whose retention sweeper runs every 0.3 s (2-day window)."""
    backend = str(request.param)
    directory = Path(tmp_path_factory.mktemp(f"search-serve-{backend}"))
    with serving(
        backend, directory, PHOSPHO_RETENTION_DAYS="2", PHOSPHO_RETENTION_SWEEP_SECONDS="0.3"
    ) as srv:
        yield srv


def word() -> str:
    """A word no other event has."""
    return "w" + secrets.token_hex(6)


def found(server: Server, tenant: Tenant, query: str) -> list[str]:
    """The ids of the tenant's events a GraphQL search lists, newest first."""
    data = gql(server, tenant, SEARCH, q=query)
    return [edge["node"]["id"] for edge in data["events"]["edges"]]


def test_every_ingest_path_is_searchable_once_acknowledged(server: Server) -> None:
    """REST single and batch, GraphQL logEvent and OTLP: the index is written in the same
    transaction as the event, so the search finds it as soon as the answer comes back."""
    tenant = server.new_tenant()
    single = word()
    event = log_rest(server, tenant, input=f"about {single} today")
    assert found(server, tenant, single) == [event["event_id"]]

    batch = word()
    body = {"events": [{"input": "q", "output": f"{batch}-{n}"} for n in range(3)]}
    response = httpx.post(server.base_url + "/api/v1/events/batch", json=body,
                          headers=tenant.headers, timeout=10)  # fmt: skip
    assert response.status_code == 201, response.text
    ids = [item["event_id"] for item in response.json()["results"]]
    assert sorted(found(server, tenant, batch)) == sorted(ids)

    mutation = word()
    logged = gql(server, tenant, 'mutation($i: String!) { logEvent(input: {input: $i, '
                 'output: "o"}) { id } }', i=mutation.upper())  # fmt: skip
    assert found(server, tenant, mutation) == [logged["logEvent"]["id"]]

    span_word = word()
    messages = f'[{{"role":"user","parts":[{{"type":"text","content":"{span_word} please"}}]}}]'
    span = otlp_build.chat(**{"gen_ai.input.messages": messages})
    response = httpx.post(
        server.base_url + "/v1/traces", content=otlp_build.export([span]),
        headers={**tenant.headers, "Content-Type": "application/x-protobuf"}, timeout=10,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert len(found(server, tenant, span_word)) == 1


def test_a_1mb_input_is_stored_whole_and_searched_up_to_the_cap(server: Server) -> None:
    """The indexed text is capped (PostgreSQL refuses a tsvector of 1 MB or more), the event
    is not: it is stored whole; a word in the first CAP characters is found, one past them
    is not (documented)."""
    tenant = server.new_tenant()
    early, late = word(), word()
    text = f"{early} " + "x" * (CAP + 10) + f" {late} " + "y" * (1_000_000 - CAP)
    event = log_rest(server, tenant, input=text, output=f"{early} tail")
    [(length,)] = server.query("SELECT length(input) FROM events WHERE project_id = ?",
                               tenant.project_id)  # fmt: skip
    assert length == len(text) >= 1_000_000
    assert found(server, tenant, early) == [event["event_id"]]
    assert found(server, tenant, late) == []


def age(server: Server, event_id: str, days: float) -> None:
    """Move a stored event `days` into the past, as if logged then."""
    when = datetime.now(UTC) - timedelta(days=days)
    value: Any = when.isoformat(" ") if server.backend == "sqlite" else when
    server.query("UPDATE events SET created_at = ? WHERE id = ?", value, event_id)


def index_entries(server: Server, project_id: int) -> int:
    """SQLite: the index's keys of the project's events (PostgreSQL's index is on the rows)."""
    rows = server.query(
        "SELECT COUNT(*) FROM event_search_ids m JOIN events e ON e.id = m.event_id "
        "WHERE e.project_id = ?", project_id,
    ) if server.backend == "sqlite" else [(None,)]  # fmt: skip
    return rows[0][0] if rows[0][0] is not None else -1


def test_erasure_and_retention_remove_index_entries(server: Server) -> None:
    """After an end user's erasure and a retention sweep, the search no longer finds their
    events; on SQLite the key map holds exactly the events left, and the FTS5 index passes
    its integrity check."""
    tenant = server.new_tenant()
    shared = word()
    erased = log_rest(server, tenant, input=f"{shared} one", user_id="gone")
    expired = log_rest(server, tenant, input=f"{shared} two", user_id="kept")
    kept = log_rest(server, tenant, input=f"{shared} three", user_id="kept")
    assert len(found(server, tenant, shared)) == 3

    response = httpx.delete(server.base_url + "/api/v1/users/gone", headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert erased["event_id"] not in found(server, tenant, shared)

    age(server, expired["event_id"], 3)  # past the server's 2 days
    deadline = time.monotonic() + 15
    while expired["event_id"] in found(server, tenant, shared):
        assert time.monotonic() < deadline, "the sweeper did not get there in time"
        time.sleep(0.1)
    assert found(server, tenant, shared) == [kept["event_id"]]
    if server.backend == "sqlite":
        total = server.query("SELECT COUNT(*) FROM events")[0][0]
        assert server.query("SELECT COUNT(*) FROM event_search_ids")[0][0] == total
        server.query("INSERT INTO event_search (event_search) VALUES ('integrity-check')")


LIVE = "subscription($q: String!) { eventLogged(filter: {search: $q}) { id } }"


async def test_a_live_search_admits_what_the_stored_list_returns(server: Server) -> None:
    """A subscription with a search receives exactly the events that the stored list's
    search returns, among a mix of matching and non-matching ones."""
    tenant = server.new_tenant()
    texts = [("GPT-4o mini answers", ""), ("gpt 4", "o no"), ("4o first then gpt", "x"),
             ("nothing here", "gpt-4o in the output"), ("gpt4o", "one word"),
             ("no", "match")]  # fmt: skip
    async with live(server, tenant) as conn:
        await conn.subscribe(LIVE, q="gpt 4o")
        await asyncio.sleep(0.3)  # let the subscription reach the bus
        for i, o in texts:
            await asyncio.to_thread(log_rest, server, tenant, input=i, output=o)
        stored = await asyncio.to_thread(found, server, tenant, "gpt 4o")
        got = [(await conn.next_data())["eventLogged"]["id"] for _ in stored]
        await conn.nothing_for(0.5)
    assert len(stored) == 3  # GPT-4o mini, "4o first then gpt", "gpt-4o in the output"
    assert sorted(got) == sorted(stored)
