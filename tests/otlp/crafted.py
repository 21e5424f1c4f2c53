"""Fixtures no current instrumentation emits, made with the SDK's own tracer and real exporter.

- `legacy_attributes`: one chat span in the older OpenLLMetry style (`gen_ai.prompt.N.*`,
  `gen_ai.completion.N.*`, `gen_ai.usage.prompt_tokens` / `completion_tokens`).
- `one_llm_five_http`: a web request trace: one SERVER span, four HTTP CLIENT spans and one
  chat span in the current conventions (`gen_ai.input.messages` JSON, `gen_ai.usage.*_tokens`):
  exactly one LLM span among six.
Times are fixed offsets from now so durations are exact: the chat spans last 1,234 ms.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Tracer, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, set_span_in_context

MS = 1_000_000
LLM_MS = 1234
MODEL = "gpt-4o-mini-2024-07-18"
QUESTION = "Can I still change the delivery address of order 42?"
ANSWER = "No: the parcel is with the carrier, but you can ask them to hold it at a pickup point."
SYSTEM = "You are a terse assistant for an online bookshop."


def _legacy(tracer: Tracer, t0: int) -> None:
    span = tracer.start_span("openai.chat", kind=SpanKind.CLIENT, start_time=t0)
    span.set_attributes({
        "llm.request.type": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": MODEL,
        "gen_ai.prompt.0.role": "system",
        "gen_ai.prompt.0.content": SYSTEM,
        "gen_ai.prompt.1.role": "user",
        "gen_ai.prompt.1.content": QUESTION,
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": ANSWER,
        "gen_ai.completion.0.finish_reason": "stop",
        "gen_ai.usage.prompt_tokens": 31,
        "gen_ai.usage.completion_tokens": 17,
        "llm.usage.total_tokens": 48,
        "session.id": "legacy-session-1",
        "user.id": "legacy-user-1",
    })  # fmt: skip
    span.end(end_time=t0 + LLM_MS * MS)


def _http(tracer: Tracer, parent: object, t0: int, path: str) -> None:
    ctx = set_span_in_context(parent)  # type: ignore[arg-type]
    span = tracer.start_span(f"GET {path}", context=ctx, kind=SpanKind.CLIENT, start_time=t0)
    span.set_attributes({
        "http.request.method": "GET",
        "url.full": f"http://inventory.internal{path}",
        "server.address": "inventory.internal",
        "http.response.status_code": 200,
    })  # fmt: skip
    span.end(end_time=t0 + 15 * MS)


def _one_llm_five_http(tracer: Tracer, t0: int) -> None:
    root = tracer.start_span("POST /checkout", kind=SpanKind.SERVER, start_time=t0)
    root.set_attributes({"http.request.method": "POST", "http.route": "/checkout",
                         "url.path": "/checkout", "http.response.status_code": 200})  # fmt: skip
    for n, path in enumerate(["/stock/1", "/stock/2", "/price/1", "/price/2"]):
        _http(tracer, root, t0 + (1 + n * 20) * MS, path)
    llm = tracer.start_span(
        "chat gpt-4o-mini", context=set_span_in_context(root), kind=SpanKind.CLIENT,
        start_time=t0 + 100 * MS,
    )  # fmt: skip
    llm.set_attributes({
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": MODEL,
        "gen_ai.usage.input_tokens": 31,
        "gen_ai.usage.output_tokens": 17,
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": SYSTEM}]),
        "gen_ai.input.messages": json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": QUESTION}]}]
        ),
        "gen_ai.output.messages": json.dumps([{
            "role": "assistant", "finish_reason": "stop",
            "parts": [{"type": "text", "content": ANSWER}],
        }]),
        "gen_ai.conversation.id": "checkout-conversation-1",
        "enduser.id": "checkout-user-1",
    })  # fmt: skip
    llm.end(end_time=t0 + (100 + LLM_MS) * MS)
    root.end(end_time=t0 + (200 + LLM_MS) * MS)


CRAFTED: dict[str, Callable[[Tracer, int], None]] = {
    "legacy_attributes": _legacy,
    "one_llm_five_http": _one_llm_five_http,
}


def export(emit: Callable[[Tracer, int], None], endpoint: str) -> None:
    """Make the spans with a fresh provider and send them as one export to `endpoint`."""
    provider = TracerProvider(resource=Resource.create({"service.name": "bookshop-crafted"}))
    exporter = OTLPSpanExporter(endpoint=endpoint)
    spans: list[object] = []
    recorder = SimpleSpanProcessor(exporter)
    provider.add_span_processor(recorder)
    # One export for the whole trace: collect ended spans, then send them together.
    recorder.on_end = spans.append  # type: ignore[method-assign,assignment]
    emit(provider.get_tracer("phospho-fixtures"), time.time_ns() - 5_000 * MS)
    exporter.export(spans)  # type: ignore[arg-type]
    provider.shutdown()
