"""Export: a project's events as JSON Lines or CSV, streamed, in constant memory.

`export_events` yields the file's bytes page by page (app/services/export_pages.py), oldest
event first: keyset order on (created_at, id), the order of the index every filter reads
along, and the order in which a file replays (`/api/v1/events/batch`) or continues
(`since` = the last line's `created_at`). The filters are the events list's, parsed by
app/services/event_filters.py and turned into SQL by reads_events.py; only the project's own
events are ever read. An export lists the events stored before it began: a later one is left
out, so an export ends even while ingest outpaces a slow download. Pages are separate
statements, not one snapshot: events logged or erased meanwhile may or may not appear.

JSONL (`application/x-ndjson`): one JSON object per line, keys in `export_sql.FIELDS` order,
UTF-8, `\\n` after every line. CSV (`text/csv; charset=utf-8`): a header row, then one record
per event (RFC 4180 quoting, CRLF), `metadata` and `tags` as JSON text, empty cells for
absent values. Cells are written verbatim: a cell that starts with `=`, `+`, `-` or `@` is
not defused for spreadsheets (the file is data for programs, and prefixing would change the
values a round trip must give back).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from app.errors import Invalid
from app.services import sql
from app.services.export_pages import CsvRows, Encoder, JsonLines, open_pages
from app.services.export_sql import FIELDS, csv_columns, csv_record, json_line
from app.services.reads_events import EVENTS, EventFilter, event_source, filter_events
from app.services.sql import Conditions, Dialect

ExportFormat = Literal["jsonl", "csv"]
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv")
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
# The export's order: the events list's keyset, oldest first.
OLDEST_FIRST = replace(EVENTS, descending=False)
# A page holds at most PAGE_ROWS events and about PAGE_BYTES of text: large enough that the
# per-page costs (a statement, a thread hop, a send) vanish at 100,000+ rows/s, small enough
# that the memory an export holds stays at a few MiB.
PAGE_ROWS = 2_000
PAGE_BYTES = 1 << 20


def check_format(value: str | None) -> ExportFormat:
    """The export format named by `value`: jsonl (the default when empty) or csv."""
    if not value:
        return "jsonl"
    for name in FORMATS:
        if value == name:
            return name
    raise Invalid("format must be jsonl or csv")


def export_filename(fmt: ExportFormat, at: datetime) -> str:
    """The download's file name, e.g. `phospho-events-20260303T103000Z.jsonl`."""
    return f"phospho-events-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}.{fmt}"


@dataclass(frozen=True, slots=True)
class Download:
    """An export about to be streamed: its media type, file name and body."""

    media_type: str
    filename: str
    body: AsyncIterator[bytes]

    @property
    def headers(self) -> dict[str, str]:
        """The response headers of the download (the API's and the dashboard's route)."""
        return {
            "Content-Disposition": f'attachment; filename="{self.filename}"',
            "Cache-Control": "no-store",
        }


def download(project_id: int, filter: EventFilter, format: str | None) -> Download:
    """The export of the project's events matching `filter` in `format` (Invalid if unknown),
    as of now; nothing is read until the body is iterated."""
    fmt = check_format(format)
    started = datetime.now(UTC)
    body = export_events(project_id, filter, fmt, started=started)
    return Download(MEDIA_TYPES[fmt], export_filename(fmt, started), body)


def as_of(f: EventFilter, started: datetime) -> EventFilter:
    """`f` narrowed to the events stored before `started` (what an export begun then lists)."""
    return replace(f, until=min(f.until, started) if f.until is not None else started)


def _encoder(fmt: ExportFormat) -> Encoder:
    return JsonLines() if fmt == "jsonl" else CsvRows(FIELDS)


def _page_sql(d: Dialect, fmt: ExportFormat, source: str, cond: Conditions) -> str:
    # SQLite writes whole records (export_pages.SqliteJoinedPages); PostgreSQL's CSV cells are
    # written by Python's csv module.
    if fmt == "jsonl":
        payload = json_line(d)
    else:
        payload = csv_columns(d) if d.postgres else csv_record(d)
    columns = f"created_at, id, {payload}"
    return d.sql(sql.select(columns, source or "events", cond.sql, OLDEST_FIRST.tail))


async def export_events(
    project_id: int,
    filter: EventFilter,
    fmt: ExportFormat,
    *,
    started: datetime | None = None,
    page_rows: int = PAGE_ROWS,
    page_bytes: int = PAGE_BYTES,
    on_rows: Callable[[int], None] | None = None,
) -> AsyncIterator[bytes]:
    """The export file of the project's events matching `filter`, chunk by chunk (one page
    each), listing the events stored before `started` (now when None); `on_rows(n)` is told
    each page's number of events."""
    d = sql.dialect()
    f = as_of(filter, started or datetime.now(UTC))
    source, source_params = event_source(project_id, f)
    encoder = _encoder(fmt)
    key = None
    async with open_pages(d) as pages:
        while True:
            cond = filter_events(d, project_id, f)
            if key is not None:
                cond.add_after(
                    OLDEST_FIRST.time_column, OLDEST_FIRST.key_column, *key, descending=False
                )
            statement = _page_sql(d, fmt, source, cond)
            params = [*source_params, *cond.params]
            count, last, more = await pages.read(statement, params, encoder, page_rows, page_bytes)
            if on_rows is not None:
                on_rows(count)
            chunk = encoder.take()
            if chunk:
                yield chunk
            if not more or last is None:
                return
            key = last
