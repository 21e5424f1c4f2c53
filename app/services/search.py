"""Text search over events' input and output: one rule for SQLite, PostgreSQL and live streams.

The rule (the same everywhere): a text is cut into words at every character that is not a
letter or a digit, and lowercased; a query matches an event when each of its words is the
start of some word of the event's input or output (AND). "gpt-4o" is the words gpt and 4o, so
`gpt-4` finds "GPT-4o mini". Only the first `CAP` characters of each field are indexed (and
looked at by the live filter): PostgreSQL refuses a tsvector of 1 MB or more, and 2 x 50,000
characters stay under it whatever the text (at worst ~6 bytes per character: a distinct
one-letter word between single separators). The event itself is stored whole.

Why an index of words rather than trigrams: an FTS5 trigram index costs ~4x the insert time
of a unicode61 one and ~3x the text in size (measured: 24.6 µs vs 6.2 µs a row), i.e. ~45%
of the ingest rate, for substring matches users rarely need.

- **SQLite**: `event_search`, a contentless FTS5 table (unicode61, diacritics kept) over the
  capped input and output, filled and emptied by triggers on `events` in the writer's own
  transaction (every insert and delete path: ingest, retention, erasure, project deletion).
  Its rowid is not `events.rowid` (VACUUM may renumber that: events has a UUID key) but a key
  of its own, `event_search_ids.key` = the event's millisecond (`created_at`) << 22 plus a
  sequence, mapped to the event id. Keys follow time, so a newest-first page reads the index
  backwards from the cursor's key and stops after a page (no sort of every hit); events of
  one millisecond come in the order they were stored (which is id order for the server's
  own ids). Not a project token in the index: a phrase every event of a project carries
  made every query (and bm25's document counts) read the project's whole posting list.
- **PostgreSQL**: `events.search_vector` (`PG_VECTOR`), a stored generated column of the same
  words (non-alphanumeric runs made spaces, the `simple` configuration lowercases) with a GIN
  index, queried with a prefix tsquery. Stored, so that checking a page's newest rows reads
  the words instead of recomputing them. Whether a page walks the newest rows or asks the
  index is chosen from the words' statistics (`reads_search_pg`).
- **Best match**: the newest `POOL` matches ranked by bm25 (SQLite) or ts_rank (PostgreSQL),
  best first: ranking every match of a common word would read every matching row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from app.errors import Invalid
from app.services.sql import Dialect

CAP = 50_000  # characters of each of input and output that are indexed
MAX_QUERY_CHARS = 256
MAX_QUERY_WORDS = 12
POOL = 500  # best match ranks the newest this many matches
# A run of letters and digits (str.isalnum: Unicode L* and N*): a word.
_WORD = re.compile(r"[^\W_]+")
# PostgreSQL: the words of an event as the index holds them; a query must use this very
# expression for the planner to use the index.
# The words of an event on PostgreSQL: `events.search_vector`, a stored generated column
# (migration 15) of to_tsvector('simple', regexp_replace(left(input, CAP) || ' ' ||
# left(output, CAP), '[^[:alnum:]]+', ' ', 'g')), with its GIN index `idx_events_search`.
PG_VECTOR = "search_vector"
# SQLite: the millisecond of a stored time, as the triggers key the index (monotone in time).
SQLITE_MS = "CAST(ROUND((julianday({t}) - 2440587.5) * 86400000) AS INTEGER)"
KEY_BITS = 22  # a key is (millisecond << KEY_BITS) + a sequence within the millisecond
# The FTS hits of one query joined to their events, exposed as a table named `events` with
# `hit` (the index key) and `score` (bm25, larger is better). CROSS JOIN keeps the index as
# the outer loop: SQLite would otherwise probe FTS5 once per event.
SQLITE_HITS = (
    "(SELECT e.*, s.rowid AS hit, -bm25(event_search, 1.0, 1.0, 0.0) AS score "
    "FROM event_search s CROSS JOIN event_search_ids m ON m.key = s.rowid "
    "CROSS JOIN events e ON e.id = m.event_id WHERE event_search MATCH ?) events"
)


def words(text: str) -> list[str]:
    """The words of `text`, lowercased, in order."""
    return [word.lower() for word in _WORD.findall(text)]


@dataclass(frozen=True, slots=True)
class TextQuery:
    """A parsed search: its distinct words, in the order given (none: no filter)."""

    words: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.words)

    def fts5(self) -> str:
        """The FTS5 MATCH expression: every word as a prefix (letters and digits only, so
        quoting them is enough)."""
        return " AND ".join(f'"{word}"*' for word in self.words)

    def tsquery(self) -> str:
        """The PostgreSQL tsquery text: every word as a prefix (`'word':*`), AND-ed."""
        return " & ".join(f"'{word}':*" for word in self.words)

    def matches(self, *texts: str) -> bool:
        """Whether every word starts some word of `texts` (each capped at CAP characters)."""
        if not self.words:
            return True
        found = {word for text in texts for word in words(text[:CAP])}
        return all(any(have.startswith(want) for have in found) for want in self.words)


NO_QUERY = TextQuery(())


def parse_query(text: str | None) -> TextQuery:
    """The words of a search box's text; Invalid (a 422 that says why) past the bounds. A text
    without a letter or digit is no filter."""
    if not text:
        return NO_QUERY
    if len(text) > MAX_QUERY_CHARS:
        raise Invalid(f"search must be at most {MAX_QUERY_CHARS} characters")
    found = tuple(dict.fromkeys(words(text)))
    if len(found) > MAX_QUERY_WORDS:
        raise Invalid(f"search must have at most {MAX_QUERY_WORDS} words")
    return TextQuery(found)


def condition(d: Dialect, query: TextQuery) -> tuple[str, list[str]]:
    """A WHERE condition on `events` rows matching `query`, and its parameters (for counts,
    exports and tag lists; a newest-first page on SQLite reads along the keys instead)."""
    if d.postgres:
        return f"{PG_VECTOR} @@ to_tsquery('simple', ?)", [query.tsquery()]
    inner = (
        "SELECT m.event_id FROM event_search s CROSS JOIN event_search_ids m "
        "ON m.key = s.rowid WHERE event_search MATCH ?"
    )
    return f"id IN ({inner})", [query.fts5()]


def sqlite_after(event_id: object, at: object) -> tuple[str, list[object]]:
    """The hits after a cursor's event in key order: keys below its key (looked up by its
    id), or below its millisecond's first key when it is gone since (`at`: its stored time)."""
    first = f"({SQLITE_MS.format(t='?')} << {KEY_BITS})"  # its millisecond's first key
    clause = (
        "hit < COALESCE((SELECT key FROM event_search_ids WHERE event_id = ? "  # noqa: S608
        f"AND key >= {first} AND key < {first} + {1 << KEY_BITS}), {first})"
    )
    return clause, [event_id, at, at, at]


def highlight_spans(text: str, query: TextQuery) -> list[tuple[int, int]]:
    """Where `query`'s words match in `text`: (start, end) of each word start that matches,
    in order, not overlapping (the longest matching query word of each word)."""
    if not query.words:
        return []
    spans = []
    for found in _WORD.finditer(text):
        lowered = found.group().lower()
        best = max((w for w in query.words if lowered.startswith(w)), key=len, default="")
        if best:
            # Lowercasing keeps the length of almost every letter; when it does not, mark
            # the whole word rather than guess where the prefix ends.
            same = len(lowered) == len(found.group())
            spans.append((found.start(), found.start() + len(best) if same else found.end()))
    return spans


def first_match(texts: Iterable[str], query: TextQuery) -> int | None:
    """The index of the first of `texts` with a match (for a snippet), None without one."""
    for n, text in enumerate(texts):
        if highlight_spans(text[:CAP], query):
            return n
    return None
