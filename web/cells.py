"""How the data tables and detail panels show values: relative times (computed here, so the
page needs no JavaScript), bounded text snippets, short ids, per-event costs, and long texts
cut to a preview with the rest behind "show all".

Every bound is server-side: a table cell never carries more than `SNIPPET` characters and its
`title` (the text on hover) never more than `HOVER`, whatever the event's size (an input may
be 1 MB); a detail shows `PREVIEW_CHARS` / `PREVIEW_LINES` before "show all".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

SNIPPET = 160  # characters of input/output in a table cell (CSS then cuts it to one line)
HOVER = 1_000  # characters of the cell's title
PREVIEW_CHARS = 2_000  # of a long text in a detail, before "show all"
PREVIEW_LINES = 40
SHORT_ID = 12  # characters of an id shown in a table (the whole id is its title)


def clip(text: str | None, limit: int = SNIPPET) -> str:
    """`text` cut to `limit` characters (with "…" when cut); "" for None."""
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_id(value: object) -> str:
    """The first characters of an id (an event's UUID, a session key), for a narrow column."""
    text = str(value)
    return text if len(text) <= SHORT_ID + 1 else text[:SHORT_ID] + "…"


def utc(moment: datetime) -> str:
    """The exact time, as the hover text of a relative one."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(moment: datetime) -> str:
    """The machine-readable time of a `<time datetime=...>`."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def ago(moment: datetime, now: datetime | None = None) -> str:
    """How long ago, in words a table can hold ("just now", "3 min ago", "5 h ago", "2 d ago");
    the date itself after 30 days. A time in the future (clock skew) reads "just now"."""
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 45:
        return "just now"
    if seconds < 3_600:
        return f"{max(1, round(seconds / 60))} min ago"
    if seconds < 86_400:
        return f"{seconds // 3_600} h ago"
    if seconds <= 30 * 86_400:
        return f"{seconds // 86_400} d ago"
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def cost(value: float | None) -> str:
    """An event's cost in dollars with the precision small amounts need; "—" when unpriced."""
    if value is None:
        return "—"
    if value == 0:
        return "$0"
    if value >= 1:
        return f"${value:,.2f}"
    return f"${value:.4f}" if value >= 0.01 else f"${value:.6f}"


@dataclass(frozen=True, slots=True)
class LongText:
    """A text as a detail shows it: `preview`, and whether there is more (`size` characters)."""

    preview: str
    size: int
    cut: bool


def long_text(text: str | None) -> LongText:
    """The first `PREVIEW_CHARS` characters or `PREVIEW_LINES` lines of `text`, whichever is
    shorter (the rest goes behind "show all")."""
    text = text or ""
    head = text[:PREVIEW_CHARS]
    lines = head.split("\n", PREVIEW_LINES)
    if len(lines) > PREVIEW_LINES:
        head = "\n".join(lines[:PREVIEW_LINES])
    return LongText(head, len(text), len(head) < len(text))
