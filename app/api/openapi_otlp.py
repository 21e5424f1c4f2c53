"""The OpenAPI description of OTLP/HTTP (`/v1/traces`, `/v1/metrics`, `/v1/logs`; served by
app/api/otlp.py): the OTLP/JSON request as the decoder reads it (app/services/otlp/
decode_json.py) and every answer, in both encodings.

The protobuf body is described as binary: its schema is OTLP's .proto, not JSON Schema.
Trace and span ids are plain strings here because a malformed one is not a 400: that span
alone is refused and counted in `partialSuccess`. Unknown members are ignored, as OTLP asks;
NUL characters in strings are kept as U+FFFD.
"""

from __future__ import annotations

import re
from typing import Any

from app.api.openapi_schemas import JSON, nullable, ref

PROTOBUF = "application/x-protobuf"


def text(**rules: Any) -> dict[str, Any]:
    """Any string: a NUL character is stored as U+FFFD, not refused (spans are not ours to
    reject for it)."""
    return {"type": "string", **rules}


BINARY = {"type": "string", "format": "binary"}
UINT64 = {
    "anyOf": [
        {"type": "integer", "minimum": 0, "maximum": 2**64 - 1},
        {"type": "string", "pattern": "^[0-9]{1,19}$"},
    ],
    "description": "A 64-bit unsigned integer, as a number or decimal text",
}
SPAN_KINDS = ["SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
              "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"]  # fmt: skip
STATUS_CODES = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"]


def _object(
    properties: dict[str, Any], description: str | None = None, *, aliases: bool = True
) -> dict[str, Any]:
    """An object whose members may each be null (OTLP/JSON: null is the default value). With
    `aliases` (a request's objects) each member is also described under its proto name, in
    snake_case, which the decoder reads too (not both: a 400), so that an undescribed
    `scope_spans` holding an object is not valid for the document (schemathesis)."""
    described = {"description": description} if description else {}
    members = {name: nullable(schema) for name, schema in properties.items()}
    if not aliases:
        return {"type": "object", **described, "properties": members}
    pairs = [[name, _snake(name)] for name in properties if _snake(name) != name]
    members |= {snake: members[name] for name, snake in pairs}
    once = {"not": {"anyOf": [{"required": pair} for pair in pairs]}} if pairs else {}
    return {"type": "object", **described, "properties": members, **once}


def _snake(name: str) -> str:
    """A lowerCamelCase member's proto name: `scopeSpans` -> `scope_spans`."""
    return re.sub(r"([A-Z])", lambda upper: "_" + upper.group(1).lower(), name)


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


def _enum(names: list[str]) -> dict[str, Any]:
    number = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
    return {"anyOf": [{"enum": names}, number]}


def _schemas() -> dict[str, Any]:
    attributes = _list(ref("OtlpKeyValue"))
    any_value = _object({
        "stringValue": text(),
        "boolValue": {"type": "boolean"},
        "intValue": {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^-?[0-9]+$"}]},
        "doubleValue": {"anyOf": [{"type": "number"},
                                  {"enum": ["NaN", "Infinity", "-Infinity"]}]},
        "arrayValue": _object({"values": _list(ref("OtlpAnyValue"))}),
        "kvlistValue": _object({"values": attributes}),
        "bytesValue": text(description="base64"),
    }, "One of its members")  # fmt: skip
    event = _object({"timeUnixNano": UINT64, "name": text(), "attributes": attributes})
    span = _object({
        "traceId": {"type": "string", "description": "32 hex digits"},
        "spanId": {"type": "string", "description": "16 hex digits"},
        "parentSpanId": {"type": "string", "description": "16 hex digits, or empty"},
        "name": text(),
        "kind": _enum(SPAN_KINDS),
        "startTimeUnixNano": UINT64,
        "endTimeUnixNano": UINT64,
        "attributes": attributes,
        "events": _list(event),
        "status": _object({"code": _enum(STATUS_CODES), "message": text()}),
    })  # fmt: skip
    scope_spans = _object({"scope": _object({"name": text()}), "spans": _list(span)})
    resource_spans = _object({
        "resource": _object({"attributes": attributes}), "scopeSpans": _list(scope_spans),
    })  # fmt: skip
    partial = _object({
        "rejectedSpans": {"type": "string", "pattern": "^[0-9]+$"},
        "errorMessage": {"type": "string"},
    }, aliases=False)  # fmt: skip
    return {
        "OtlpAnyValue": any_value,
        "OtlpKeyValue": _object({"key": text(), "value": ref("OtlpAnyValue")}),
        "ExportTraceServiceRequest": _object(
            {"resourceSpans": _list(resource_spans)},
            "OTLP/JSON: ids in hex, 64-bit integers as numbers or text, enums by number or "
            "name; members may also be spelt in snake_case (not both ways at once); unknown "
            "members are ignored",
        ),
        "ExportTraceServiceResponse": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"partialSuccess": partial},
        },
        "OtlpStatus": {
            "type": "object",
            "description": "google.rpc.Status; `code` is a gRPC code, `message` says what to fix",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
        },
    }


OTLP_SCHEMAS = _schemas()
EXAMPLE = {
    "resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": "eee19b7ec3c1b174",
            "name": "chat gpt-4o-mini",
            "kind": 3,
            "startTimeUnixNano": "1767225600000000000",
            "endTimeUnixNano": "1767225600412000000",
            "attributes": [
                {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
                {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 3}},
                {"key": "session.id", "value": {"stringValue": "chat-42"}},
            ],
        }]}],
    }]
}  # fmt: skip


def _answer(description: str, schema: str, **extra: Any) -> dict[str, Any]:
    content = {PROTOBUF: {"schema": BINARY}, JSON: {"schema": ref(schema)}}
    return {"description": description, "content": content, **extra}


def _errors(max_body: str, guarded: dict[str, Any]) -> dict[str, Any]:
    """Errors as google.rpc.Status in the request's encoding; admission's 503 and the read
    timeouts' 408 come from before the route, as the REST `Error`."""
    status = {
        "400": "The body is not an export in its Content-Type (or its Content-Encoding)",
        "413": f"The body is larger than {max_body} on the wire or once decompressed, or "
        "holds more spans than one request may",
        "415": "Content-Type is neither application/x-protobuf nor application/json, or "
        "Content-Encoding is not gzip or deflate",
    }
    answers = {code: _answer(text_, "OtlpStatus") for code, text_ in status.items()}
    for code in ("401", "429"):
        answers[code] = _answer(guarded[code]["description"], "OtlpStatus",
                                headers=guarded[code]["headers"])  # fmt: skip
    unavailable = _answer(guarded["503"]["description"], "OtlpStatus",
                          headers=guarded["503"]["headers"])  # fmt: skip
    unavailable["content"][JSON]["schema"] = {"anyOf": [ref("OtlpStatus"), ref("Error")]}
    return {**answers, "503": unavailable, "408": guarded["408"]}


def otlp_paths(max_body: str, guarded: dict[str, Any]) -> dict[str, Any]:
    """The three OTLP/HTTP paths; `guarded` are the shared answers of app/api/openapi.py."""
    traces = {
        "tags": ["opentelemetry"],
        "summary": "Send OpenTelemetry traces (OTLP/HTTP): each LLM span becomes an event",
        "description": (
            "Spans that are model calls (GenAI conventions, OpenLLMetry, OpenInference) become "
            "events; other spans are skipped. Answered once the events are committed. A "
            "re-sent export stores nothing new (event ids derive from trace and span ids). "
            "`Content-Encoding: gzip` or `deflate` is accepted."
        ),
        "operationId": "export_traces",
        "security": [{"bearer": []}],
        "requestBody": {
            "required": True,
            "content": {
                PROTOBUF: {"schema": BINARY},
                JSON: {"schema": ref("ExportTraceServiceRequest"), "example": EXAMPLE},
            },
        },
        "responses": {
            "200": _answer(
                "Stored; `partialSuccess` counts the LLM spans refused, with the first reason",
                "ExportTraceServiceResponse",
            ),
            **_errors(max_body, guarded),
        },
    }
    return {
        "/v1/traces": {"post": traces},
        "/v1/metrics": {"post": _ignored("metrics", max_body, guarded)},
        "/v1/logs": {"post": _ignored("logs", max_body, guarded)},
    }


def _ignored(signal: str, max_body: str, guarded: dict[str, Any]) -> dict[str, Any]:
    answers = _errors(max_body, guarded)
    return {
        "tags": ["opentelemetry"],
        "summary": f"Accept OpenTelemetry {signal} and ignore them",
        "description": "So that an exporter configured for every signal logs no errors.",
        "operationId": f"export_{signal}",
        "security": [{"bearer": []}],
        "requestBody": {
            "required": True,
            "content": {
                PROTOBUF: {"schema": BINARY},
                JSON: {"schema": {"description": "Not read"}},
            },
        },
        "responses": {
            "200": _answer("Accepted (and not stored)", "ExportTraceServiceResponse"),
            **{code: answers[code] for code in ("401", "408", "413", "415", "429", "503")},
        },
    }
