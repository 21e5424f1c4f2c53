"""The overview's range form: what a person chose (a named range, From, To, Bucket, any of them
left empty) to an aligned window, or a sentence in the form's own words saying what to change.

Any subset of the fields is a choice: nothing is the named range (24 hours by default), a
Bucket alone redraws that range with it, From alone runs to now, To alone ends the named
range's length there. Only combinations that cannot be drawn are refused (To before From, a
bucket longer than the range or giving more than MAX_POINTS points, more than MAX_WINDOW).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from app.errors import Invalid
from app.services import metrics as service
from app.services.metrics import BUCKETS, DEFAULT_RANGE, MAX_POINTS, MAX_WINDOW, RANGES, Window
from web import overview_view as view

# Labels follow the service's tables, so a range or bucket added there shows up here.
RANGE_LABELS = {name: "Last hour" if length == 3600 else view.duration(timedelta(seconds=length))
                for name, (length, _) in RANGES.items()}  # fmt: skip
BUCKET_LABELS = {name: view.duration(timedelta(seconds=size)) for name, size in BUCKETS.items()}
FUTURE = "“From” is in the future: choose an earlier time, or fill in “To”."
LONGEST_VALUE = 64  # a date and time is about 16 characters; anything longer is not one


@dataclass(frozen=True)
class Choice:
    """The time range, as it appears in the URL: a named `range`, `since`/`until` (the form's
    From and To, in UTC) and `bucket`; empty strings are the same as absent."""

    range: str | None = None
    since: str | None = None
    until: str | None = None
    bucket: str | None = None

    @property
    def custom(self) -> bool:
        """Whether the window is given by dates rather than a named range."""
        return self.range == "custom" or bool(self.since or self.until)

    @property
    def named(self) -> str:
        """The named range the choice starts from (its length is To alone's length too)."""
        return self.range if self.range in RANGES else DEFAULT_RANGE

    @property
    def current(self) -> str:
        """The range's name as the page highlights it ("custom" for dates)."""
        return "custom" if self.custom else self.named

    def window(self, now: datetime | None = None) -> Window:
        """The aligned window; Invalid (a sentence in the form's words) if it cannot be drawn."""
        now = now or datetime.now(UTC)
        if self.range and self.range != "custom" and self.range not in RANGES:
            raise Invalid(f"Range: choose one of {_choices(RANGE_LABELS)}.")
        if self.bucket and self.bucket not in BUCKETS:
            raise Invalid(f"Bucket: choose one of {_choices(BUCKET_LABELS)}.")
        since, until = _time(self.since, "From"), _time(self.until, "To")
        if since is None and until is None:
            if not self.bucket:
                return service.window_for_range(self.named, now)
            size = BUCKETS[self.bucket]  # the named range, ending with the bucket holding now
            until = datetime.fromtimestamp(math.ceil(now.timestamp() / size) * size, UTC)
        until = until or now  # From alone runs to now
        since = since or until - timedelta(seconds=RANGES[self.named][0])  # To alone
        if until <= since:
            raise Invalid("“To” must be after “From”." if self.until else FUTURE)
        bucket = BUCKETS[self.bucket] if self.bucket else service.default_bucket(since, until)
        _check_fits(since, until, bucket)
        return service.align(since, until, bucket)

    def query(self) -> str:
        """The URL query string of this choice (empty fields left out)."""
        return urlencode({k: v for k, v in vars(self).items() if v})


def _time(value: str | None, field: str) -> datetime | None:
    """A field's date and time (UTC unless it names a zone), None when empty."""
    if not value:
        return None
    try:
        if len(value) > LONGEST_VALUE:
            raise ValueError(value)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"“{field}” must be a date and time such as 2026-03-03 10:30.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _check_fits(since: datetime, until: datetime, bucket: int) -> None:
    """Invalid unless [since, until), aligned to `bucket`, can be drawn: the window as the
    service aligns it (floor and ceiling to the bucket), so its checks never fire after ours."""
    start = math.floor(since.timestamp() / bucket) * bucket
    end = math.ceil(until.timestamp() / bucket) * bucket
    span = view.duration(until - since) if until - since >= timedelta(minutes=1) else "the range"
    label = view.duration(timedelta(seconds=bucket))
    if end - start > MAX_WINDOW.total_seconds():
        raise Invalid(f"“From” and “To” may be at most {MAX_WINDOW.days} days apart.")
    if bucket > (until - since).total_seconds():
        raise Invalid(f"Bucket: {label} is longer than {span}; choose a smaller bucket.")
    points = (end - start) // bucket
    if points > MAX_POINTS:
        fits = next((name for name, size in BUCKETS.items()
                     if (end - start) / size <= MAX_POINTS), None)  # fmt: skip
        advice = f"choose {BUCKET_LABELS[fits]} or more" if fits else "choose a shorter range"
        raise Invalid(
            f"Bucket: {label} gives {points:,} points over {span} (at most {MAX_POINTS:,}); "
            f"{advice}."
        )


def _choices(labels: dict[str, str]) -> str:
    names = list(labels.values())
    return ", ".join(names[:-1]) + " or " + names[-1]
