"""A server fault is a logged JSON 500, and the client's keep-alive connection stays usable."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.harness import start_server


def _exchange(sock: socket.socket, request: bytes) -> bytes:
    """Send one request and read its whole answer (by Content-Length)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the body"
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_500_leaves_the_connection_usable(backend: str, tmp_path: Path) -> None:
    server = start_server(backend, tmp_path)
    try:
        # A fault no handler takes: the sign-up form's table is gone.
        server.query("ALTER TABLE users RENAME TO users_gone")
        form = b"email=a%40example.com&password=correct-horse-battery"
        host = f"127.0.0.1:{server.port}".encode()
        signup = (
            b"POST /signup HTTP/1.1\r\nHost: " + host + b"\r\nOrigin: http://" + host + b"\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: " + str(len(form)).encode() + b"\r\n\r\n" + form
        )
        openapi = b"GET /openapi.json HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
            failed = _exchange(sock, signup)
            assert failed.startswith(b"HTTP/1.1 500"), failed[:200]
            assert b'"code":"internal"' in failed and b"users_gone" not in failed
            after = _exchange(sock, openapi)  # same connection: it was not reset
            assert after.startswith(b"HTTP/1.1 200"), after[:200]
        assert "unhandled error on POST /signup" in server.log()
    finally:
        server.destroy()
