"""Request bodies: 512-span OTLP protobuf exports (half LLM spans) and the same events as REST.

An export holds 64 traces of 8 spans: each trace is a web request (one SERVER span, three HTTP
CLIENT spans) around four chat calls in the current GenAI conventions (model, tokens, input and
output messages as JSON, `session.id` / `user.id`). Every export has its own trace and span ids:
the server derives event ids from them, so a re-used body would be an idempotent retry, stored
once. Each export has two REST twins, one `/api/v1/events/batch` body of 256 events each:
- `same_rows`: the event bodies the server's own mapping (app.services.otlp) makes of the
  export, nothing dropped (text, metadata with `otel` and `messages`, tags, status, event_id),
  so both routes store the same rows and the ratio isolates what OTLP costs over REST (decode
  and map, and the event's own time). Only the event ids differ: they are derived for another
  project number (`TWIN_PROJECT`), so a twin never collides with its export's OTLP events
  (which would make it a retry, stored nothing); they are still client-chosen ids, checked for
  retries like the OTLP ones, and unique per export (fresh trace ids).
- `minimal`: the same text, session, user, model, tokens and latency with only the ids and
  `service.name` in metadata: what a REST client typically sends (for information).
"""

from __future__ import annotations

import hashlib
import json

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from app.services.otlp import map_spans
from app.services.otlp.decode_proto import decode_proto

TRACES_PER_EXPORT = 64
LLM_PER_TRACE = 4
HTTP_PER_TRACE = 4  # one SERVER span and three CLIENT spans
SPANS_PER_EXPORT = TRACES_PER_EXPORT * (LLM_PER_TRACE + HTTP_PER_TRACE)
LLM_PER_EXPORT = TRACES_PER_EXPORT * LLM_PER_TRACE
SESSIONS = 32
MS = 1_000_000
TWIN_PROJECT = -1  # the project number the same-rows twin's event ids are derived for

_PROMPT = (
    "I ordered a hardback copy of a novel two weeks ago and the tracking page has not changed "
    "since it left the warehouse. Can you tell me where my parcel is, and whether I can still "
    "change the delivery address to my office? Order reference {n:06d}."
)
_ANSWER = (
    "I'm sorry about the wait. Your parcel was handed to the carrier, who reports a delay at "
    "their regional sorting centre; it should arrive within two working days. The address can "
    "no longer be changed, but you can ask the carrier to hold it at a pickup point."
)
_SYSTEM = "You are a helpful assistant for an online bookshop."


def trace_id_of(run_id: int, number: int) -> bytes:
    """Trace `number` of run `run_id`'s id: random-looking, as SDKs make them. Counters as ids
    would be hex made of decimal digits only, a run of 19 digits the REST route's JSON check
    must parse exactly (validation.parse_json): a cost real ids (one in ~500) rarely bring."""
    return hashlib.blake2b(f"{run_id}:{number}".encode(), digest_size=16).digest()


def span_id(number: int) -> bytes:
    """Span `number`'s id (unique in its trace, random-looking like trace ids)."""
    return hashlib.blake2b(number.to_bytes(8, "big"), digest_size=8).digest()


def _kv(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _messages(role: str, text: str) -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


def llm_fields(n: int) -> dict[str, str | int]:
    """What LLM span number `n` says (the REST twin is built from the same values)."""
    return {
        "question": _PROMPT.format(n=n),
        "answer": _ANSWER,
        "session": f"bench-session-{n % SESSIONS:03d}",
        "user": f"bench-user-{n % 8}",
        "tokens_in": 120 + n % 50,
        "tokens_out": 40 + n % 20,
        "latency_ms": 300 + n % 700,
    }


def _llm_span(n: int, trace_id: bytes, parent: bytes, start: int) -> Span:
    f = llm_fields(n)
    attributes = [
        _kv("gen_ai.operation.name", "chat"),
        _kv("gen_ai.provider.name", "openai"),
        _kv("gen_ai.request.model", "gpt-4o-mini"),
        _kv("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
        _kv("gen_ai.usage.input_tokens", int(f["tokens_in"])),
        _kv("gen_ai.usage.output_tokens", int(f["tokens_out"])),
        _kv("gen_ai.system_instructions", json.dumps([{"type": "text", "content": _SYSTEM}])),
        _kv("gen_ai.input.messages", _messages("user", str(f["question"]))),
        _kv("gen_ai.output.messages", _messages("assistant", str(f["answer"]))),
        _kv("session.id", str(f["session"])),
        _kv("user.id", str(f["user"])),
    ]
    return Span(
        trace_id=trace_id, span_id=span_id(2 * n + 1), parent_span_id=parent,
        name="chat gpt-4o-mini", kind=Span.SPAN_KIND_CLIENT, start_time_unix_nano=start,
        end_time_unix_nano=start + int(f["latency_ms"]) * MS, attributes=attributes,
    )  # fmt: skip


def _http_span(n: int, trace_id: bytes, parent: bytes | None, start: int) -> Span:
    attributes = [
        _kv("http.request.method", "GET"),
        _kv("url.full", f"http://inventory.internal/stock/{n % 997}"),
        _kv("server.address", "inventory.internal"),
        _kv("http.response.status_code", 200),
    ]
    kind = Span.SPAN_KIND_SERVER if parent is None else Span.SPAN_KIND_CLIENT
    return Span(
        trace_id=trace_id, span_id=span_id(2 * n + 2), parent_span_id=parent or b"",
        name=f"GET /stock/{n % 997}", kind=kind, start_time_unix_nano=start,
        end_time_unix_nano=start + 15 * MS, attributes=attributes,
    )  # fmt: skip


def export(run_id: int, number: int, now_ns: int) -> bytes:
    """Export `number` of run `run_id`: 512 spans (256 LLM), ids unique across the run."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(_kv("service.name", "bookshop-bench"))
    spans = resource_spans.scope_spans.add().spans
    base = number * TRACES_PER_EXPORT
    for t in range(TRACES_PER_EXPORT):
        trace_id = trace_id_of(run_id, base + t)
        root_n = (base + t) * (LLM_PER_TRACE + HTTP_PER_TRACE)
        start = now_ns - 2_000 * MS + t * 10 * MS  # ended 0.5-2 s before `now_ns`
        root = _http_span(root_n, trace_id, None, start)
        spans.append(root)
        for k in range(1, HTTP_PER_TRACE):
            spans.append(_http_span(root_n + k, trace_id, root.span_id, start + k * MS))
        for k in range(LLM_PER_TRACE):
            n = root_n + HTTP_PER_TRACE + k
            spans.append(_llm_span(n, trace_id, root.span_id, start + (10 + k) * MS))
    return request.SerializeToString()


def same_rows(otlp_body: bytes) -> bytes:
    """The same-rows REST twin of an export: its mapped event bodies as one batch body."""
    mapped, problems = map_spans(decode_proto(otlp_body), TWIN_PROJECT)
    if problems or len(mapped) != LLM_PER_EXPORT:
        raise RuntimeError(f"the bench's export did not map cleanly: {problems[:1]}")
    return orjson.dumps({"events": [one.body for one in mapped]})


def rest_batch(run_id: int, number: int) -> bytes:
    """The minimal REST twin of `export(run_id, number, ...)`: its 256 LLM spans, one body."""
    events = []
    base = number * TRACES_PER_EXPORT
    for t in range(TRACES_PER_EXPORT):
        root_n = (base + t) * (LLM_PER_TRACE + HTTP_PER_TRACE)
        for k in range(LLM_PER_TRACE):
            n = root_n + HTTP_PER_TRACE + k
            f = llm_fields(n)
            events.append({
                "input": f["question"], "output": f["answer"],
                "session_id": f["session"], "user_id": f["user"],
                "metadata": {
                    "model": "gpt-4o-mini-2024-07-18", "tokens_in": f["tokens_in"],
                    "tokens_out": f["tokens_out"], "latency_ms": f["latency_ms"],
                    "trace_id": trace_id_of(run_id, base + t).hex(),
                    "span_id": span_id(2 * n + 1).hex(),
                    "service.name": "bookshop-bench",
                },
            })  # fmt: skip
    return orjson.dumps({"events": events})
