"""Build OTLP trace exports in tests with the opentelemetry-proto classes (no SDK): spans with
exact ids, times, attributes, events and status."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

MS = 1_000_000


def any_value(value: Any) -> AnyValue:
    """A Python value as an OTLP AnyValue."""
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        out = AnyValue()
        out.array_value.values.extend(any_value(item) for item in value)
        return out
    if isinstance(value, dict):
        out = AnyValue()
        out.kvlist_value.values.extend(key_values(value))
        return out
    return AnyValue(string_value=str(value))


def key_values(attributes: dict[str, Any]) -> list[KeyValue]:
    """A dict as OTLP key-value pairs."""
    return [KeyValue(key=key, value=any_value(value)) for key, value in attributes.items()]


@dataclass
class S:
    """One span to build: ids as ints, times in ms relative to `base_ms` of `export`."""

    name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    trace: int = 1
    span: int = 1
    parent: int = 0
    start_ms: int = 0
    duration_ms: int = 100
    status: int = 0
    message: str = ""
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def now_ms() -> int:
    """A start for exported spans: a minute ago, whole milliseconds."""
    return (time.time_ns() // MS) - 60_000


def export(
    spans: list[S], resource: dict[str, Any] | None = None, base_ms: int | None = None
) -> bytes:
    """A serialized ExportTraceServiceRequest with one resource and one scope."""
    base = now_ms() if base_ms is None else base_ms
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(key_values(resource or {"service.name": "test"}))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "tests.otlp"
    for one in spans:
        start = (base + one.start_ms) * MS
        span = Span(
            trace_id=one.trace.to_bytes(16, "big"),
            span_id=one.span.to_bytes(8, "big"),
            parent_span_id=one.parent.to_bytes(8, "big") if one.parent else b"",
            name=one.name,
            kind=Span.SPAN_KIND_CLIENT,
            start_time_unix_nano=start,
            end_time_unix_nano=start + one.duration_ms * MS,
            status=Status(code=one.status, message=one.message),  # type: ignore[arg-type]
        )
        span.attributes.extend(key_values(one.attributes))
        for name, attributes in one.events:
            event = span.events.add(name=name, time_unix_nano=start)
            event.attributes.extend(key_values(attributes))
        scope_spans.spans.append(span)
    return request.SerializeToString()


def chat(span: int = 1, trace: int = 1, **attributes: Any) -> S:
    """A chat span in the current GenAI conventions (one user turn, one answer)."""
    base: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
        "gen_ai.output.messages": (
            '[{"role":"assistant","parts":[{"type":"text","content":"hello"}]}]'
        ),
    }
    return S(f"chat {span}", {**base, **attributes}, trace=trace, span=span)


def http(span: int, trace: int = 1, parent: int = 0, **attributes: Any) -> S:
    """An HTTP client span (not an LLM call)."""
    attrs = {"http.request.method": "GET", "url.full": f"http://shop/{span}", **attributes}
    return S(f"GET /{span}", attrs, trace=trace, span=span, parent=parent, duration_ms=15)
