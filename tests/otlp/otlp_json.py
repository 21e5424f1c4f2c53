"""OTLP protobuf <-> OTLP/JSON, as the JavaScript exporter writes it.

OTLP's JSON mapping differs from protobuf's canonical JSON in two ways that matter: trace and
span ids are lowercase hex (not base64), and enums are integers. int64 values (times, int
attributes) stay decimal strings, which the spec allows and the JS exporter sends.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

_ID_KEYS = {"traceId", "spanId", "parentSpanId"}


def _hex_ids(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (base64.b64decode(value).hex() if key in _ID_KEYS else _hex_ids(value))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids(item) for item in node]
    return node


def to_json(body: bytes) -> bytes:
    """An ExportTraceServiceRequest in protobuf -> the same request in OTLP/JSON."""
    request = ExportTraceServiceRequest.FromString(body)
    canonical = json_format.MessageToDict(request, use_integers_for_enums=True)
    return json.dumps(_hex_ids(canonical), indent=1).encode() + b"\n"


def merge(bodies: list[bytes]) -> bytes:
    """Several protobuf exports -> one request holding all their resource spans."""
    merged = ExportTraceServiceRequest()
    for body in bodies:
        merged.resource_spans.extend(ExportTraceServiceRequest.FromString(body).resource_spans)
    return merged.SerializeToString()
