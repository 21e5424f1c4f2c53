"""Subscriptions over graphql-transport-ws, fed by events and feedback logged over REST."""

from __future__ import annotations

import asyncio
import json

import httpx
from websockets.asyncio.client import connect

from tests.graphql_api.helpers import feedback_rest, live, log_rest, operation, ws_url
from tests.harness import Server, Tenant

FEEDBACK = "subscription { feedbackAdded { id eventId score comment event { id input } } }"


async def rest(server: Server, tenant: Tenant, **body: object) -> dict[str, object]:
    """Log over REST from a thread, so the WebSocket keeps being read meanwhile."""
    return await asyncio.to_thread(log_rest, server, tenant, **body)


async def test_event_logged_arrives_in_commit_order(server: Server, tenant: Tenant) -> None:
    async with live(server, tenant) as conn:
        await conn.subscribe(operation("live_tail"))
        await asyncio.sleep(0.2)  # let the subscription reach the bus
        logged = [await rest(server, tenant, input=f"m{n}", session_id="tail") for n in range(5)]
        got = [(await conn.next_data())["eventLogged"] for _ in logged]
    assert [e["id"] for e in got] == [e["event_id"] for e in logged]
    assert [e["input"] for e in got] == [f"m{n}" for n in range(5)]
    assert got[0]["sessionId"] == "tail"


async def test_batch_events_arrive_in_order(server: Server, tenant: Tenant) -> None:
    async with live(server, tenant) as conn:
        await conn.subscribe("subscription { eventLogged { input } }")
        await asyncio.sleep(0.2)
        body = {"events": [{"input": f"b{n}", "output": "o"} for n in range(10)]}
        response = await asyncio.to_thread(
            httpx.post, server.base_url + "/api/v1/events/batch", json=body,
            headers=tenant.headers,
        )  # fmt: skip
        assert response.status_code == 201
        got = [(await conn.next_data())["eventLogged"]["input"] for _ in range(10)]
    assert got == [f"b{n}" for n in range(10)]


async def test_only_the_keys_project_and_filter_matches(
    server: Server, tenant: Tenant, other_tenant: Tenant
) -> None:
    async with live(server, tenant) as conn:
        await conn.subscribe(operation("live_tail"), userId="ann", model="m1")
        await asyncio.sleep(0.2)
        await rest(server, other_tenant, user_id="ann", metadata={"model": "m1"})
        await rest(server, tenant, user_id="bob", metadata={"model": "m1"})
        await rest(server, tenant, user_id="ann", metadata={"model": "m2"})
        wanted = await rest(server, tenant, user_id="ann", metadata={"model": "m1"})
        got = (await conn.next_data())["eventLogged"]
        assert got["id"] == wanted["event_id"] and got["model"] == "m1"
        await conn.nothing_for(0.3)


async def test_feedback_added_carries_the_event(server: Server, tenant: Tenant) -> None:
    event = await rest(server, tenant, input="judge me")
    async with live(server, tenant) as conn:
        await conn.subscribe(FEEDBACK)
        await asyncio.sleep(0.2)
        await asyncio.to_thread(feedback_rest, server, tenant, str(event["event_id"]), 1, "nice")
        got = (await conn.next_data())["feedbackAdded"]
    assert got["eventId"] == event["event_id"] and got["score"] == 1
    assert got["comment"] == "nice" and got["event"]["input"] == "judge me"


async def test_mutation_over_websocket_reaches_a_subscriber(server: Server, tenant: Tenant) -> None:
    async with live(server, tenant) as watcher, live(server, tenant) as writer:
        await watcher.subscribe("subscription { eventLogged { input } }")
        await asyncio.sleep(0.2)
        await writer.subscribe('mutation { logEvent(input: {input: "ws", output: "o"}) { id } }')
        assert (await writer.next_data())["logEvent"]["id"]
        assert (await watcher.next_data())["eventLogged"] == {"input": "ws"}


async def test_abrupt_disconnects_leave_the_server_serving(server: Server, tenant: Tenant) -> None:
    for _ in range(20):
        ws = await connect(ws_url(server), subprotocols=["graphql-transport-ws"])
        await ws.send(json.dumps({"type": "connection_init", "payload": tenant.headers}))
        await asyncio.wait_for(ws.recv(), 10)
        subscribe = {"id": "1", "type": "subscribe",
                     "payload": {"query": "subscription { eventLogged { id } }"}}  # fmt: skip
        await ws.send(json.dumps(subscribe))
        ws.transport.abort()  # no close frame: the TCP connection just drops
    await rest(server, tenant)  # publishing to the dropped subscribers must not hurt
    async with live(server, tenant) as conn:
        await conn.subscribe("subscription { eventLogged { input } }")
        await asyncio.sleep(0.2)
        await rest(server, tenant, input="still here")
        assert (await conn.next_data())["eventLogged"] == {"input": "still here"}
