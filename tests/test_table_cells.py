"""What the data tables show of a value (web/cells.py): relative times, costs, bounded
snippets and the preview of a long text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from web import cells

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "shown"),
    [
        (timedelta(seconds=-5), "just now"),  # a clock a little ahead
        (timedelta(seconds=10), "just now"),
        (timedelta(seconds=50), "1 min ago"),
        (timedelta(minutes=3, seconds=10), "3 min ago"),
        (timedelta(hours=5, minutes=59), "5 h ago"),
        (timedelta(days=2, hours=3), "2 d ago"),
        (timedelta(days=45), "2026-10-22"),
    ],
    ids=["future", "seconds", "a-minute", "minutes", "hours", "days", "a-date"],
)
def test_relative_times(before: timedelta, shown: str) -> None:
    assert cells.ago(NOW - before, NOW) == shown


def test_exact_time_on_hover() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    assert cells.utc(moment) == "2026-01-02 03:04:05 UTC"
    assert cells.iso(moment) == "2026-01-02T03:04:05Z"


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "—"), (0.0, "$0"), (0.0000351, "$0.000035"), (0.0147, "$0.0147"), (12.5, "$12.50")],
    ids=["unpriced", "free", "tiny", "cents", "dollars"],
)
def test_costs(value: float | None, shown: str) -> None:
    assert cells.cost(value) == shown


def test_snippets_and_ids_are_bounded() -> None:
    huge = "x" * 1_000_000
    assert len(cells.clip(huge)) == cells.SNIPPET and cells.clip(huge).endswith("…")
    assert cells.clip(None) == "" and cells.clip("short") == "short"
    assert cells.short_id("01a24da9-1291-702b-b236-e29f980ae3eb") == "01a24da9-129…"
    assert cells.short_id("conv-7") == "conv-7"


def test_long_texts_preview_by_characters_or_lines() -> None:
    short = cells.long_text("a\nb")
    assert (short.preview, short.cut) == ("a\nb", False)
    wide = cells.long_text("y" * 5_000)
    assert len(wide.preview) == cells.PREVIEW_CHARS and wide.cut and wide.size == 5_000
    tall = cells.long_text("line\n" * 100)
    assert tall.preview.count("\n") == cells.PREVIEW_LINES - 1 and tall.cut
