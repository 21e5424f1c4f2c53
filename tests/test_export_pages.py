"""Export pages in process (both databases): tiny pages by rows and by bytes give every event
exactly once, oldest first, one chunk per page; an export lists only what was stored before it
began; the CSV header comes once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from app.services.export import export_events
from app.services.ingest import Ingestor
from app.services.reads_events import EventFilter
from app.services.sql import dialect
from tests.factories import fresh_database, new_principal


async def _collect(project_id: int, **options: object) -> list[bytes]:
    return [chunk async for chunk in export_events(project_id, EventFilter(), **options)]  # type: ignore[arg-type]


async def test_pages_by_rows_and_bytes(backend: str, tmp_path: Path) -> None:
    ingestor = Ingestor()
    async with fresh_database(backend, tmp_path, ingestor):
        principal = await new_principal("paged")
        other = await new_principal("other")
        ids: list[str] = []
        for batch in range(5):  # separate commits: several created_at values, ties within
            events = [{"input": f"{batch}-{n}" * (1 + 40 * (n == 2)), "output": "o"}
                      for n in range(5)]  # fmt: skip
            results = await ingestor.log_events(principal, {"events": events})
            ids += [str(result.event_id) for result in results]
            await ingestor.log_events(other, {"events": [{"input": "x", "output": "y"}]})
        stored = await dialect_ids(principal.project_id)
        assert sorted(ids) == sorted(stored)

        by_rows = await _collect(principal.project_id, fmt="jsonl", page_rows=4)
        assert len(by_rows) == 7  # 25 events, 4 a page (the last page: 1)
        assert _ids(by_rows) == stored
        by_bytes = await _collect(principal.project_id, fmt="jsonl", page_bytes=300)
        assert _ids(by_bytes) == stored
        # The row limit shrinks to what fits 300 bytes (one ~350-byte line) after the first 16.
        assert len(by_bytes) >= 8 and all(c.count(b"\n") <= 2 for c in by_bytes[1:])
        small = await _collect(principal.project_id, fmt="csv", page_bytes=300)
        assert len(small) >= 4 and b"".join(small) == b"".join(
            await _collect(principal.project_id, fmt="csv")
        )

        before = await _collect(principal.project_id, fmt="jsonl",
                                started=datetime(2000, 1, 1, tzinfo=UTC))  # fmt: skip
        assert before == []
        seen: list[int] = []
        csv_chunks = await _collect(principal.project_id, fmt="csv", page_rows=10,
                                    on_rows=seen.append)  # fmt: skip
        text = b"".join(csv_chunks).decode()
        assert text.count("event_id,created_at") == 1 and sum(seen) == 25


def _ids(chunks: list[bytes]) -> list[str]:
    return [json.loads(line)["event_id"] for line in b"".join(chunks).splitlines()]


async def dialect_ids(project_id: int) -> list[str]:
    from app.services import sql

    rows = await sql.fetch(
        dialect(), "SELECT id FROM events WHERE project_id = ? ORDER BY created_at, id",
        [project_id],
    )  # fmt: skip
    return [str(row["id"]) for row in rows]
