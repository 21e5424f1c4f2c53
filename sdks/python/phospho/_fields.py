"""The optional event fields `tags`, `status` and `error`, checked locally by the server's rules.

Refused here, at the call, rather than by the server: in background mode a refused event would
otherwise only show up in the log, and in a batch it would refuse its neighbours too.
"""

from __future__ import annotations

from typing import Any

from phospho._errors import ValidationError

MAX_TAGS = 20
MAX_TAG_LENGTH = 64
MAX_ERROR_LENGTH = 4096
STATUSES = ("ok", "error")


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(
        f"{field}: {message}",
        code="invalid",
        errors=[{"loc": [field], "msg": message, "type": "value_error"}],
    )


def event_fields(tags: Any, status: Any, error: Any) -> dict[str, Any]:
    """The fields to send (those given), or `ValidationError` naming the first bad one. Tags
    go as given (the server drops repeats, keeping the first); an error without a status means
    status "error" to the server; status "ok" with an error is refused."""
    fields: dict[str, Any] = {}
    if tags is not None:
        if isinstance(tags, str) or not isinstance(tags, (list, tuple)):
            raise _invalid("tags", f"must be a list of strings (got {type(tags).__name__})")
        if len(tags) > MAX_TAGS:
            raise _invalid("tags", f"at most {MAX_TAGS} tags (got {len(tags)})")
        for index, tag in enumerate(tags):
            if not isinstance(tag, str) or not 1 <= len(tag) <= MAX_TAG_LENGTH:
                raise _invalid(f"tags[{index}]", f"must be a string of 1 to {MAX_TAG_LENGTH} "
                               "characters")  # fmt: skip
        fields["tags"] = list(tags)
    if status is not None:
        if status not in STATUSES:
            raise _invalid("status", f'must be "ok" or "error" (got {status!r})')
        fields["status"] = status
    if error is not None:
        if not isinstance(error, str) or len(error) > MAX_ERROR_LENGTH:
            raise _invalid("error", f"must be a string of at most {MAX_ERROR_LENGTH} characters")
        if status == "ok":
            raise _invalid("error", 'must not be given with status "ok"')
        fields["error"] = error
    return fields
