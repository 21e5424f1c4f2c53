"""Tags, status and error of events that carry their own time (`Ingestor.log_events_at`, what
OpenTelemetry spans use), on SQLite and PostgreSQL: tag rows carry the event's time (so the tag
index orders and windows them like the event), errors are counted in that time's bucket, and a
bad value refuses its item alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from app.db import reader
from app.errors import Invalid
from app.services import metrics, reads
from app.services.ingest import EventResult, Ingestor
from app.services.keys import Principal
from app.services.sql import POSTGRES, SQLITE, as_datetime
from tests.factories import fresh_database, new_principal
from tests.harness import BACKENDS


@pytest.fixture(scope="module", params=BACKENDS)
async def late(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, Ingestor, Principal]]:
    backend = str(request.param)
    ingestor = Ingestor()
    async with fresh_database(backend, tmp_path_factory.mktemp(f"late-{backend}"), ingestor):
        yield backend, ingestor, await new_principal(f"fields-at-{backend}")


async def test_late_events_keep_their_fields_at_their_time(
    late: tuple[str, Ingestor, Principal],
) -> None:
    backend, ingestor, key = late
    now = datetime.now(UTC).replace(microsecond=0)
    day_ago = now - timedelta(days=1)
    results = await ingestor.log_events_at(key, [
        ({"input": "late", "output": "", "tags": ["otel", "prod"], "error": "span failed"},
         day_ago),
        ({"input": "bad", "output": "", "tags": ["x" * 65]}, day_ago),
        ({"input": "now", "output": "a", "tags": ["otel"], "status": "ok"}, now),
    ])  # fmt: skip
    failed, refused, fine = results
    assert isinstance(failed, EventResult) and isinstance(fine, EventResult)
    assert isinstance(refused, Invalid) and refused.details[0]["loc"] == ["body", 1, "tags", 0]

    d = POSTGRES if backend == "postgres" else SQLITE
    rows = await reader().execute_query_dict(
        d.sql("SELECT tag, created_at FROM event_tags WHERE project_id = ? ORDER BY id"),
        [key.project_id],
    )
    assert [(r["tag"], as_datetime(r["created_at"])) for r in rows] == [
        ("otel", day_ago), ("prod", day_ago), ("otel", fine.created_at)
    ]  # fmt: skip

    # The tag filter windows by the event's time, like every other filter.
    f = reads.EventFilter(tag="otel", until=now - timedelta(hours=1))
    page = await reads.list_events(key.project_id, filter=f)
    assert [(e.id, e.status, e.error) for e in page.items] == [
        (failed.event_id, "error", "span failed")
    ]

    # The error counts in the day-old bucket, not in the commit's.
    window = metrics.align(day_ago - timedelta(hours=1), now + timedelta(hours=1), 3600)
    got = await metrics.metrics(key.project_id, window)
    [point] = [p for p in got.series[0].points if p.figures.errors]
    assert point.start <= day_ago < point.start + timedelta(hours=1)
    assert got.summary.figures.errors == 1 and got.summary.figures.events == 2
