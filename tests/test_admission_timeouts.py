"""Read timeouts (app/http_protocol.py): slow headers, unfinished bodies and idle connections
are closed, with a 408 where one is owed; an unfinished body stores nothing (both databases).
A slow body that arrives within its time is stored (the negative control)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest

from tests.admission_support import Reader, connect, event, request, stored, wait_closed
from tests.harness import Server, require_backend, serving

TIMEOUT = 1.0  # each of PHOSPHO_HEADER_TIMEOUT, _BODY_TIMEOUT and _IDLE_TIMEOUT


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def timed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server whose three read timeouts are one second, admitting one request at a time."""
    require_backend(request.param)
    with serving(
        request.param,
        tmp_path_factory.mktemp(f"timeouts-{request.param}"),
        PHOSPHO_HEADER_TIMEOUT=str(TIMEOUT),
        PHOSPHO_BODY_TIMEOUT=str(TIMEOUT),
        PHOSPHO_IDLE_TIMEOUT=str(TIMEOUT),
        PHOSPHO_MAX_IN_FLIGHT="1",  # one held request puts other connections in refusal
    ) as srv:
        yield srv


def timed_out(received: bytes, part: str) -> None:
    """The server sent exactly one 408 naming `part`, and closed."""
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), received
    assert b"connection: close" in head.lower()
    answer = json.loads(body)
    assert answer["code"] == "request_timeout" and part in answer["detail"]


def test_headers_that_never_end_get_408(timed: Server) -> None:
    sock = connect(timed)
    sock.sendall(b"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    elapsed, received = wait_closed(sock, 10)
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + 3
    timed_out(received, "headers")


def test_headers_trickled_byte_by_byte_are_cut_at_the_header_timeout(timed: Server) -> None:
    """The header timeout runs from the first byte: activity does not extend it (slowloris)."""
    sock = connect(timed)
    started = time.monotonic()
    line = b"GET /api/v1/health HTTP/1.1\r\nX-Slow: " + b"a" * 100
    sent = 0
    try:
        for byte in line:
            sock.sendall(bytes([byte]))
            sent += 1
            time.sleep(0.1)
    except (BrokenPipeError, ConnectionResetError):
        pass
    _, received = wait_closed(sock, 10)
    assert time.monotonic() - started < TIMEOUT + 3
    assert sent < len(line)  # the connection was closed while bytes still trickled in
    timed_out(received, "headers")


def test_a_body_shorter_than_its_content_length_gets_408_and_nothing_is_stored(
    timed: Server,
) -> None:
    tenant = timed.new_tenant()
    item = event()
    body = json.dumps(item).encode()  # complete, valid JSON ...
    sock = connect(timed)
    sock.sendall(
        request(tenant, body, length=len(body) + 10)
    )  # ... but 10 bytes are announced more
    elapsed, received = wait_closed(sock, 10)
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + 3
    timed_out(received, "body")
    time.sleep(0.3)
    assert stored(timed, item["event_id"]) == set()


def test_a_slow_body_within_its_time_is_stored(timed: Server) -> None:
    tenant = timed.new_tenant()
    item = event()
    body = json.dumps(item).encode()
    sock = connect(timed)
    sock.sendall(request(tenant, body[:5], length=len(body)))
    for start in range(5, len(body), 20):
        time.sleep(TIMEOUT / 10)
        sock.sendall(body[start : start + 20])
    assert Reader(sock).answer().status == 201
    assert stored(timed, item["event_id"]) == {item["event_id"]}


def test_a_connection_that_never_sends_is_closed(timed: Server) -> None:
    elapsed, received = wait_closed(connect(timed), 10)
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + 3
    assert received == b""  # no request, no answer


def test_a_kept_alive_connection_is_closed_when_idle(timed: Server) -> None:
    sock = connect(timed)
    sock.sendall(request(None, None, "/api/v1/health"))
    assert Reader(sock).answer().status == 200
    elapsed, received = wait_closed(sock, 10)
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + 3
    assert received == b""


def test_bytes_that_start_no_request_do_not_keep_a_connection_open(timed: Server) -> None:
    sock = connect(timed)
    started = time.monotonic()
    try:
        for _ in range(30):
            sock.sendall(b"\r\n")  # blank lines between requests are allowed and ignored
            time.sleep(0.2)
    except (BrokenPipeError, ConnectionResetError):
        pass
    wait_closed(sock, 10)
    assert time.monotonic() - started < TIMEOUT + 3


def test_a_websocket_outlives_the_read_timeouts(timed: Server) -> None:
    """After an upgrade the connection belongs to the WebSocket protocol: no HTTP deadline
    may close it (a GraphQL subscription stays open for hours)."""
    from tests.graphql_api.helpers import live

    async def scenario() -> None:
        async with live(timed, timed.new_tenant()) as conn:
            await asyncio.sleep(TIMEOUT * 3)
            op = await conn.subscribe("subscription { eventLogged { id } }")
            await conn.nothing_for(0.2)
            assert op == "1"
            await conn.ws.send(json.dumps({"type": "ping"}))
            assert (await conn.receive(5))["type"] == "pong"

    asyncio.run(scenario())


def test_read_timeouts_hold_on_a_connection_that_is_being_refused(timed: Server) -> None:
    """While the only slot is taken, reads go to the lean parser: slow headers still get 408,
    and a refused request whose body never ends is closed after its 503."""
    tenant = timed.new_tenant()
    holder = connect(timed)
    body = json.dumps(event()).encode()
    holder.sendall(request(tenant, body[:5], length=len(body)))
    time.sleep(0.2)
    slow = connect(timed)
    slow.sendall(b"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    unfinished = connect(timed)
    unfinished.sendall(request(tenant, body, length=len(body) + 10))
    elapsed, received = wait_closed(slow, 10)
    assert elapsed < TIMEOUT + 3
    timed_out(received, "headers")
    elapsed, received = wait_closed(unfinished, 10)
    assert elapsed < TIMEOUT + 3
    assert received.startswith(b"HTTP/1.1 503 ") and received.count(b"HTTP/1.1") == 1
    holder.close()
