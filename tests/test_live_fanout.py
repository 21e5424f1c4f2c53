"""Live fan-out shared by every subscriber of a process (app/live.py's SharedLoads,
app/services/live_reads.py): one read per event, yet each subscriber still gets exactly its
project's events that its filter admits, in the shape its own selection asks for."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from app.live import SharedLoads
from tests.graphql_api.helpers import Live, live, log_rest
from tests.harness import Server, Tenant

ALL = "subscription { eventLogged { id input } }"
FILTERED = "subscription ($f: LiveEventFilter) { eventLogged(filter: $f) { id model sessionId } }"
BY_USER = "subscription ($f: LiveEventFilter) { eventLogged(filter: $f) { id userId output } }"


def post_batch(server: Server, tenant: Tenant, events: list[dict[str, Any]]) -> list[str]:
    """Log events in one request (one commit); their ids in order."""
    response = httpx.post(server.base_url + "/api/v1/events/batch", json={"events": events},
                          headers=tenant.headers, timeout=30)  # fmt: skip
    assert response.status_code == 201, response.text
    return [r["event_id"] for r in response.json()["results"]]


async def ready(conns: list[Live], server: Server, tenant: Tenant) -> str:
    """Log probes until every connection (subscribed to all of `tenant`'s events) has one (a
    subscribe has no answer: an event committed before the server registered it is not
    delivered), then a last probe that each reads up to, so none holds an earlier probe."""
    probes: set[str] = set()
    waiting = list(conns)
    for _ in range(20):
        probe = await asyncio.to_thread(log_rest, server, tenant, input="probe")
        probes.add(str(probe["event_id"]))
        still = []
        for conn in waiting:
            try:
                got = await conn.next_data(wait=1)
            except TimeoutError:
                still.append(conn)
                continue
            assert got["eventLogged"]["id"] in probes, got
        waiting = still
        if not waiting:
            break
    assert not waiting, f"{len(waiting)} subscriptions never received an event"
    fence = str((await asyncio.to_thread(log_rest, server, tenant, input="probe"))["event_id"])
    probes.add(fence)
    for conn in conns:  # every one is live now: it gets the fence, after any earlier probe
        while (got := await conn.next_data())["eventLogged"]["id"] != fence:
            assert got["eventLogged"]["id"] in probes, got
    return fence


async def test_each_subscriber_gets_its_projects_events_its_filter_and_selection(
    server: Server, tenant: Tenant, other_tenant: Tenant
) -> None:
    async with AsyncExitStack() as stack:
        a_all, a_model, a_m2, a_user, b_all = [
            await stack.enter_async_context(live(server, t))
            for t in (tenant, tenant, tenant, tenant, other_tenant)
        ]
        for conn in (a_all, a_model, a_m2, a_user, b_all):
            await conn.subscribe(ALL)  # to know when its connection is live
        await ready([a_all, a_model, a_m2, a_user], server, tenant)
        await ready([b_all], server, other_tenant)
        for conn in (a_model, a_m2, a_user):
            await conn.ws.send('{"id": "1", "type": "complete"}')
        # Same document, other variables: a group of its own.
        await a_model.subscribe(FILTERED, f={"model": "m1"})
        await a_m2.subscribe(FILTERED, f={"model": "m2"})
        await a_user.subscribe(BY_USER, f={"userId": "ann"})
        await asyncio.sleep(0.3)  # let both reach the bus (a subscribe has no answer)
        events = [
            {"input": "i0", "output": "o0", "user_id": "ann", "metadata": {"model": "m1"}},
            {"input": "i1", "output": "o1", "user_id": "bob", "metadata": {"model": "m2"}},
            {"input": "i2", "output": "o2", "user_id": "ann", "metadata": {"model": "m2"}},
            {"input": "i3", "output": "o3", "user_id": "bob", "metadata": {"model": "m1"}},
        ]
        # One commit of A's events and one of B's that B's subscriber alone must see.
        a_ids, b_ids = await asyncio.gather(
            asyncio.to_thread(post_batch, server, tenant, events),
            asyncio.to_thread(post_batch, server, other_tenant, events[:2]),
        )
        got_all = [(await a_all.next_data())["eventLogged"] for _ in a_ids]
        got_model = [(await a_model.next_data())["eventLogged"] for _ in range(2)]
        got_m2 = [(await a_m2.next_data())["eventLogged"] for _ in range(2)]
        got_user = [(await a_user.next_data())["eventLogged"] for _ in range(2)]
        got_b = [(await b_all.next_data())["eventLogged"] for _ in b_ids]
        for conn in (a_all, a_model, a_m2, a_user, b_all):
            await conn.nothing_for(0.3)
    assert got_all == [{"id": i, "input": f"i{n}"} for n, i in enumerate(a_ids)]
    assert [e["id"] for e in got_model] == [a_ids[0], a_ids[3]]
    assert all(set(e) == {"id", "model", "sessionId"} and e["model"] == "m1" for e in got_model)
    assert [(e["id"], e["model"]) for e in got_m2] == [(a_ids[1], "m2"), (a_ids[2], "m2")]
    assert got_user == [
        {"id": a_ids[0], "userId": "ann", "output": "o0"},
        {"id": a_ids[2], "userId": "ann", "output": "o2"},
    ]
    assert [e["id"] for e in got_b] == b_ids and not set(b_ids) & set(a_ids)


async def test_ten_subscribers_miss_nothing_of_a_burst(server: Server, tenant: Tenant) -> None:
    """A burst of concurrent commits (3 batches of 100 and 60 single events from 8 clients at
    once) on the process the subscribers are on: each of 10 subscribers gets every event,
    once, in commit order. On PostgreSQL each subscriber used to read each event back from the
    writer's pool and fell behind (README, issue 22/24)."""
    async with AsyncExitStack() as stack:
        conns = [await stack.enter_async_context(live(server, tenant)) for _ in range(10)]
        for conn in conns:
            await conn.subscribe("subscription { eventLogged { id sessionId output } }")
        await ready(conns, server, tenant)

        def burst() -> set[str]:
            with ThreadPoolExecutor(8) as pool:
                batches = [
                    pool.submit(post_batch, server, tenant,
                                [{"input": f"b{b}-{n}", "output": "o"} for n in range(100)])
                    for b in range(3)
                ]  # fmt: skip
                singles = [
                    pool.submit(log_rest, server, tenant, input=f"s{n}", output="o")
                    for n in range(60)
                ]
                ids = {i for f in batches for i in f.result()}
                return ids | {str(f.result()["event_id"]) for f in singles}

        sent, *received = await asyncio.gather(
            asyncio.to_thread(burst), *(drain(conn, 360) for conn in conns)
        )
    assert len(sent) == 360
    for got in received:
        assert len(got) == 360 and set(got) == sent  # all, once each


async def drain(conn: Live, count: int) -> list[str]:
    """The ids of the next `count` events (fails on an error, e.g. resync_required)."""
    return [(await conn.next_data(30))["eventLogged"]["id"] for _ in range(count)]


async def test_shared_loads_batch_a_turns_keys_once_and_survive_a_leaver() -> None:
    calls: list[list[int]] = []

    async def batch(keys: list[int]) -> dict[int, str]:
        calls.append(keys)
        await asyncio.sleep(0.01)
        return {key: f"v{key}" for key in keys if key != 3}

    loads: SharedLoads[int, str] = SharedLoads(batch, size=4)
    first = await asyncio.gather(*(loads.load(k) for k in (1, 2, 1, 3)))
    assert first == ["v1", "v2", "v1", None] and calls == [[1, 2, 3]]  # one batch, each once
    assert await loads.load(2) == "v2" and len(calls) == 1  # remembered
    # A subscriber that leaves while waiting does not cancel the load for the others.
    leaver = asyncio.create_task(loads.load(7))
    stayer = asyncio.create_task(loads.load(7))
    await asyncio.sleep(0)
    leaver.cancel()
    assert await stayer == "v7" and calls[-1] == [7]
    for key in (8, 9, 10, 11):  # past `size`: the oldest are forgotten and read again
        await loads.load(key)
    await loads.load(1)
    assert calls[-1] == [1]


async def test_prefetched_keys_load_in_one_batch() -> None:
    calls: list[list[int]] = []

    async def batch(keys: list[int]) -> dict[int, int]:
        calls.append(keys)
        return {key: key * 10 for key in keys}

    loads: SharedLoads[int, int] = SharedLoads(batch)
    loads.prefetch([1, 2, 3])  # a stream catching up on three queued events
    assert [await loads.load(k) for k in (1, 2, 3)] == [10, 20, 30]
    assert calls == [[1, 2, 3]]


async def test_a_failed_shared_load_is_tried_again() -> None:
    failures = [RuntimeError("database gone")]

    async def batch(keys: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        if failures:
            raise failures.pop()
        return dict.fromkeys(keys, 1)

    loads: SharedLoads[uuid.UUID, int] = SharedLoads(batch)
    key = uuid.uuid4()
    with pytest.raises(RuntimeError):
        await loads.load(key)
    assert await loads.load(key) == 1


async def test_shared_loads_remember_at_most_their_weight() -> None:
    calls: list[list[int]] = []

    async def batch(keys: list[int]) -> dict[int, str]:
        calls.append(keys)
        return {key: "x" * 100 for key in keys}

    loads: SharedLoads[int, str] = SharedLoads(batch, weigh=len, max_weight=250)
    for key in (1, 2, 3):
        await loads.load(key)
    await loads.load(3)  # the newest two are remembered (200 of 250)
    await loads.load(2)
    assert calls == [[1], [2], [3]]
    await loads.load(1)  # the oldest was forgotten: 300 > 250
    assert calls[-1] == [1]
