"""The bench's GraphQL operations, and the SQL each one runs, captured and replayed alone.

The SQL is captured by running each operation three times through an in-process app (the same
code and connection settings as `phospho serve`), recording every statement its read
connection executes the last time (as the timed requests, which follow a warm-up); "SQL
alone" is then those statements replayed on that connection, back to back.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from app.db import reader
from app.factory import create_app
from app.settings import Settings
from bench.graphql.seed import REPLAY_SESSION

REPO = Path(__file__).resolve().parents[2]
NODE = """id createdAt sessionId userId model input output tokensIn tokensOut latencyMs
    latestFeedback { score comment } session { id eventCount }"""


# A ticket number of one event (of 11 at 1,000,000 events: a prefix also finds 543210-543219),
# in the middle of the timeline; "refund" is in 1 event of 7 but none of the newest 10,000.
RARE_WORD = "54321"


def page(filter: str = "") -> str:
    """`events(first: 50)` with nested feedback and session, optionally filtered."""
    where = f", filter: {{ {filter} }}" if filter else ""
    return (f"{{ events(first: 50{where}) {{ pageInfo {{ hasNextPage endCursor }} "
            f"edges {{ cursor node {{ {NODE} }} }} }} }}")  # fmt: skip


REPLAY = f"""{{ session(id: "{REPLAY_SESSION}") {{ id eventCount events(first: 100) {{
    pageInfo {{ hasNextPage endCursor }} edges {{ node {{ id createdAt input output metadata
    latestFeedback {{ score comment }} }} }} }} }} }}"""


def operations() -> dict[str, tuple[str, dict[str, Any]]]:
    """Name → (query, variables) of every operation the bench times."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    metrics = (REPO / "graphql/operations/metrics.graphql").read_text()
    window = {"since": (now - timedelta(hours=24)).isoformat(), "until": now.isoformat()}
    return {
        "events(50) +feedback +session": (page(), {}),
        "  filter model": (page('model: "gpt-4o"'), {}),
        "  filter negative feedback": (page("feedback: NEGATIVE"), {}),
        "  filter model + negative": (page('model: "gpt-4o", feedback: NEGATIVE'), {}),
        "  filter end user": (page('userId: "user-0001"'), {}),
        "  filter text": (page('search: "refund"'), {}),
        "  filter text, rare word": (page(f'search: "{RARE_WORD}"'), {}),
        "  filter text, no match": (page('search: "zanzibar"'), {}),
        "session replay events(100)": (REPLAY, {}),
        "metrics 24h (by model)": (metrics, {**window, "bucket": "HOUR"}),
    }


Statement = tuple[str, list[Any]]


async def capture(settings: Settings, key: str) -> dict[str, list[Statement]]:
    """Each operation's statements on the read connection, from its third in-process run."""
    app = create_app(settings)
    found: dict[str, list[Statement]] = {}
    async with app.router.lifespan_context(app):
        client_class = type(reader())
        original = client_class.execute_query_dict
        original_rows = client_class.execute_query  # rows as the driver gives them
        recorded: list[Statement] = []

        async def recording(client: Any, sql: str, values: Any = None) -> Any:
            recorded.append((sql, list(values or [])))
            return await original(client, sql, values)

        async def recording_rows(client: Any, sql: str, values: Any = None) -> Any:
            recorded.append((sql, list(values or [])))
            return await original_rows(client, sql, values)

        client_class.execute_query_dict = recording  # type: ignore[method-assign]
        client_class.execute_query = recording_rows  # type: ignore[method-assign]
        try:
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", headers=headers
            ) as client:
                for name, (query, variables) in operations().items():
                    body = {"query": query, "variables": variables}
                    # A request as the timed ones run it: after the first ones, which may read
                    # what later ones keep (the metrics' settled end users, rollups/settled.py).
                    for _ in range(2):
                        (await client.post("/graphql", json=body)).raise_for_status()
                    recorded.clear()
                    answer = await client.post("/graphql", json=body)
                    body = answer.json()
                    if answer.status_code != 200 or body.get("errors"):
                        raise RuntimeError(f"{name}: {answer.text[:500]}")
                    found[name] = list(recorded)
        finally:
            client_class.execute_query_dict = original  # type: ignore[method-assign]
            client_class.execute_query = original_rows  # type: ignore[method-assign]
        return found


async def time_sql(
    settings: Settings, statements: dict[str, list[Statement]], repeat: int
) -> dict[str, float]:
    """Median ms of each operation's statements replayed back to back on the read connection."""
    app = create_app(settings)
    medians: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        connection = reader()
        for name, sqls in statements.items():
            samples = []
            for _ in range(repeat + 10):  # the first 10 warm the page cache
                began = time.perf_counter()
                for sql, values in sqls:
                    await connection.execute_query_dict(sql, values)
                samples.append((time.perf_counter() - began) * 1000)
            medians[name] = statistics.median(samples[10:])
    return medians


def time_http(
    base_url: str, key: str, cpu: Callable[[], float], repeat: int
) -> dict[str, tuple[float, float, float, int]]:
    """Per operation over HTTP (keep-alive, sequential): median and p95 ms wall seen by this
    local client, server CPU ms per request (from /proc), and the answer's bytes."""
    figures: dict[str, tuple[float, float, float, int]] = {}
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        for name, (query, variables) in operations().items():
            body = {"query": query, "variables": variables}
            for _ in range(20):  # warm-up: parser and validation caches, page cache
                client.post("/graphql", json=body).raise_for_status()
            samples = []
            size = 0
            before = cpu()
            for _ in range(repeat):
                began = time.perf_counter()
                answer = client.post("/graphql", json=body)
                samples.append((time.perf_counter() - began) * 1000)
                size = len(answer.content)
                if answer.status_code != 200 or b'"errors"' in answer.content[:20]:
                    raise RuntimeError(f"{name}: {answer.text[:500]}")
            per_request = (cpu() - before) * 1000 / repeat
            samples.sort()
            p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
            figures[name] = (statistics.median(samples), p95, per_request, size)
    return figures
