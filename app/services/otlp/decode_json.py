"""OTLP/JSON (`application/json`) into `Span`s, walked directly from orjson's parse.

OTLP's JSON mapping differs from protobuf's canonical one: trace and span ids are hex, not
base64; 64-bit integers come as strings or numbers; enums as numbers or names. Converting the
ids and handing the document to `google.protobuf.json_format.ParseDict` (pure Python), then
reading the message, cost ~300 µs of CPU a span; this walk ~26-37 µs (512-span exports of
chat spans and HTTP spans, bench/otlp's and one built from the OpenLLMetry fixture, measured
in process; protobuf's C parser and `decode_proto` take ~13-17 µs). Field names are
lowerCamelCase as the spec says; the proto names (snake_case) are read too, as protobuf's own
JSON parser does. Anything of the wrong type is a 400 naming its place.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from app.errors import MalformedBody, PayloadTooLarge
from app.services.otlp.decode_proto import too_many_spans
from app.services.otlp.spans import (
    MAX_ATTRIBUTES,
    MAX_EVENTS,
    MAX_ITEMS,
    MAX_SPANS,
    MAX_VALUE_DEPTH,
    TOO_DEEP,
    Span,
    SpanEvent,
    clean_float,
    clean_int,
    clean_text,
)

SPAN_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3, "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5,
}  # fmt: skip
STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
UINT64_MAX = 2**64 - 1


class _Wrong(Exception):
    """A value of the wrong type (turned into one MalformedBody naming its place). The place
    is built only on the way out, each level adding its part: formatting it for every value
    read cost ~25% of decoding."""

    def __init__(self, member: str, expected: str) -> None:
        super().__init__(member)
        self.path = [member] if member else []
        self.expected = expected

    def at(self, *parts: str) -> _Wrong:
        """This error, inside `parts` (outermost first)."""
        self.path[:0] = parts
        return self

    @property
    def where(self) -> str:
        return ".".join(self.path) or "the body"


def decode_json(raw: bytes) -> list[Span]:
    """Every span of the export; MalformedBody (400) for a body that is not OTLP/JSON,
    PayloadTooLarge past MAX_SPANS spans."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"the request body is not valid JSON: {exc}") from None
    try:
        return _request(data)
    except _Wrong as wrong:
        raise MalformedBody(
            f"not an OTLP/JSON ExportTraceServiceRequest: {wrong.where} must be {wrong.expected}"
        ) from None


_Scopes = list[tuple[str, list[Any]]]


def _request(data: Any) -> list[Span]:
    resources: list[tuple[dict[str, Any], _Scopes]] = []
    for r, item in enumerate(_list(_object(data), "resourceSpans", "resource_spans")):
        try:
            resources.append(_resource_spans(item))
        except _Wrong as wrong:
            raise wrong.at(f"resourceSpans[{r}]") from None
    count = sum(len(spans) for _, scopes in resources for _, spans in scopes)
    if count > MAX_SPANS:
        raise PayloadTooLarge(too_many_spans(count))
    decoded: list[Span] = []
    for r, (resource, scopes) in enumerate(resources):
        for s, (scope, spans) in enumerate(scopes):
            for n, span in enumerate(spans):
                try:
                    decoded.append(_span(span, resource, scope))
                except _Wrong as wrong:
                    where = (f"resourceSpans[{r}]", f"scopeSpans[{s}]", f"spans[{n}]")
                    raise wrong.at(*where) from None
    return decoded


def _resource_spans(item: Any) -> tuple[dict[str, Any], _Scopes]:
    """A resource's attributes, and each scope's name and (undecoded) spans."""
    item = _object(item)
    resource = _attributes(_member(item, "resource", "resource"), "resource")
    scopes: _Scopes = []
    for s, scope_spans in enumerate(_list(item, "scopeSpans", "scope_spans")):
        try:
            scope_spans = _object(scope_spans)
            name = _text(_member(scope_spans, "scope", "scope"), "name", "name", "scope")
            scopes.append((name, _list(scope_spans, "spans", "spans")))
        except _Wrong as wrong:
            raise wrong.at(f"scopeSpans[{s}]") from None
    return resource, scopes


def _span(span: Any, resource: dict[str, Any], scope: str) -> Span:
    span = _object(span)
    status = _member(span, "status", "status")
    return Span(
        trace_id=_id(span, "traceId", "trace_id", 16),
        span_id=_id(span, "spanId", "span_id", 8),
        parent_span_id=_id(span, "parentSpanId", "parent_span_id", 8),
        name=_text(span, "name", "name"),
        kind=_enum(span, "kind", "kind", SPAN_KINDS),
        start_ns=_uint64(span, "startTimeUnixNano", "start_time_unix_nano"),
        end_ns=_uint64(span, "endTimeUnixNano", "end_time_unix_nano"),
        attributes=_attributes(span),
        status_code=_enum(status, "code", "code", STATUS_CODES, "status"),
        status_message=_text(status, "message", "message", "status"),
        resource=resource,
        scope=scope,
        events=_events(_list(span, "events", "events")[:MAX_EVENTS]),
    )


def _events(events: list[Any]) -> list[SpanEvent]:
    decoded: list[SpanEvent] = []
    for n, event in enumerate(events):
        try:
            event = _object(event)
            time_ns = _uint64(event, "timeUnixNano", "time_unix_nano")
            decoded.append(SpanEvent(_text(event, "name", "name"), time_ns, _attributes(event)))
        except _Wrong as wrong:
            raise wrong.at(f"events[{n}]") from None
    return decoded


def _field(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """A member under its JSON name or its proto name; both given is a 400, as protobuf's own
    JSON parsers refuse a field given twice (which of the two would count is not said)."""
    if camel != snake and snake in obj:
        if camel in obj:
            raise _Wrong(camel, f"given once, not also as {snake}")
        return obj[snake]
    return obj.get(camel)


def _object(value: Any, member: str = "") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Wrong(member, "an object")
    return value


def _member(obj: dict[str, Any], camel: str, snake: str) -> dict[str, Any]:
    """An object member; absent or null: empty."""
    found = _field(obj, camel, snake)
    return {} if found is None else _object(found, camel)


def _list(obj: dict[str, Any], camel: str, snake: str) -> list[Any]:
    found = _field(obj, camel, snake)
    if found is None:
        return []
    if not isinstance(found, list):
        raise _Wrong(camel, "an array")
    return found


def _text(obj: dict[str, Any], camel: str, snake: str, inside: str = "") -> str:
    found = _field(obj, camel, snake)
    if found is None:
        return ""
    if not isinstance(found, str):
        raise _Wrong(camel, "a string").at(inside) if inside else _Wrong(camel, "a string")
    return clean_text(found)


def _integer(found: Any, member: str) -> int:
    """An int64/uint64 as OTLP/JSON writes it: a number or a decimal string."""
    if isinstance(found, int) and not isinstance(found, bool):
        return found
    if isinstance(found, str):
        try:
            return int(found)
        except ValueError:
            pass
    elif isinstance(found, float) and found.is_integer():
        return int(found)
    raise _Wrong(member, "an integer (a number or a decimal string)")


def _uint64(obj: dict[str, Any], camel: str, snake: str) -> int:
    found = _field(obj, camel, snake)
    if found is None:
        return 0
    number = _integer(found, camel)
    if not 0 <= number <= UINT64_MAX:
        raise _Wrong(camel, "an unsigned 64-bit integer")
    return number


def _enum(
    obj: dict[str, Any], camel: str, snake: str, names: dict[str, int], inside: str = ""
) -> int:
    found = _field(obj, camel, snake)
    if found is None:
        return 0
    if isinstance(found, str) and found in names:
        return names[found]
    if isinstance(found, float) and found.is_integer():  # JSON Schema's integer allows 1.0
        found = int(found)
    if isinstance(found, int) and not isinstance(found, bool) and -(2**31) <= found < 2**31:
        return found  # enums are 32-bit: a number not named is kept, as protobuf does
    wrong = _Wrong(camel, f"one of {', '.join(names)} or its (32-bit) number")
    raise wrong.at(inside) if inside else wrong


def _id(obj: dict[str, Any], camel: str, snake: str, length: int) -> str:
    """A trace or span id as lower-case hex ("" when missing, all zeros or not `length`
    bytes). OTLP/JSON writes hex; base64 (protobuf's JSON form, which some exporters send)
    is read too."""
    found = _field(obj, camel, snake)
    if found is None:
        return ""
    if not isinstance(found, str):
        raise _Wrong(camel, "a hex string")
    try:
        raw = bytes.fromhex(found) if len(found) == 2 * length else base64.b64decode(found)
    except (ValueError, binascii.Error):
        return ""
    return raw.hex() if len(raw) == length and any(raw) else ""


def _attributes(obj: dict[str, Any], inside: str = "") -> dict[str, Any]:
    try:
        return _pairs(_list(obj, "attributes", "attributes")[:MAX_ATTRIBUTES], 1, "attributes")
    except _Wrong as wrong:
        raise wrong.at(inside) if inside else wrong from None


def _pairs(pairs: list[Any], depth: int, name: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for n, pair in enumerate(pairs):
        try:
            pair = _object(pair)
            value = _field(pair, "value", "value")
            if value is not None:
                try:
                    value = _value(_object(value), depth)
                except _Wrong as wrong:
                    raise wrong.at("value") from None
            result[_text(pair, "key", "key")] = value
        except _Wrong as wrong:
            raise wrong.at(f"{name}[{n}]") from None
    return result


def _value(value: dict[str, Any], depth: int) -> Any:
    """An AnyValue as JSON-ready Python (see `spans.py` for the bounds). It should set one
    member; when it sets several, each is checked (a wrong one is a 400) and the first kept."""
    found: list[Any] = []
    for camel, snake in _SCALARS:
        member = _field(value, camel, snake)
        if member is not None:
            found.append(_scalar(camel, member))
    array = _field(value, "arrayValue", "array_value")
    kvlist = _field(value, "kvlistValue", "kvlist_value")
    if (array is not None or kvlist is not None) and depth >= MAX_VALUE_DEPTH:
        found.append(TOO_DEEP)
    else:
        if array is not None:
            found.append(_array(_object(array, "arrayValue"), depth))
        if kvlist is not None:
            pairs = _list(_object(kvlist, "kvlistValue"), "values", "values")
            found.append(_pairs(pairs[:MAX_ITEMS], depth + 1, "kvlistValue.values"))
    return found[0] if found else None


def _array(array: dict[str, Any], depth: int) -> list[Any]:
    items: list[Any] = []
    for n, item in enumerate(_list(array, "values", "values")[:MAX_ITEMS]):
        try:
            items.append(_value(_object(item), depth + 1))
        except _Wrong as wrong:
            raise wrong.at(f"arrayValue.values[{n}]") from None
    return items


_SCALARS = (
    ("stringValue", "string_value"), ("boolValue", "bool_value"), ("intValue", "int_value"),
    ("doubleValue", "double_value"), ("bytesValue", "bytes_value"),
)  # fmt: skip


def _scalar(kind: str, found: Any) -> Any:
    if kind == "stringValue":
        if not isinstance(found, str):
            raise _Wrong(kind, "a string")
        return clean_text(found)
    if kind == "boolValue":
        if not isinstance(found, bool):
            raise _Wrong(kind, "true or false")
        return found
    if kind == "intValue":
        return clean_int(_integer(found, kind))
    if kind == "doubleValue":
        if isinstance(found, str) and found in ("NaN", "Infinity", "-Infinity"):
            return found
        if isinstance(found, bool) or not isinstance(found, int | float):
            raise _Wrong(kind, "a number")
        return clean_float(float(found))
    if not isinstance(found, str):  # bytesValue: base64 text, kept as it came
        raise _Wrong(kind, "a base64 string")
    return clean_text(found)
