"""Rounds of posts by concurrent keep-alive clients, and the count of what was stored."""

from __future__ import annotations

import http.client
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
BACKOFF_CAP_S = 1.0  # an exporter honours Retry-After; a refusal costs the round this much at most


@dataclass
class Round:
    """One round on one route: wall time from the first post to the last answer."""

    route: str
    events: int
    seconds: float
    refused: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0  # the server's CPU time (all threads) during the round

    @property
    def events_per_s(self) -> float:
        """Stored events per second of wall time."""
        return self.events / self.seconds

    @property
    def cpu_us_per_event(self) -> float:
        """The server's CPU time per stored event, in microseconds."""
        return self.cpu_seconds / self.events * 1e6


def _client(port: int, headers: dict[str, str], path: str, bodies: list[bytes], out: Round) -> None:
    """Post each body in turn on one connection, retrying 429/503 after their Retry-After."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        for body in bodies:
            while True:
                conn.request("POST", path, body=body, headers=headers)
                answer = conn.getresponse()
                answer.read()
                out.statuses[answer.status] = out.statuses.get(answer.status, 0) + 1
                if answer.status not in (429, 503):
                    break
                out.refused += 1
                time.sleep(min(float(answer.getheader("Retry-After") or 0.05), BACKOFF_CAP_S))
            if answer.status >= 300:
                raise RuntimeError(f"{path} answered {answer.status}")
    finally:
        conn.close()


def post_round(
    port: int, key: str, route: str, bodies: list[bytes], events: int, clients: int
) -> Round:
    """`clients` threads share `bodies` (client i posts bodies i, i+clients, ...)."""
    path, kind = ("/v1/traces", PROTOBUF) if route == "otlp" else ("/api/v1/events/batch", JSON)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": kind}
    result = Round(route=route, events=events, seconds=0.0)
    threads = [
        threading.Thread(target=_client, args=(port, headers, path, bodies[i::clients], result))
        for i in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def stored_events(data_dir: Path) -> int:
    """Events in the server's SQLite database right now (read-only, beside the server)."""
    database = data_dir / "phospho.sqlite3"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as conn:
        (count,) = conn.execute("SELECT count(*) FROM events").fetchone()
    conn.close()
    return int(count)
