"""The spans of one OTLP export, decoded into plain Python: what the mapping reads.

Both encodings (protobuf, `decode_proto.py`; OTLP/JSON, `decode_json.py`) become these, so the
mapping (`mapping.py`) is written once. Attribute values are JSON-ready and bounded here
(`Bounds`): the event's metadata copies them, and the write path's JSON contract
(app/services/validation.py) allows no NUL, no integer beyond 64 bits, no NaN, nesting at most
32 deep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from app.services.validation import MAX_BIGINT, MIN_BIGINT

# What one export may hold, and what is copied of each span. OTel SDKs export at most 512
# spans a request by default and keep at most 128 attributes and 128 events per span.
MAX_SPANS = 8192
MAX_ATTRIBUTES = 1024  # per span, resource and span event; the rest are dropped (SDKs keep 128)
MAX_EVENTS = 128  # span events read per span
MAX_ITEMS = 256  # items kept of one array or key-value list value
MAX_VALUE_DEPTH = 8  # nested arrays / key-value lists kept; deeper levels become TOO_DEEP
TOO_DEEP = "[nested too deep]"

STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2


@dataclass(frozen=True, slots=True)
class SpanEvent:
    """A span event (`gen_ai.choice`, `exception`, ...)."""

    name: str
    time_ns: int
    attributes: dict[str, Any]


@dataclass(slots=True)
class Span:
    """One span, with its resource's attributes and its instrumentation scope's name."""

    trace_id: str  # lower-case hex; "" when missing or malformed
    span_id: str
    parent_span_id: str  # "" for a root span
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    status_code: int
    status_message: str
    resource: dict[str, Any]  # shared by the spans of one resource: never mutated
    scope: str
    events: list[SpanEvent] = field(default_factory=list)


def clean_text(text: str) -> str:
    """Text the database can store: NUL characters become U+FFFD (lone surrogates cannot
    occur: protobuf checks UTF-8, and orjson refuses them)."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def clean_int(value: int) -> int | str:
    """An integer within 64 bits, else its decimal text (JSON columns hold 64-bit integers)."""
    return value if MIN_BIGINT <= value <= MAX_BIGINT else str(value)


def clean_float(value: float) -> float | str:
    """A finite number, else its name (`NaN`, `Infinity`): JSON has no such numbers."""
    if math.isfinite(value):
        return value
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


def hex_id(raw: bytes, length: int) -> str:
    """A trace or span id as hex; "" unless it has `length` bytes and is not all zeros (the
    spec's invalid id)."""
    if len(raw) != length or raw.count(0) == length:
        return ""
    return raw.hex()
