"""Fixtures of the Python SDK tests: the real server (SQLite), a flaky proxy, a hung server.

The SDK's behaviour does not depend on the server's database, so these tests run against the
SQLite server only (PostgreSQL is covered by the server's own tests).
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator

import pytest

from tests.harness import REPO, Server

# Test this checkout's SDK even when another version is installed.
sys.path.insert(0, str(REPO / "sdks" / "python"))

import phospho

from tests.sdk_python.sdk_support import FlakyProxy


@pytest.fixture
def srv(server: Server) -> Server:
    """The shared real server, SQLite only."""
    if server.backend != "sqlite":
        pytest.skip("SDK tests run against the SQLite server only")
    return server


@pytest.fixture(autouse=True)
def _reset_module_client() -> Iterator[None]:
    """Every test starts and ends without a module-level client."""
    phospho.shutdown(timeout=2)
    yield
    phospho.shutdown(timeout=2)


@pytest.fixture
def proxy(srv: Server) -> Iterator[FlakyProxy]:
    """A flaky proxy in front of the real server (no faults until `proxy.add(...)`)."""
    flaky = FlakyProxy(upstream=srv.base_url)
    flaky.start()
    try:
        yield flaky
    finally:
        flaky.stop()


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """A URL that accepts connections and never answers (a hung server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        sock.close()
