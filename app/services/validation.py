"""Input rules for the write path, defined once for REST, batch and GraphQL.

Bodies are parsed with orjson (strict JSON: no NaN or Infinity), walked once to bound nesting and
refuse NUL characters (PostgreSQL cannot store them), then validated by the pydantic models below.
Every failure is an `Invalid`/`MalformedBody` whose details name the offending field.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from app.errors import Invalid, MalformedBody

MAX_JSON_DEPTH = 32
MAX_BATCH = 1000
MAX_BIGINT = 2**63 - 1
MAX_MODEL_LENGTH = 256

M = TypeVar("M", bound="BaseModel")

Identifier = Annotated[StrictStr, Field(min_length=1, max_length=256)]

# Recognised metadata keys: (snake_case, camelCase) -> typed column.
RECOGNISED = (
    ("tokens_in", "tokensIn"),
    ("tokens_out", "tokensOut"),
    ("latency_ms", "latencyMs"),
    ("cost_usd", "costUsd"),
)
MAX_COST_USD = 1_000_000  # per event: keeps sums of nano-dollars far inside a 64-bit integer
FRACTIONAL = {"latency_ms", "cost_usd"}


class LogEventInput(BaseModel):
    """One event as a client sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: StrictStr
    output: StrictStr
    session_id: Identifier | None = None
    user_id: Identifier | None = None
    metadata: dict[str, Any] | None = None
    event_id: uuid.UUID | None = None


class LogEventsInput(BaseModel):
    """The batch endpoint's body."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events: list[LogEventInput] = Field(min_length=1, max_length=MAX_BATCH)


class FeedbackInput(BaseModel):
    """Feedback on one event: score 0 or 1 (strictly an integer), optional comment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: StrictInt = Field(ge=0, le=1)
    comment: StrictStr | None = None


@dataclass(frozen=True, slots=True)
class TypedMetadata:
    """The recognised metadata of one event, lifted out of its JSON."""

    model: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_ms: float | None = None
    cost_usd: float | None = None  # the client's own cost, which overrides the estimate


def parse_json(raw: bytes) -> Any:
    """Parse a request body; refuse what is not strict JSON or is nested too deeply."""
    if not raw.strip():
        raise MalformedBody("the request body is empty: send a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        hint = ""
        if b"NaN" in raw or b"Infinity" in raw:
            hint = " (NaN and Infinity are not valid JSON numbers)"
        raise MalformedBody(f"the request body is not valid JSON{hint}: {exc}") from None
    # orjson refuses raw control characters, so a NUL can only arrive as the escape \u0000;
    # and a body with few brackets cannot be deep. Most bodies skip the walk entirely.
    if b"\\u0000" in raw or raw.count(b"{") + raw.count(b"[") > MAX_JSON_DEPTH:
        check_json_values(data)
    return data


def check_json_values(data: Any) -> None:
    """Bound nesting depth and refuse NUL characters anywhere in keys or strings."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(data, 1, ())]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise _invalid(path, "must not contain NUL (\\u0000) characters", "string_nul")
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                msg = f"JSON is nested more than {MAX_JSON_DEPTH} levels deep"
                raise _invalid(path, msg, "too_deep")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and "\x00" in key:
                    raise _invalid((*path, key), "keys must not contain NUL characters", "key_nul")
                stack.append((item, depth + 1, (*path, key)))


def validate_event(data: Any, loc: tuple[Any, ...] = ("body",)) -> LogEventInput:
    """Validate one event body (already parsed)."""
    return _validate(LogEventInput, data, loc)


def validate_batch(data: Any) -> LogEventsInput:
    """Validate a batch body: all or nothing, errors carry the failing item's index."""
    return _validate(LogEventsInput, data, ("body",))


def validate_feedback(data: Any) -> FeedbackInput:
    """Validate a feedback body."""
    return _validate(FeedbackInput, data, ("body",))


def typed_metadata(metadata: dict[str, Any] | None, loc: tuple[Any, ...]) -> TypedMetadata:
    """Lift `model`, tokens and latency out of metadata; a wrong type is a 422 naming the key."""
    if not metadata:
        return TypedMetadata()
    model = metadata.get("model")
    if model is not None and (not isinstance(model, str) or len(model) > MAX_MODEL_LENGTH):
        raise _invalid(
            (*loc, "model"), f"must be a string of at most {MAX_MODEL_LENGTH} characters"
        )
    values: list[Any] = []
    for snake, camel in RECOGNISED:
        if snake in metadata and camel in metadata:
            raise _invalid((*loc, camel), f"give either {snake} or {camel}, not both")
        key = snake if snake in metadata else camel
        value = metadata.get(key)
        if value is not None:
            _check_number(value, (*loc, key), integer=snake not in FRACTIONAL)
            if snake == "cost_usd" and value > MAX_COST_USD:
                raise _invalid((*loc, key), f"must be at most {MAX_COST_USD}")
        values.append(value)
    tokens_in, tokens_out, latency, cost = values
    return TypedMetadata(
        model=model,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        latency_ms=float(latency) if latency is not None else None,
        cost_usd=float(cost) if cost is not None else None,
    )


def _check_number(value: Any, loc: tuple[Any, ...], *, integer: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "a non-negative integer" if integer else "a non-negative number"
        raise _invalid(loc, f"must be {kind}")
    if integer and not isinstance(value, int):
        raise _invalid(loc, "must be a non-negative integer")
    if value < 0 or (isinstance(value, float) and not math.isfinite(value)):
        raise _invalid(loc, "must be a non-negative number")
    if value > MAX_BIGINT:
        raise _invalid(loc, f"must be at most {MAX_BIGINT}")


def _validate(model: type[M], data: Any, loc: tuple[Any, ...]) -> M:
    if not isinstance(data, dict):
        raise Invalid(
            "the request body must be a JSON object",
            details=[{"loc": list(loc), "msg": "must be a JSON object", "type": "object_type"}],
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [
            {"loc": [*loc, *err["loc"]], "msg": _message(err), "type": err["type"]}
            for err in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        first = details[0]
        raise Invalid(f"{_dotted(first['loc'])}: {first['msg']}", details=details) from None


def _message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field (check the spelling: fields are snake_case, e.g. session_id)"
    if err["type"] == "missing":
        return "field required"
    return str(err["msg"])


def _invalid(loc: tuple[Any, ...], msg: str, kind: str = "value_error") -> Invalid:
    full = ("body", *loc) if not loc or loc[0] != "body" else loc
    return Invalid(
        f"{_dotted(full)}: {msg}", details=[{"loc": list(full), "msg": msg, "type": kind}]
    )


def _dotted(loc: Any) -> str:
    return ".".join(str(part) for part in loc)
