"""Helpers for the GraphQL tests: POST a document, talk graphql-transport-ws over a WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.harness import REPO, Server, Tenant

OPERATIONS = REPO / "graphql" / "operations"

# The query of issue 17: 1.85 KB, 150,000 events (1.5 GB over 10 KB events) before the cost
# limit: 15 aliases of events(first: 100) -> session -> events(first: 100) -> input.
AMPLIFICATION = (
    "{ "
    + " ".join(
        f"a{n}: events(first: 100) {{ edges {{ node {{ session {{ events(first: 100) "
        "{ edges { node { input } } } } } } }"
        for n in range(15)
    )
    + " }"
)


def operation(name: str) -> str:
    """The text of a documented operation in graphql/operations/."""
    return (OPERATIONS / f"{name}.graphql").read_text()


def post(server: Server, tenant: Tenant | None, query: str, **variables: Any) -> httpx.Response:
    """POST one GraphQL document as `tenant` (None: without credentials)."""
    headers = tenant.headers if tenant else {}
    body = {"query": query, "variables": variables}
    return httpx.post(server.base_url + "/graphql", json=body, headers=headers, timeout=30)


def gql(server: Server, tenant: Tenant, query: str, **variables: Any) -> dict[str, Any]:
    """The `data` of a successful GraphQL request (fails the test on any error)."""
    response = post(server, tenant, query, **variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def gql_errors(server: Server, tenant: Tenant, query: str, **variables: Any) -> list[str]:
    """The error messages of a GraphQL request that is expected to fail."""
    response = post(server, tenant, query, **variables)
    body = response.json()
    assert body.get("errors"), body
    return [error["message"] for error in body["errors"]]


def log_rest(server: Server, tenant: Tenant, **body: Any) -> dict[str, Any]:
    """Log an event over REST; its JSON answer."""
    body.setdefault("input", "question")
    body.setdefault("output", "answer")
    response = httpx.post(
        server.base_url + "/api/v1/events", json=body, headers=tenant.headers, timeout=30
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def feedback_rest(
    server: Server, tenant: Tenant, event_id: str, score: int, comment: str = ""
) -> None:
    """Add feedback over REST."""
    response = httpx.post(
        f"{server.base_url}/api/v1/events/{event_id}/feedback",
        json={"score": score, "comment": comment or None},
        headers=tenant.headers,
        timeout=30,
    )
    assert response.status_code == 201, response.text


class Live:
    """A graphql-transport-ws connection after its connection_ack."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._next_id = 0

    async def subscribe(self, query: str, **variables: Any) -> str:
        """Start an operation; its id."""
        self._next_id += 1
        op_id = str(self._next_id)
        payload = {"query": query, "variables": variables}
        await self.ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))
        return op_id

    async def receive(self, wait: float = 10) -> dict[str, Any]:
        """The next protocol message (pings answered on the way)."""
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), wait))
            if message["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            return message

    async def next_data(self, wait: float = 10) -> dict[str, Any]:
        """The `data` of the next `next` message (fails on anything else)."""
        message = await self.receive(wait)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def nothing_for(self, seconds: float) -> None:
        """Assert no message arrives within `seconds`."""
        try:
            message = await self.receive(seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message {message}")


def ws_url(server: Server) -> str:
    """The WebSocket address of /graphql."""
    return server.base_url.replace("http://", "ws://") + "/graphql"


@asynccontextmanager
async def live(server: Server, tenant: Tenant) -> AsyncIterator[Live]:
    """An acknowledged graphql-transport-ws connection authenticated as `tenant`."""
    async with connect(ws_url(server), subprotocols=["graphql-transport-ws"]) as ws:
        init = {"type": "connection_init", "payload": tenant.headers}
        await ws.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        yield Live(ws)


def memory_kib(server: Server, field: str = "VmRSS") -> int:
    """A server process's memory from /proc/PID/status: VmRSS (now) or VmHWM (peak), in KiB."""
    assert server.proc is not None
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for the server")


def reset_peak_memory(server: Server) -> None:
    """Start measuring the server's peak RSS (VmHWM) from now (Linux: clear_refs 5)."""
    assert server.proc is not None
    Path(f"/proc/{server.proc.pid}/clear_refs").write_text("5")
