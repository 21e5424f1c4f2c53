// One chat span with gen_ai attributes, exported by the OpenTelemetry JavaScript exporter with
// its defaults (OTLP/JSON over HTTP), configured only by OTEL_EXPORTER_OTLP_ENDPOINT and
// OTEL_EXPORTER_OTLP_HEADERS, exactly as an application would. Prints the span (ids, times) as
// one JSON line; exits 1 when any export was not a success (the exporter itself only logs).
import { SpanKind } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";

const [session, user] = process.argv.slice(2);
const exporter = new OTLPTraceExporter();
const results = [];
const checking = {
  export(spans, done) {
    exporter.export(spans, (result) => {
      results.push(result);
      done(result);
    });
  },
  shutdown: () => exporter.shutdown(),
  forceFlush: () => exporter.forceFlush(),
};
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ "service.name": "bookshop-js" }),
  spanProcessors: [new BatchSpanProcessor(checking)],
});
const tracer = provider.getTracer("phospho-js-test");

const start = Date.now() - 1500;
const span = tracer.startSpan("chat gpt-4o-mini", {
  kind: SpanKind.CLIENT,
  startTime: start,
  attributes: {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.usage.input_tokens": 40,
    "gen_ai.usage.output_tokens": 12,
    "gen_ai.input.messages": JSON.stringify([
      { role: "user", parts: [{ type: "text", content: "Is the JavaScript exporter welcome?" }] },
    ]),
    "gen_ai.output.messages": JSON.stringify([
      { role: "assistant", finish_reason: "stop",
        parts: [{ type: "text", content: "Yes, in OTLP/JSON." }] },
    ]),
    "session.id": session,
    "user.id": user,
  },
});
span.end(start + 1250);
await provider.forceFlush();
await provider.shutdown();
const context = span.spanContext();
console.log(JSON.stringify({ trace_id: context.traceId, span_id: context.spanId, start_ms: start }));
const failed = results.filter((result) => result.code !== 0);
if (results.length === 0 || failed.length > 0) {
  console.error("export failed:", results.map((r) => `${r.code} ${r.error ?? ""}`).join("; "));
  process.exitCode = 1;
}
