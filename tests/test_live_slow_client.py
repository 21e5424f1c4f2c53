"""A GraphQL subscriber that stops reading holds a bounded share of the server's memory.

`eventLogged` writes its frames itself (app/schema/live_socket.py). Its socket send waits while
uvicorn's transport is paused (its write buffer past the high-water mark), so a client that
stops reading holds up only its own subscription: its bus queue fills, overflows, and once it
reads again it gets what was queued and then the resync error, never a silent gap. Without that
wait every frame would pile up in the transport's buffer, as large as everything logged since.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.graphql_api.helpers import Live, live, log_rest
from tests.harness import Server, Tenant

OUTPUT = "x" * 20_000  # each frame carries it: 4,000 events are ~80 MB of frames
EVENTS, PER_BATCH = 4_000, 100
BOUND = 60 * 2**20  # growth allowed while the client does not read (150+ MiB unbounded)


def rss(pid: int) -> int:
    """The process's resident memory, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def subscribed(server: Server, tenant: Tenant, conn: Live) -> None:
    """Probe events until the subscription has one (a subscribe has no answer)."""
    for _ in range(50):
        await asyncio.to_thread(log_rest, server, tenant, input="probe", output="probe")
        try:
            data = await conn.next_data(wait=0.5)
        except TimeoutError:
            continue
        assert data["eventLogged"]["output"] == "probe"
        return
    raise AssertionError("the subscription never received a probe")


async def test_a_subscriber_that_stops_reading_holds_bounded_memory_then_resyncs(
    server: Server, tenant: Tenant
) -> None:
    assert server.proc is not None
    async with live(server, tenant) as conn:
        await conn.subscribe("subscription { eventLogged { id output } }")
        await subscribed(server, tenant, conn)
        while True:  # drain the probes that arrived after the first
            try:
                await conn.next_data(wait=0.5)
            except TimeoutError:
                break
        before = rss(server.proc.pid)
        logged: list[str] = []
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
            for _ in range(EVENTS // PER_BATCH):  # the subscriber reads nothing meanwhile
                events = [{"input": "q", "output": OUTPUT} for _ in range(PER_BATCH)]
                answer = await client.post("/api/v1/events/batch", json={"events": events},
                                           headers=tenant.headers)  # fmt: skip
                assert answer.status_code in (200, 201), answer.text
                logged += [item["event_id"] for item in answer.json()["results"]]
        await asyncio.sleep(1)  # let the server write what it would
        grown = rss(server.proc.pid) - before
        assert grown < BOUND, f"the server grew by {grown / 2**20:.0f} MiB"
        received: list[str] = []
        while True:  # reading again: what was queued, in order, then the resync error
            message = await conn.receive(wait=30)
            if message["type"] != "next" or "errors" in message["payload"]:
                break
            received.append(message["payload"]["data"]["eventLogged"]["id"])
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "resync_required", message
    assert received == logged[: len(received)], "a gap or a repeat before the resync"
    assert len(received) < EVENTS, "the whole stream fitted: nothing was held up"
