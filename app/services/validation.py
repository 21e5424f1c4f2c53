"""Input rules for the write path, defined once for REST, batch and GraphQL.

One JSON contract (`check_json_values`): no NUL characters (PostgreSQL cannot store them), no
lone surrogates (text that is not Unicode), no NaN or Infinity, integers within 64 bits, at
most MAX_JSON_DEPTH levels of nesting. REST bodies are parsed by `parse_json` (orjson, with an
exact slow path only when the raw bytes call for it), GraphQL mutation inputs are checked by
`check_json_values` directly: both answer the same 422 `Invalid` naming the value's path.
Then the pydantic models below; the figures the rollups sum (tokens, latency, cost) are bounded
(`BOUNDS`) so that every stored sum stays exact or saturates (app/services/rollups/). Every
failure is an `Invalid`/`MalformedBody` whose details name the offending field.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from typing import Annotated, Any, NamedTuple, TypeVar

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from app.errors import Invalid, MalformedBody, PhosphoError
from app.services.event_fields import ErrorText, Status, Tags, no_error_when_ok

MAX_JSON_DEPTH = 32
MAX_BATCH = 1000
MAX_BIGINT = 2**63 - 1  # JSON integers anywhere in a body: what a 64-bit column or jsonb holds
MIN_BIGINT = -(2**63)
MAX_MODEL_LENGTH = 256

# Per-event bounds of the figures the rollups sum. Each is far above any real call (a billion
# tokens; 11.6 days; a million dollars) yet small enough that a sum of them is exact for as
# many events as any database holds, except cost: ~9,223 events at the maximum cost fill a
# 64-bit sum of nano-dollars, so stored sums saturate at 2^63 - 1 (rollups.MAX_SUM).
MAX_TOKENS = 1_000_000_000
MAX_LATENCY_MS = 1_000_000_000
MAX_COST_USD = 1_000_000

M = TypeVar("M", bound="BaseModel")

Identifier = Annotated[StrictStr, Field(min_length=1, max_length=256)]

# Recognised metadata keys: (snake_case, camelCase) -> typed column.
RECOGNISED = (
    ("tokens_in", "tokensIn"),
    ("tokens_out", "tokensOut"),
    ("latency_ms", "latencyMs"),
    ("cost_usd", "costUsd"),
)
# (integer, maximum) of each recognised figure; the minimum is 0.
BOUNDS: dict[str, tuple[bool, int]] = {
    "tokens_in": (True, MAX_TOKENS),
    "tokens_out": (True, MAX_TOKENS),
    "latency_ms": (False, MAX_LATENCY_MS),
    "cost_usd": (False, MAX_COST_USD),
}


def _integral(value: Any) -> Any:
    """An integral float (`1.0`) as the integer it is: JSON Schema counts it as an integer."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


# An integer field that also takes `1.0` (never `true`, `1.5` or `"1"`).
IntegralInt = Annotated[StrictInt, BeforeValidator(_integral)]


class LogEventInput(BaseModel):
    """One event as a client sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: StrictStr
    output: StrictStr
    session_id: Identifier | None = None
    user_id: Identifier | None = None
    metadata: dict[str, Any] | None = None
    event_id: uuid.UUID | None = None
    tags: Tags | None = None  # the rules of these three: app/services/event_fields.py
    status: Status | None = None
    error: ErrorText | None = None
    _no_error_when_ok = field_validator("error")(no_error_when_ok)


class LogEventsInput(BaseModel):
    """The batch endpoint's body."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events: list[LogEventInput] = Field(min_length=1, max_length=MAX_BATCH)


class FeedbackInput(BaseModel):
    """Feedback on one event: score 0 or 1 (an integer; `1.0` counts as one), optional comment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: IntegralInt = Field(ge=0, le=1)
    comment: StrictStr | None = None


class TypedMetadata(NamedTuple):
    """The recognised metadata of one event, lifted out of its JSON (a NamedTuple: built for
    every event, ~3x cheaper than a frozen dataclass)."""

    model: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_ms: float | None = None
    cost_usd: float | None = None  # the client's own cost, which overrides the estimate


# A run of 19 digits: the only way an integer outside 64 bits can be written. orjson reads
# integers up to 2^64 - 1 exactly and larger ones as floats, silently: a body with such a run
# (in a number, or merely in a string) is parsed again exactly.
_LONG_DIGITS = re.compile(rb"[0-9]{19}")
_DIGIT_MARKS = bytes(0x31 if 0x30 <= b <= 0x39 else 0x30 for b in range(256))  # "1": a digit
_BEYOND = 2**64  # what `_exact_int` makes of an integer too long to be anywhere near range


def _has_long_digit_run(raw: bytes) -> bool:
    """Whether `raw` holds 19 digits in a row, in ~3 µs for 10 KB of text where the regular
    expression alone takes ~120 µs (CPU time, measured). Any 19 bytes in a row hold two that
    are 9 apart at multiples of 9, so the bytes at every 9th offset are looked at first, and
    only where two in a row are digits (and the 10 bytes from the first are) is the regular
    expression run, near there; past a few such places (numbers everywhere, an embedding
    vector), over the whole body."""
    marks = raw[::9].translate(_DIGIT_MARKS)
    at, places = marks.find(b"11"), 0
    while at != -1:
        start = at * 9
        if raw[start : start + 10].isdigit():
            places += 1
            if places > 8:
                return _LONG_DIGITS.search(raw) is not None
            if _LONG_DIGITS.search(raw, max(0, start - 18), start + 28) is not None:
                return True
        at = marks.find(b"11", at + 1)
    return False


def parse_json(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a request body under the JSON contract (`check_json_values`): malformed JSON is a
    400, a readable value that breaks the contract a 422 naming its path. `max_depth` is for
    envelopes that wrap a write's body (GraphQL's `variables`), whose own depth is checked
    again once unwrapped.

    The fast path is orjson and a look at the values' types (~3 µs for a typical event); the
    walk and the exact parse run only when they are needed (an escaped NUL, deep nesting, a
    float out of range, a long digit run)."""
    if not raw.strip():
        raise MalformedBody("the request body is empty: send a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _explain(raw, exc, max_depth) from None
    if _has_long_digit_run(raw):
        data = _parse_exactly(raw)
        check_json_values(data, max_depth=max_depth)
    # orjson refuses raw control characters and lone surrogates, so a NUL can only arrive as
    # the escape \u0000; an integer outside 64 bits has a long digit run, and what else
    # can break the contract (a float beyond 64 bits, written with an exponent; nesting) is
    # found by `_unusual` without the walk. Most bodies skip the walk entirely.
    elif b"\\u0000" in raw or _unusual(data, max_depth):
        check_json_values(data, max_depth=max_depth)
    return data


_CONTAINERS = (dict, list)


def _unusual(data: Any, max_depth: int) -> bool:
    """Whether `data` (as orjson parsed it: plain dicts, lists, str, int, float, bool, None)
    nests deeper than `max_depth` or holds a float outside 64-bit integers' range: then the
    walk (`check_json_values`) runs, for the answer it always gave. It looks at each value's
    type only, level by level: ~1 µs an event of a batch of 100 where the walk, which checks
    every string, costs ~9 µs, and where finding exponents in the raw bytes cost ~3 µs
    (bytes.translate over all of the text; timeit, a loaded machine). Before, a batch always
    had more brackets than `max_depth`, which sent every batch through the walk."""
    if type(data) is float:
        return not MIN_BIGINT <= data <= MAX_BIGINT
    level = [data] if type(data) in _CONTAINERS else []
    for _ in range(max_depth):  # `level`: containers of one depth, from the top
        below = []
        for container in level:
            for value in container.values() if type(container) is dict else container:
                kind = type(value)
                if kind is dict or kind is list:
                    below.append(value)
                elif kind is float and not MIN_BIGINT <= value <= MAX_BIGINT:
                    return True
        if not below:
            return False
        level = below
    return True


def _parse_exactly(raw: bytes) -> Any:
    """The standard library's parser, which keeps every integer exact and reads NaN,
    Infinity, 1e400 and lone surrogates (for `check_json_values` to name them). A body too
    deep for it (about a thousand levels) is refused as too deep."""
    try:
        return json.loads(raw.decode("utf-8"), parse_int=_exact_int)
    except RecursionError:
        raise _invalid(("body",), _TOO_DEEP, "too_deep") from None


def _exact_int(text: str) -> int:
    # More than 20 characters cannot be in range: skip converting (quadratic in the digits).
    if len(text) > 20:
        return -_BEYOND if text.startswith("-") else _BEYOND
    return int(text)


def _explain(raw: bytes, error: orjson.JSONDecodeError, max_depth: int) -> PhosphoError:
    """What to answer for a body orjson refused: the contract's 422 naming the value when the
    body is JSON apart from a value the contract refuses (NaN, 1e400, a lone surrogate, too
    deep to parse), else 400."""
    if "depth limit" in str(error):  # past orjson's 1,024 levels: no parser here gets further
        return _invalid(("body",), _too_deep(max_depth), "too_deep")
    try:
        check_json_values(_parse_exactly(raw), max_depth=max_depth)
    except Invalid as invalid:
        return invalid
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        pass
    hint = ""
    if b"NaN" in raw or b"Infinity" in raw:
        hint = " (NaN and Infinity are not valid JSON numbers)"
    return MalformedBody(f"the request body is not valid JSON{hint}: {error}")


def _too_deep(levels: int) -> str:
    return f"JSON is nested more than {levels} levels deep"


_TOO_DEEP = _too_deep(MAX_JSON_DEPTH)


def check_json_values(
    data: Any, loc: tuple[Any, ...] = ("body",), *, max_depth: int = MAX_JSON_DEPTH
) -> None:
    """The JSON contract of every write: no NUL or lone surrogate in strings or keys, no NaN or
    Infinity, numbers within 64-bit integers' range (-2^63 to 2^63 - 1, however written: the
    OpenAPI document's JSON Schema, which cannot tell 1e19 from 10000000000000000000, says
    the same), nesting at most `max_depth` deep. Raises `Invalid`
    whose `loc` is the offending value's path, starting with `loc`."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(data, 1, loc)]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, str):
            _check_text(value, path, "string_")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise _invalid(path, _NOT_FINITE, "finite_number")
            if not MIN_BIGINT <= value <= MAX_BIGINT:
                raise _invalid(path, _NUMBER_OUT_OF_RANGE, "number_range")
        elif isinstance(value, int):
            if not MIN_BIGINT <= value <= MAX_BIGINT:
                raise _invalid(path, _OUT_OF_RANGE, "int_range")
        elif isinstance(value, dict | list):
            if depth > max_depth:
                raise _invalid(path, _too_deep(max_depth), "too_deep")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_text(key, (*path, key), "key_")
                stack.append((item, depth + 1, (*path, key)))


_NOT_FINITE = "must be a finite number (NaN, Infinity and numbers beyond ±1.8e308 are refused)"
_OUT_OF_RANGE = f"integers must be between {MIN_BIGINT} and {MAX_BIGINT}"
_NUMBER_OUT_OF_RANGE = f"numbers must be between {MIN_BIGINT} and {MAX_BIGINT}"


def _check_text(text: str, path: tuple[Any, ...], kind: str) -> None:
    """Refuse NUL characters and lone surrogates (a str that is not valid Unicode text)."""
    what = "keys" if kind == "key_" else "text"
    if "\x00" in text:
        raise _invalid(path, f"{what} must not contain NUL (\\u0000) characters", f"{kind}nul")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            msg = f"{what} must not contain lone surrogates (\\ud800-\\udfff): not Unicode text"
            if kind == "key_":  # the path ends with the key: spelt so the answer can be sent
                path = (*path[:-1], text.encode("utf-8", "backslashreplace").decode())
            raise _invalid(path, msg, f"{kind}surrogate") from None


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
    """Lift `model`, tokens, latency and cost out of metadata; a wrong type or a value out of
    its bound (`BOUNDS`) is a 422 naming the key. A plain integer within its bound, the usual
    figure, is taken as it is (~2 µs an event less than `_bounded`'s checks for each)."""
    if not metadata:
        return _NO_METADATA
    model = metadata.get("model")
    if model is not None and (not isinstance(model, str) or len(model) > MAX_MODEL_LENGTH):
        raise _invalid(
            (*loc, "model"), f"must be a string of at most {MAX_MODEL_LENGTH} characters"
        )
    values: list[Any] = []
    for snake, camel, integer, maximum in _FIGURES:
        if camel in metadata:
            if snake in metadata:
                raise _invalid((*loc, camel), f"give either {snake} or {camel}, not both")
            key, value = camel, metadata[camel]
        else:
            key, value = snake, metadata.get(snake)
        if value is not None:
            if type(value) is int and 0 <= value <= maximum:
                value = value if integer else float(value)
            else:
                value = _bounded(value, (*loc, key), integer, maximum)
        values.append(value)
    return TypedMetadata(model, *values)  # tokens_in, tokens_out, latency_ms, cost_usd


_NO_METADATA = TypedMetadata()
# (snake_case, camelCase, integer, maximum) of each recognised figure, in TypedMetadata's order.
_FIGURES = tuple((snake, camel, *BOUNDS[snake]) for snake, camel in RECOGNISED)


def _bounded(value: Any, loc: tuple[Any, ...], integer: bool, maximum: int) -> int | float:
    """The value as an int (integer figures; `100.0` is 100) or a float, within 0..maximum."""
    kind = "a non-negative integer" if integer else "a non-negative number"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(loc, f"must be {kind}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid(loc, _NOT_FINITE, "finite_number")
        if integer and not value.is_integer():
            raise _invalid(loc, f"must be {kind}")
    if value < 0:
        raise _invalid(loc, "must be a non-negative number")
    if value > maximum:
        raise _invalid(loc, f"must be at most {maximum}")
    return int(value) if integer else float(value)


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
    """A 422 naming the value at `loc` (its full path, `body` or a GraphQL argument first)."""
    return Invalid(f"{_dotted(loc)}: {msg}", details=[{"loc": list(loc), "msg": msg, "type": kind}])


def _dotted(loc: Any) -> str:
    return ".".join(str(part) for part in loc)
