"""Raw HTTP/1.1 over sockets for the admission tests: half-sent bodies, pipelining, timeouts."""

from __future__ import annotations

import json
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from tests.harness import Server, Tenant


@dataclass
class Answer:
    """One HTTP response read off a socket."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def event(event_id: str | None = None) -> dict[str, Any]:
    """A small event with its own id."""
    return {"event_id": event_id or str(uuid.uuid4()), "input": "q", "output": "a"}


def request(
    tenant: Tenant | None, body: bytes | None, path: str = "/api/v1/events", length: int = -1
) -> bytes:
    """A raw request; `length` overrides Content-Length (to announce more than is sent)."""
    method = "POST" if body is not None else "GET"
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if tenant is not None:
        lines.append(f"Authorization: Bearer {tenant.key}")
    if body is not None:
        lines += [
            "Content-Type: application/json",
            f"Content-Length: {len(body) if length < 0 else length}",
        ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def connect(server: Server, timeout: float = 10.0) -> socket.socket:
    """A new connection to the server."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Reader:
    """Reads responses one after the other from a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def answer(self) -> Answer:
        """The next response (raises EOFError if the connection closes first)."""
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise EOFError(f"closed before an answer; got {self.buffer!r}")
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            self.buffer = head + b"\r\n\r\n" + rest
            if not self._fill():
                raise EOFError("closed inside a body")
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
        self.buffer = rest[length:]
        return Answer(int(lines[0].split()[1]), headers, rest[:length])

    def closed(self) -> bool:
        """True when the server closed the connection (after any pending answer bytes)."""
        try:
            return not self._fill()
        except ConnectionResetError:
            return True


def stored(server: Server, *event_ids: str) -> set[str]:
    """Which of these event ids the database holds."""
    rows = server.query("SELECT id FROM events")
    have = {str(uuid.UUID(str(row[0]))) for row in rows}
    return have & set(event_ids)


def wait_closed(sock: socket.socket, limit: float) -> tuple[float, bytes]:
    """Seconds until the server closes `sock` (at most `limit`) and what it sent meanwhile."""
    started = time.monotonic()
    sock.settimeout(limit)
    received = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return time.monotonic() - started, received
