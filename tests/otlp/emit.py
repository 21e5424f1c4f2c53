"""Run the real `openai` client under one real instrumentation and export with the real SDK.

`python -m tests.otlp.emit INSTRUMENTATION --openai-base URL --calls N --session S --user U`
sends N chat completions (a system and a user message each) inside the instrumentation's own
session/user context, exporting with `BatchSpanProcessor` + `OTLPSpanExporter` (OTLP/HTTP
protobuf) configured only by the standard environment (`OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_EXPORTER_OTLP_HEADERS`), exactly as an application would. Each instrumentation runs in its
own process because instrumentors patch `openai` globally and the tracer provider is set once.
It prints one JSON line per finished span (ids, times, name) so a test can compare the stored
events with the spans the SDK really produced (latency = end - start).

How each instrumentation carries session and user (see fixtures/README.md):
- openinference: `using_session` / `using_user` / `using_tags` -> `session.id`, `user.id`,
  `tag.tags` on every span started inside.
- openllmetry (`opentelemetry-instrumentation-openai` without the traceloop SDK): the request's
  `user=` becomes `gen_ai.user`; it has no session of its own, so the standard OTel way is used:
  baggage `session.id` copied onto spans by `opentelemetry-processor-baggage`.
- openai-v2: baggage for both (it records neither). `openai-v2` opts into the latest GenAI
  conventions with content on the span (`gen_ai.input.messages`); `openai-v2-default` is the
  package's default (v1.30 conventions, no content on the span: model and tokens only).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from opentelemetry import baggage, context, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

SYSTEM = "You are a terse assistant for an online bookshop."
INSTRUMENTATIONS = ("openinference", "openllmetry", "openai-v2", "openai-v2-default")


class _Recorder(SpanExporter):
    """Prints each finished span as one JSON line (the test's view of what was exported)."""

    def export(self, spans: object) -> SpanExportResult:
        for span in spans:  # type: ignore[attr-defined]
            assert isinstance(span, ReadableSpan) and span.context is not None
            line = {
                "name": span.name,
                "trace_id": format(span.context.trace_id, "032x"),
                "span_id": format(span.context.span_id, "016x"),
                "start_ns": span.start_time,
                "end_ns": span.end_time,
                "attributes": {k: _plain(v) for k, v in (span.attributes or {}).items()},
            }
            print(json.dumps(line), flush=True)
        return SpanExportResult.SUCCESS


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _instrument(name: str, provider: TracerProvider) -> None:
    if name == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=provider)
    elif name == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as OpenLLMetry

        OpenLLMetry().instrument(tracer_provider=provider)
    else:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as OpenAIV2

        OpenAIV2().instrument(tracer_provider=provider)


@contextmanager
def _session_context(name: str, session: str, user: str) -> Iterator[None]:
    """The instrumentation's own way to put session and user on the spans."""
    with ExitStack() as stack:
        if name == "openinference":
            from openinference.instrumentation import using_session, using_tags, using_user

            stack.enter_context(using_session(session))
            stack.enter_context(using_user(user))
            stack.enter_context(using_tags(["bookshop", "otel"]))
        else:
            ctx = baggage.set_baggage("session.id", session)
            if name.startswith("openai-v2"):
                ctx = baggage.set_baggage("user.id", user, context=ctx)
            token = context.attach(ctx)
            stack.callback(context.detach, token)
        yield


def _provider(name: str) -> TracerProvider:
    resource = Resource.create({"service.name": f"bookshop-{name}"})
    provider = TracerProvider(resource=resource)
    if name != "openinference":
        from opentelemetry.processor.baggage import ALLOW_ALL_BAGGAGE_KEYS, BaggageSpanProcessor

        provider.add_span_processor(BaggageSpanProcessor(ALLOW_ALL_BAGGAGE_KEYS))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    provider.add_span_processor(SimpleSpanProcessor(_Recorder()))
    return provider


def run(name: str, base_url: str, questions: list[str], session: str, user: str) -> None:
    """One chat completion per question, all in one session/user context; then flush."""
    if name == "openai-v2":
        # Content on the span as `gen_ai.input.messages` / `gen_ai.output.messages`.
        os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
        os.environ.setdefault("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_only")
    provider = _provider(name)
    trace.set_tracer_provider(provider)
    _instrument(name, provider)
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key="sk-fake", max_retries=0)
    extra: Callable[[], dict[str, str]] = (
        (lambda: {"user": user}) if name == "openllmetry" else (lambda: {})
    )
    with _session_context(name, session, user):
        for question in questions:
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": question},
                ],
                **extra(),
            )
    provider.force_flush()
    provider.shutdown()


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m tests.otlp.emit")
    parser.add_argument("instrumentation", choices=INSTRUMENTATIONS)
    parser.add_argument("--openai-base", required=True)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--session", default="session-1")
    parser.add_argument("--user", default="user-1")
    args = parser.parse_args(argv)
    questions = [f"Where is my order {n + 1}?" for n in range(args.calls)]
    run(args.instrumentation, args.openai_base, questions, args.session, args.user)
    return 0


if __name__ == "__main__":
    sys.exit(main())
