"""In-process checks that need to look inside the server: SQL query counts (the N+1 pin) and
the release of live-bus subscriptions when WebSocket clients go away."""

from __future__ import annotations

import gc
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation

from app.db import reader
from app.factory import create_app
from app.live import EventLogged, LiveBus
from app.schema.loaders import Loaders
from app.schema.shared_execution import SharedEventExecutor, next_frame, shared_data_text
from app.services import reads
from app.services.keys import create_api_key
from app.services.projects import get_or_create_project
from app.services.reads_budget import ReadBudget
from app.settings import Settings

HOT_QUERY = """{ events(first: 50) { edges { node { id input createdAt status error tags
    feedback { score comment } latestFeedback { score } session { id eventCount } } } } }"""


def sqlite_settings(tmp: Path) -> Settings:
    """Settings of a throwaway embedded server."""
    return Settings(data_dir=tmp, database_url=f"sqlite://{tmp / 'phospho.sqlite3'}")


@pytest.fixture
async def app_and_key(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, str]]:
    """A started app (lifespan running) with one project and key."""
    app = create_app(sqlite_settings(tmp_path))
    async with app.router.lifespan_context(app):
        project = await get_or_create_project("n-plus-one")
        created = await create_api_key(project.id)
        yield app, created.secret


class QueryCounter:
    """Counts statements sent through the read connection's client class."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        """A method that records its SQL before running it."""

        async def counted(client: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
            self.statements.append(sql)
            return await original(client, sql, *args, **kwargs)

        return counted


async def test_hot_event_query_costs_one_statement_per_relation(
    app_and_key: tuple[FastAPI, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, secret = app_and_key
    headers = {"Authorization": f"Bearer {secret}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        body = {"events": [{"input": f"q{n}", "output": "a", "session_id": f"s{n % 7}",
                            "tags": [f"t{n % 3}", "all"], "status": "ok"}
                           for n in range(60)]}  # fmt: skip
        assert (await client.post("/api/v1/events/batch", json=body, headers=headers)).is_success
        newest = {"query": "{ events(first: 1) { edges { node { id } } } }"}
        page = (await client.post("/graphql", json=newest, headers=headers)).json()
        first_id = page["data"]["events"]["edges"][0]["node"]["id"]
        feedback = {"score": 1, "comment": "ok"}
        await client.post(f"/api/v1/events/{first_id}/feedback", json=feedback, headers=headers)

        counter = QueryCounter()
        cls = type(reader())
        for name in ("execute_query", "execute_query_dict"):
            monkeypatch.setattr(cls, name, counter.wrap(getattr(cls, name)))
        response = await client.post("/graphql", json={"query": HOT_QUERY}, headers=headers)
    data = response.json()
    assert "errors" not in data, data
    assert len(data["data"]["events"]["edges"]) == 50
    assert all(len(edge["node"]["tags"]) == 2 for edge in data["data"]["events"]["edges"])
    # The key was just used (cached): one statement for the page, one per relation
    # (feedback, session, tags).
    assert len(counter.statements) == 4, counter.statements


def wait_for(condition: Callable[[], bool], seconds: float = 5) -> bool:
    """Poll until `condition()` holds or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def test_client(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    """A TestClient (its own event loop thread) running the app, and a key."""
    app = create_app(sqlite_settings(tmp_path))
    with TestClient(app) as client:

        async def make_key() -> str:
            project = await get_or_create_project("ws-release")
            return (await create_api_key(project.id)).secret

        yield client, client.portal.call(make_key)


def test_closed_websockets_release_their_bus_subscriptions(
    test_client: tuple[TestClient, str],
) -> None:
    client, secret = test_client
    bus = client.app.state.live
    for _ in range(5):
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {secret}"}}
            )
            assert ws.receive_json()["type"] == "connection_ack"
            for op in ("1", "2"):
                query = "subscription { eventLogged { id } }"
                ws.send_json({"id": op, "type": "subscribe", "payload": {"query": query}})
            assert wait_for(lambda: bus.subscriber_count() == 2)
        assert wait_for(lambda: bus.subscriber_count() == 0)


def test_a_subscriber_that_fell_behind_is_told_to_resync(
    test_client: tuple[TestClient, str],
) -> None:
    client, secret = test_client
    bus = client.app.state.live
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {secret}"}})
        assert ws.receive_json()["type"] == "connection_ack"
        query = "subscription { eventLogged { id } }"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
        assert wait_for(lambda: bus.subscriber_count() == 1)
        project_id = next(iter(bus.project_ids()))
        now = datetime.now(UTC)
        burst = [EventLogged(project_id, uuid.uuid4(), "s", None, None, now) for _ in range(1500)]
        client.portal.call(lambda: _publish(bus, burst))
        message = ws.receive_json()
    assert message["type"] in ("next", "error"), message
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert "fell behind" in errors[0]["message"]


async def _publish(bus: LiveBus, messages: list[EventLogged]) -> None:
    bus.publish(messages)  # in one go, on the server's loop: the queue (1000) overflows


def test_identical_subscriptions_execute_and_read_each_event_once(
    test_client: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three connections with the same subscription: one read of the event, one execution of
    its selection (app/schema/shared_execution.py), three identical answers; a fourth with
    another selection executes its own."""
    client, secret = test_client
    bus = client.app.state.live
    executions: list[str] = []
    original = StrawberryGraphQLCoreExecutionContext.execute_operation

    def counted(executor: Any, serially: bool | None = None) -> Any:
        executions.append(type(executor.root_value).__name__)
        return original(executor, serially)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_operation", counted)
    same = "subscription { eventLogged { id input feedback { score } } }"
    queries = [same, same, same, "subscription { eventLogged { id output } }"]
    with ExitStack() as stack:
        sockets = []
        for query in queries:
            ws = stack.enter_context(
                client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"])
            )
            ws.send_json(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {secret}"}}
            )
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
            sockets.append(ws)
        assert wait_for(lambda: bus.subscriber_count() == 4)
        headers = {"Authorization": f"Bearer {secret}"}
        posted = client.post("/api/v1/events", json={"input": "q", "output": "a"}, headers=headers)
        assert posted.status_code == 201
        got = [ws.receive_json()["payload"]["data"]["eventLogged"] for ws in sockets]
    event_id = posted.json()["event_id"]
    assert got[:3] == [{"id": event_id, "input": "q", "feedback": []}] * 3
    assert got[3] == {"id": event_id, "output": "a"}
    assert executions.count("Event") == 2  # one per distinct subscription, not per subscriber
    assert bus.shared("events", _never).batches == 1  # one read for the four


async def _never(keys: list[Any]) -> dict[Any, Any]:
    raise AssertionError("the shared loads exist already")


def _subscribed(client: TestClient, stack: ExitStack, secret: str, op_id: str, query: str) -> Any:
    """A graphql-transport-ws connection with one subscription `op_id` started."""
    ws = stack.enter_context(
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"])
    )
    ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {secret}"}})
    assert ws.receive_json()["type"] == "connection_ack"
    ws.send_json({"id": op_id, "type": "subscribe", "payload": {"query": query}})
    return ws


def test_each_subscriber_gets_the_shared_frame_under_its_own_operation_id(
    test_client: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Identical subscriptions share one encoded `data` (app/schema/live_socket.py), written
    straight to each socket: each frame is the graphql-transport-ws `next` message of that
    subscriber's own operation id, nothing more, and Strawberry's per-result path is not run."""
    client, secret = test_client
    sent_by_strawberry: list[str] = []
    original = Operation.send_next

    async def counted(operation: Any, result: Any) -> None:
        sent_by_strawberry.append(operation.id)
        await original(operation, result)

    monkeypatch.setattr(Operation, "send_next", counted)
    query = "subscription { eventLogged { id input } }"
    ids = ["1", 'op "two" \\ é', "3"]
    with ExitStack() as stack:
        sockets = [_subscribed(client, stack, secret, op_id, query) for op_id in ids]
        assert wait_for(lambda: client.app.state.live.subscriber_count() == 3)
        headers = {"Authorization": f"Bearer {secret}"}
        posted = client.post(
            "/api/v1/events", json={"input": "q é", "output": "a"}, headers=headers
        )
        frames = [json.loads(ws.receive_text()) for ws in sockets]
    data = {"eventLogged": {"id": posted.json()["event_id"], "input": "q é"}}
    assert frames == [{"id": op_id, "type": "next", "payload": {"data": data}} for op_id in ids]
    assert sent_by_strawberry == []


def test_an_event_whose_selection_fails_reaches_each_subscriber_as_its_error(
    test_client: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A result with errors is never shared nor sent straight: each subscriber's own execution
    reports it, masked as any server fault, and the subscription goes on."""
    client, secret = test_client
    failing = {"on": True}
    original = reads.feedback_for_events

    async def feedback(*args: Any, **kwargs: Any) -> Any:
        if failing["on"]:
            raise RuntimeError("the feedback read failed")
        return await original(*args, **kwargs)

    monkeypatch.setattr(reads, "feedback_for_events", feedback)
    query = "subscription { eventLogged { id feedback { score } } }"
    headers = {"Authorization": f"Bearer {secret}"}
    with ExitStack() as stack:
        sockets = [_subscribed(client, stack, secret, "1", query) for _ in range(2)]
        assert wait_for(lambda: client.app.state.live.subscriber_count() == 2)
        client.post("/api/v1/events", json={"input": "q", "output": "a"}, headers=headers)
        failed = [ws.receive_json() for ws in sockets]
        failing["on"] = False
        posted = client.post("/api/v1/events", json={"input": "q", "output": "a"}, headers=headers)
        fine = [ws.receive_json() for ws in sockets]
    for message in failed:
        assert message["type"] == "next"
        assert message["payload"]["errors"][0]["extensions"]["code"] == "internal"
        assert "feedback read" not in json.dumps(message)
    event = {"id": posted.json()["event_id"], "feedback": []}
    assert [m["payload"] for m in fine] == [{"data": {"eventLogged": event}}] * 2


def test_a_long_subscription_keeps_nothing_per_event(test_client: tuple[TestClient, str]) -> None:
    """Each event's execution memoizes its own subfields and Shapes: graphql-core's per-event
    copy used to add them to the subscription's memo for good (~18 objects an event, and
    70-140 ms passes of the collector over them; bench/live --pauses)."""
    client, secret = test_client
    query = "subscription { eventLogged { id input } }"
    headers = {"Authorization": f"Bearer {secret}"}
    with ExitStack() as stack:
        ws = _subscribed(client, stack, secret, "1", query)
        assert wait_for(lambda: client.app.state.live.subscriber_count() == 1)
        for _ in range(30):
            client.post("/api/v1/events", json={"input": "q", "output": "a"}, headers=headers)
            assert ws.receive_json()["type"] == "next"
        subscriptions = [
            o for o in gc.get_objects() if isinstance(o, SharedEventExecutor) and not o.per_event
        ]
    assert subscriptions, "the subscription's executor"
    assert all(len(executor._relevant_sub_fields) <= 1 for executor in subscriptions)
    assert all(len(executor._shapes) <= 1 for executor in subscriptions)  # app/schema/shapes.py


def test_a_frame_orjson_cannot_encode_is_encoded_by_the_standard_library() -> None:
    # Ingest refuses lone surrogates (tests/reliability/test_json_contract.py); should one be
    # read all the same, the frame written straight to the socket is still valid JSON, as the
    # router's encode_json makes it for Strawberry's own frames.
    frame = json.loads(next_frame("1", shared_data_text({"eventLogged": {"output": "\ud800"}})))
    assert frame == {"id": "1", "type": "next",
                     "payload": {"data": {"eventLogged": {"output": "\ud800"}}}}  # fmt: skip


def test_loaders_no_query_used_leave_nothing_for_the_collector() -> None:
    # A live subscription makes new loaders for every event it executes; those it never uses
    # must not be reference cycles (each cost the collector a pass over them).
    gc.collect()
    loaders = Loaders(1, ReadBudget(limit=1000))
    del loaders
    assert gc.collect() == 0
    used = Loaders(1, ReadBudget(limit=1000))
    assert used.feedback is used.feedback  # made once, on first use
