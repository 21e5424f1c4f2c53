"""Byte budgets for reads: the text one request may load, checked before the text is loaded.

Stored text is large and unbounded by count: an event's input, output and metadata may each
approach the batch body limit (16 MiB), and an event may have any number of feedback comments.
A read that measured its answer after loading it would already hold it in memory. So a budgeted
read asks the database for the sizes first and for the text only while the running total fits,
in one statement:

    SELECT p.*, h.input, … FROM (light rows, their `size`, the running SUM(size) in list order) p
    LEFT JOIN events h ON h.id = p.id AND p.running <= :remaining
    WHERE p.running - p.size <= :remaining

The light part (ids, times, numbers) reads no text column; the join reads the text of the rows
that fit; the WHERE stops at the first row that does not (a list whose rows are many but small,
such as an event's feedback, never reaches Python whole). Sizes are measured in the database
(PostgreSQL reads `octet_length` from the TOAST header; SQLite reads the value inside its own
page cache), so a refused request holds at most its budget of text in Python.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from app.errors import PhosphoError
from app.services.sql import Dialect, fetch, select

if TYPE_CHECKING:
    from app.services.reads_pages import Keyset

# What a row costs beyond its text, in budget bytes: its ids, times and numbers as JSON, and
# roughly what the row takes in memory while it is read (a feedback row: ~0.6 KB as a dict
# and a view). Charged so that a list of many empty rows is bounded too.
ROW_BYTES = 512
# Text columns that hold JSON (measured as text).
JSON_COLUMNS = frozenset({"metadata"})
NO_PAGE = 2**62  # "every row is part of the answer" for lists that are not pages


class ResponseTooLarge(PhosphoError):
    """A request would load more text than its response may hold."""

    status_code = 413
    code = "response_too_large"


@dataclass(slots=True)
class ReadBudget:
    """How many bytes of stored text (and rows, at ROW_BYTES each) a request may still load.

    `setting` names the limit in refusals. Budgeted reads of one request take turns (`lock`):
    resolvers run concurrently, and each must see what the others already loaded.
    """

    limit: int
    setting: str = "the response size limit"
    used: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def remaining(self) -> int:
        """Bytes still available."""
        return max(0, self.limit - self.used)

    def refusal(self, wanted: int) -> ResponseTooLarge:
        """The error of a read that would pass the limit (`wanted`: a lower bound, in bytes)."""
        return ResponseTooLarge(
            f"the response would be larger than {self.setting} ({self.limit} bytes; at least "
            f"{self.used + wanted} needed): ask for fewer items (first) or fewer text fields "
            "(input, output, metadata, comment)",
            details=[{"limit": self.limit, "needed_at_least": self.used + wanted}],
        )


def octets(d: Dialect, column: str) -> str:
    """SQL for the size in bytes of a text (or JSON) column of the row, 0 when NULL."""
    if d.postgres:
        value = f"{column}::text" if column in JSON_COLUMNS else column
        return f"COALESCE(octet_length({value}), 0)"
    return f"COALESCE(length(CAST({column} AS BLOB)), 0)"


def row_size(d: Dialect, columns: Sequence[str]) -> str:
    """SQL for what one row costs the budget: ROW_BYTES plus the size of `columns`."""
    return " + ".join([str(ROW_BYTES), *(octets(d, column) for column in columns)])


@dataclass(frozen=True, slots=True)
class Read:
    """One read of `table`: the `light` columns (ids, times, numbers; `id` among them) of the
    rows matching `where`, in `order` (the terms of `tail`'s ORDER BY, e.g. ("created_at DESC",
    "id DESC")), with the `text` columns asked for. Only the first `page` rows are part of the
    answer (a page read fetches one more to learn whether another page follows)."""

    table: str
    light: str
    text: Sequence[str]
    where: str
    params: Sequence[Any]
    tail: str = ""
    order: Sequence[str] = ("id",)
    page: int = NO_PAGE
    # What the light part reads FROM when not `table` itself: a join exposed as a derived
    # table named like it (its parameters first in `params`). Text is read from `table`.
    source: str = ""

    def paged(self, keyset: Keyset[Any], limit: int) -> Read:
        """This read as one page of `keyset`'s list: its first `limit` rows, and one more that
        only says another page follows (the cursor's condition is already in `where`)."""
        params = [*self.params, limit + 1]
        return replace(self, params=params, tail=keyset.tail, order=keyset.order, page=limit)

    def budgeted_sql(self, d: Dialect) -> str:
        """The one statement: light rows with running sizes, text only for rows that fit."""
        size = f"{self.light}, {row_size(d, self.text)} AS size"
        light = select(size, self.source or self.table, self.where, self.tail)
        inner = ", ".join(self.order)
        outer = ", ".join(f"p.{term}" for term in self.order)
        text = "".join(f", h.{column} AS {column}" for column in self.text)
        return (
            f"SELECT p.*{text} FROM (SELECT q.*, SUM(q.size) OVER w AS running, "  # noqa: S608
            f"ROW_NUMBER() OVER w AS rn FROM ({light}) q "
            f"WINDOW w AS (ORDER BY {inner} ROWS UNBOUNDED PRECEDING)) p "
            f"LEFT JOIN {self.table} h ON h.id = p.id AND p.running <= ? AND p.rn <= ? "
            f"WHERE p.running - p.size <= ? ORDER BY {outer}"
        )


async def read_rows(d: Dialect, read: Read, budget: ReadBudget | None) -> list[dict[str, Any]]:
    """The rows of `read` with their text. With a `budget`, the text (and each row, at
    ROW_BYTES) is charged to it: ResponseTooLarge, before any text past the budget is loaded,
    when the answer's rows do not fit."""
    if budget is None or not read.text:
        columns = ", ".join([read.light, *read.text])
        source = read.source or read.table
        return await fetch(d, select(columns, source, read.where, read.tail), read.params)
    async with budget.lock:
        remaining = budget.remaining
        params = [*read.params, remaining, read.page, remaining]
        rows = await fetch(d, read.budgeted_sql(d), params)
        answer = [row for row in rows if row["rn"] <= read.page]
        needed = int(answer[-1]["running"]) if answer else 0
        # Rows are cut after the first that passes the budget, which is then the last one.
        if needed > remaining:
            raise budget.refusal(needed)
        budget.used += needed
    return rows
