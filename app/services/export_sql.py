"""The SQL of an export page, per database: what one event becomes.

JSON Lines are built by the database itself (SQLite's `json_object`, PostgreSQL's
`json_build_object`): the line arrives as one string, and Python does no per-field work. That
is what makes 100,000+ rows/s possible, and on SQLite the JSON is built while the reading
thread has released the GIL (measured on 1M events: ~190,000 lines/s from SQLite alone).
The metadata goes in as the stored JSON (SQLite's `json()` copies number tokens verbatim;
PostgreSQL's jsonb keeps numbers exact), so a round trip gives back the same values.
CSV rows are the same fields as plain values, written by Python's `csv` module.

Only constants are interpolated into this SQL; the filter's values are bound parameters.
"""

from __future__ import annotations

from app.services import sql
from app.services.sql import Dialect

# The fields of an exported event, in order: the JSON object's keys and the CSV header.
FIELDS = (
    "event_id", "created_at", "session_id", "user_id", "input", "output", "metadata", "model",
    "tokens_in", "tokens_out", "latency_ms", "cost_usd", "status", "error", "tags",
    "feedback_score", "feedback_comment",
)  # fmt: skip
# What the server adds or derives: left out, the rest of a line is a valid event to log again.
SERVER_FIELDS = (
    "event_id", "created_at", "model", "tokens_in", "tokens_out", "latency_ms", "cost_usd",
    "feedback_score", "feedback_comment",
)  # fmt: skip

EVENT = "events.id"  # the row's id inside correlated subqueries (a tag filter's source too)
LATEST_COMMENT = sql.LATEST_SCORE.replace("lf.score", "lf.comment", 1)
FEEDBACK = {
    "feedback_score": sql.LATEST_SCORE.format(event=EVENT),
    "feedback_comment": LATEST_COMMENT.format(event=EVENT),
}
# SQLite stores times as Tortoise writes them, `2026-03-03 10:30:00[.ffffff]+00:00` (UTC, the
# fraction left out when zero): the API's form is `2026-03-03T10:30:00.000000Z`.
SQLITE_TIME = (
    "substr(created_at, 1, 10) || 'T' || substr(created_at, 12, 8) || "
    "CASE WHEN length(created_at) = 25 THEN '.000000' ELSE substr(created_at, 20, 7) END || 'Z'"
)
POSTGRES_TIME = "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
SQLITE_TAGS = (
    "(SELECT json_group_array(tag) FROM "
    "(SELECT tag FROM event_tags t WHERE t.event_id = events.id ORDER BY t.id))"
)
POSTGRES_TAGS = (
    "(SELECT COALESCE(json_agg(t.tag ORDER BY t.id), '[]'::json) FROM event_tags t "
    "WHERE t.event_id = events.id)"
)
# SQLite writes a REAL into JSON with 15 significant digits, which can round; 17 always give
# the same double back, so they are used where 15 do not.
SQLITE_REAL = (
    "json(CASE WHEN {x} IS NULL THEN NULL "
    "WHEN CAST(printf('%!.15g', {x}) AS REAL) = {x} THEN printf('%!.15g', {x}) "
    "ELSE printf('%!.17g', {x}) END)"
)


def _values(d: Dialect, *, as_json: bool) -> dict[str, str]:
    """Each field's SQL: JSON values for a line (`as_json`), plain values for CSV."""
    postgres = d.postgres
    if postgres:
        metadata = "metadata" if as_json else "metadata::text"
        latency = "latency_ms"
    else:
        metadata = "json(metadata)" if as_json else "metadata"
        latency = SQLITE_REAL.format(x="latency_ms") if as_json else "latency_ms"
    tags = POSTGRES_TAGS if postgres else SQLITE_TAGS
    return {
        "event_id": "id::text" if postgres else "id",
        "created_at": POSTGRES_TIME if postgres else SQLITE_TIME,
        "session_id": "session_key",
        "user_id": "user_id",
        "input": "input",
        "output": "output",
        "metadata": metadata,
        "model": "model",
        "tokens_in": "tokens_in",
        "tokens_out": "tokens_out",
        "latency_ms": latency,
        "cost_usd": "cost_nano / 1e9::float8" if postgres else "cost_nano / 1e9",
        "status": "status",
        "error": "error",
        "tags": tags if as_json or not postgres else f"{tags}::text",
        **FEEDBACK,
    }


def json_line(d: Dialect) -> str:
    """SQL for one event as a JSON object (text), its keys in FIELDS order. PostgreSQL writes
    it with spaces after `:` and `,` (still one line: newlines in values are escaped)."""
    values = _values(d, as_json=True)
    pairs = ", ".join(f"'{name}', {values[name]}" for name in FIELDS)
    line = f"json_build_object({pairs})::text" if d.postgres else f"json_object({pairs})"
    return f"{line} AS x_line"


def _csv_cell(value: str) -> str:
    """SQL for one CSV cell of `value` (RFC 4180: quoted when it holds a comma, a quote or a
    line break; NULL as an empty cell)."""
    text = f"CAST({value} AS TEXT)"
    special = (f"instr({text}, ',') OR instr({text}, '\"') OR instr({text}, char(10)) "
               f"OR instr({text}, char(13))")  # fmt: skip
    quoted = f"'\"' || replace({text}, '\"', '\"\"') || '\"'"
    return f"CASE WHEN {value} IS NULL THEN '' WHEN {special} THEN {quoted} ELSE {text} END"


def csv_record(d: Dialect) -> str:
    """SQL for one event as a CSV record (SQLite: the database writes it, as it writes JSON
    lines; numbers as JSON writes them, text quoted as Python's `csv` module does)."""
    values = _values(d, as_json=False)
    values["latency_ms"] = SQLITE_REAL.format(x="latency_ms").removeprefix("json")
    values["cost_usd"] = (
        "CASE WHEN cost_nano IS NOT NULL THEN printf('%!.15g', cost_nano / 1e9) END"
    )
    cells = " || ',' || ".join(_csv_cell(values[name]) for name in FIELDS)
    return f"{cells} AS x_line"


def csv_columns(d: Dialect) -> str:
    """SQL for one event's CSV cells, in FIELDS order (named apart from the table's columns,
    which the page's ORDER BY names)."""
    values = _values(d, as_json=False)
    return ", ".join(f"{values[name]} AS x_{name}" for name in FIELDS)
