"""What the scale-out tests look at from outside: a server's worker processes (/proc), which
worker answered (the access log names its pid), and a process's PostgreSQL backends."""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg

from tests.graphql_api.helpers import Live
from tests.harness import Server

ACCESS_LINE = re.compile(r"\[(\d+)\] 127\.0\.0\.1:\d+ - \"(\S+) ([^\s\"]+)")


def children(pid: int) -> set[int]:
    """The pids of a process's direct children (from /proc)."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def answered_by(server: Server, path: str) -> list[int]:
    """The worker pid of each access-log line for `path` so far, in order."""
    return [int(m[1]) for m in ACCESS_LINE.finditer(server.log()) if m[3].split("?")[0] == path]


def tcp_ports(pid: int) -> set[int]:
    """The local TCP ports of a process's sockets (its fds matched to /proc/PID/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def listen_backends(server: Server, pids: set[int]) -> list[int]:
    """The PostgreSQL backends of these processes' LISTEN connections (app/live_pg.py names
    them `phospho-live`)."""
    ports = set().union(*(tcp_ports(pid) for pid in pids))
    with psycopg.connect(server.database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'phospho-live' "
            "AND client_port = ANY(%s)",
            (list(ports),),
        ).fetchall()
    return [int(row[0]) for row in rows]


def terminate_backends(server: Server, backends: list[int]) -> int:
    """`pg_terminate_backend` each; how many were terminated."""
    with psycopg.connect(server.database_url, autocommit=True) as conn:
        return sum(
            bool(conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0])  # type: ignore[index]
            for pid in backends
        )


async def until_live(conn: Live, post_probe: Callable[[], Awaitable[str]]) -> set[str]:
    """Post probe events until one reaches the subscription (a subscribe message has no answer:
    events committed before the server registered it are not delivered); the probes' ids."""
    probes = {await post_probe()}
    for _ in range(20):
        try:
            message = await conn.next_data(wait=1)
        except TimeoutError:
            probes.add(await post_probe())
            continue
        assert message["eventLogged"]["id"] in probes, message
        return probes
    raise AssertionError("the subscription never received an event")
