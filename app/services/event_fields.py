"""The optional fields an event may carry beside its text: `tags`, `status` and `error`.

One rule for REST, batch, GraphQL and OTLP (which maps span status and tag attributes here):
- `tags`: at most MAX_TAGS strings of 1..MAX_TAG_LENGTH characters; duplicates are dropped,
  keeping the first of each, so the stored list is the client's order without repeats.
- `status`: "ok" or "error"; absent means unknown (stored NULL, never guessed as "ok").
- `error`: text of at most MAX_ERROR_LENGTH characters. An error without a status means the
  call failed (status "error"); `status: "ok"` with an error contradicts itself: a 422 naming
  `error`, because silently keeping either half would make the error rate lie.
Bounded so that the tag rows of a batch and the error text of a page stay small.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictStr, ValidationInfo
from pydantic_core import PydanticCustomError

MAX_TAGS = 20
MAX_TAG_LENGTH = 64
MAX_ERROR_LENGTH = 4096
STATUSES = ("ok", "error")

Status = Literal["ok", "error"]


def unique(tags: list[str]) -> list[str]:
    """`tags` without repeats, first occurrences kept in order."""
    return list(dict.fromkeys(tags))


Tag = Annotated[StrictStr, Field(min_length=1, max_length=MAX_TAG_LENGTH)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(unique)]
ErrorText = Annotated[StrictStr, Field(max_length=MAX_ERROR_LENGTH)]

OK_WITH_ERROR = 'must not be given with status "ok" (leave status out or set it to "error")'


def no_error_when_ok(cls: type, error: str | None, info: ValidationInfo) -> str | None:
    """LogEventInput's validator of `error`: refused beside `status: "ok"` (raised as a pydantic
    error, which the 422 names by the field's path)."""
    if error is not None and info.data.get("status") == "ok":
        raise PydanticCustomError("error_with_status_ok", OK_WITH_ERROR)
    return error


def effective_status(status: str | None, error: str | None) -> str | None:
    """The status to store: the given one, else "error" when an error was given, else unknown."""
    if status is None and error is not None:
        return "error"
    return status
