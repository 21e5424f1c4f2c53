"""Live streams end with their credential: revoked keys, logged-out and expired sessions.

Real servers, a real WebSocket (graphql-transport-ws) and real SSE streams. Each test first
proves the stream delivers, then ends the credential the way a user would (the dashboard,
`phospho keys revoke` in another process, another server process on PostgreSQL, logging out,
expiry) and waits for the close: 4403 on the WebSocket, the end of the SSE response. A stream
opened with another credential stays open throughout (the control).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.graphql_api.helpers import log_rest, ws_url
from tests.harness import Server, Tenant, start_server
from tests.test_dashboard_accounts import browser, create_key, csrf_of, sign_up

# The watcher re-checks every 2 s; the stream must end within a few seconds of that.
DEADLINE = 8.0
SUBSCRIPTION = "subscription { eventLogged { input } }"


async def subscribe(server: Server, init: dict[str, str], **headers: str) -> ClientConnection:
    """An acknowledged graphql-transport-ws connection with one eventLogged subscription."""
    ws = await connect(ws_url(server), subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                       additional_headers=headers)  # fmt: skip
    await ws.send(json.dumps({"type": "connection_init", "payload": init}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
    payload = {"query": SUBSCRIPTION}
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    return ws


async def next_input(ws: ClientConnection) -> str:
    """The input of the next event the subscription pushes (pings answered)."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if message["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            continue
        assert message["type"] == "next", message
        return str(message["payload"]["data"]["eventLogged"]["input"])


async def delivers(server: Server, ws: ClientConnection, tenant: Tenant, text: str) -> None:
    """Log an event as `tenant` and see it arrive on `ws` (the subscription is live)."""
    await asyncio.sleep(0.3)  # the subscribe message is handled asynchronously
    await asyncio.to_thread(log_rest, server, tenant, input=text, session_id="conversation")
    assert await next_input(ws) == text


async def closed_with(ws: ClientConnection) -> tuple[int | None, float]:
    """The close code the server sends, and how long it took to come."""
    started = time.monotonic()
    try:
        while True:
            await asyncio.wait_for(ws.recv(), DEADLINE)
    except ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else None), time.monotonic() - started


def key_prefix(server: Server, tenant: Tenant) -> str:
    """The display prefix `phospho keys revoke` takes."""
    from app.services.keys import hash_key

    rows = server.query("SELECT prefix FROM api_keys WHERE key_hash = ?", hash_key(tenant.key))
    return str(rows[0][0])


async def test_revoking_a_key_with_the_cli_closes_its_subscriptions(
    server: Server, tenant: Tenant, other_tenant: Tenant
) -> None:
    doomed = await subscribe(server, tenant.headers)
    control = await subscribe(server, other_tenant.headers)
    try:
        await delivers(server, doomed, tenant, "before")
        await delivers(server, control, other_tenant, "control before")
        await asyncio.to_thread(server.cli, "keys", "revoke", key_prefix(server, tenant))
        code, took = await closed_with(doomed)
        assert code == 4403, code
        assert took < DEADLINE
        await delivers(server, control, other_tenant, "control after")
    finally:
        await doomed.close()
        await control.close()
    print(f"closed {took:.1f} s after `phospho keys revoke`")


async def test_a_connection_whose_key_was_revoked_cannot_subscribe_again(
    backend: str, tmp_path: Path
) -> None:
    # The watcher re-checks only every 60 s here: a close within seconds is the subscription's
    # own check.
    srv = start_server(backend, tmp_path, PHOSPHO_CREDENTIAL_RECHECK_SECONDS="60")
    try:
        tenant = srv.new_tenant()
        ws = await connect(ws_url(srv), subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        try:
            await ws.send(json.dumps({"type": "connection_init", "payload": tenant.headers}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
            await asyncio.to_thread(srv.cli, "keys", "revoke", key_prefix(srv, tenant))
            payload = {"query": SUBSCRIPTION}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            code, took = await closed_with(ws)
        finally:
            await ws.close()
    finally:
        srv.destroy()
    assert code == 4403 and took < DEADLINE


async def test_revoking_a_key_in_the_dashboard_closes_its_subscriptions(server: Server) -> None:
    with browser(server) as owner:
        sign_up(owner)
        key = create_key(owner)
        tenant = Tenant(project_id=0, key=key)
        ws = await subscribe(server, tenant.headers)
        try:
            await delivers(server, ws, tenant, "before")
            token = csrf_of(owner.get("/settings/keys").text)
            revoked = owner.post(f"/settings/keys/{key[:11]}/revoke", data={"csrf_token": token})
            assert revoked.status_code == 303
            code, _ = await closed_with(ws)
        finally:
            await ws.close()
    assert code == 4403


async def test_a_revocation_on_another_server_process_closes_subscriptions(
    server: Server, tmp_path: Path
) -> None:
    if server.backend != "postgres":
        pytest.skip("several server processes share a database only on PostgreSQL")
    second = Server("postgres", tmp_path, server.database_url)
    second.start()
    try:
        with browser(server) as owner:
            sign_up(owner)
            key = create_key(owner)
            tenant = Tenant(project_id=0, key=key)
            ws = await subscribe(second, tenant.headers)  # on the other process
            try:
                await delivers(second, ws, tenant, "before")
                token = csrf_of(owner.get("/settings/keys").text)
                owner.post(f"/settings/keys/{key[:11]}/revoke", data={"csrf_token": token})
                code, _ = await closed_with(ws)
            finally:
                await ws.close()
    finally:
        second.stop()
    assert code == 4403


@dataclass
class Stream:
    """An SSE response being read in the background."""

    path: str
    lines: list[str] = field(default_factory=list)
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    async def ended(self) -> float:
        """Wait for the server to end the response; how long that took."""
        assert self.task is not None
        started = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), DEADLINE)
        except TimeoutError:
            raise AssertionError(f"{self.path} still open after {DEADLINE} s") from None
        return time.monotonic() - started

    async def saw(self, text: str) -> None:
        """Wait until a line containing `text` arrived."""
        for _ in range(100):
            if any(text in line for line in self.lines):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{text!r} never arrived on {self.path}: {self.lines}")


@asynccontextmanager
async def streams(cookie: str, server: Server, paths: list[str]) -> AsyncIterator[list[Stream]]:
    """SSE streams opened with a login cookie, read in the background."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=None,
                                 cookies={"phospho_session": cookie}) as client:  # fmt: skip
        opened = [Stream(path) for path in paths]

        async def read(stream: Stream) -> None:
            async with client.stream("GET", stream.path) as response:
                assert response.status_code == 200, stream.path
                stream.opened.set()
                async for line in response.aiter_lines():
                    stream.lines.append(line)

        for stream in opened:
            stream.task = asyncio.create_task(read(stream))
            await asyncio.wait_for(stream.opened.wait(), 10)
        try:
            yield opened
        finally:
            for stream in opened:
                assert stream.task is not None
                stream.task.cancel()
            await asyncio.gather(*(s.task for s in opened if s.task), return_exceptions=True)


def dashboard_account(server: Server) -> tuple[httpx.Client, Tenant, str]:
    """A signed-in browser, a key of its project, and its login cookie."""
    client = browser(server)
    sign_up(client)
    tenant = Tenant(project_id=0, key=create_key(client))
    log_rest(server, tenant, input="first", session_id="conversation")
    return client, tenant, client.cookies.get("phospho_session") or ""


LIVE_PATHS = ["/live/events", "/live/sessions", "/live/session?id=conversation", "/live/overview"]
SIGNS = ["seen live", "event: session", "seen live", "tick"]  # each path's proof it delivers


async def test_logging_out_ends_the_sessions_streams_and_subscriptions(server: Server) -> None:
    client, tenant, cookie = dashboard_account(server)
    other, other_tenant, other_cookie = dashboard_account(server)
    async with streams(cookie, server, LIVE_PATHS) as live, \
            streams(other_cookie, server, ["/live/events"]) as control:  # fmt: skip
        init = {"X-CSRF-Token": csrf_of(client.get("/settings/keys").text)}  # as GraphiQL sends
        ws = await subscribe(
            server, init, Cookie=f"phospho_session={cookie}", Origin=server.base_url
        )
        try:
            await delivers(server, ws, tenant, "seen live")
            for stream, sign in zip(live, SIGNS, strict=True):
                await stream.saw(sign)
            token = csrf_of(client.get("/settings/keys").text)
            assert client.post("/logout", data={"csrf_token": token}).status_code == 303
            for stream in live:
                assert await stream.ended() < DEADLINE, stream.path
            code, _ = await closed_with(ws)
        finally:
            await ws.close()
        assert code == 4403
        assert control[0].task is not None and not control[0].task.done()
        await asyncio.to_thread(log_rest, server, other_tenant, input="still live")
        await control[0].saw("still live")
    client.close()
    other.close()


async def test_an_expired_session_ends_its_streams(server: Server) -> None:
    client, tenant, cookie = dashboard_account(server)
    init = {"X-CSRF-Token": csrf_of(client.get("/settings/keys").text)}  # as GraphiQL sends
    client.close()
    async with streams(cookie, server, ["/live/events"]) as live:
        ws = await subscribe(
            server, init, Cookie=f"phospho_session={cookie}", Origin=server.base_url
        )
        try:
            await delivers(server, ws, tenant, "before expiry")
            await live[0].saw("before expiry")
            digest = hashlib.sha256(cookie.encode()).hexdigest()  # what the table stores
            expired = "2020-01-01 00:00:00+00:00"
            server.query("UPDATE login_sessions SET expires_at = ? WHERE token_hash = ?",
                         expired, digest)  # fmt: skip
            assert await live[0].ended() < DEADLINE
            code, _ = await closed_with(ws)
        finally:
            await ws.close()
    assert code == 4403
