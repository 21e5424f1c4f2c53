"""Spans -> events: which spans are LLM calls, and the REST-shaped event body of each.

One event per LLM span (other spans are skipped, not rejected). The body is what a client
would send to `/api/v1/events` (validated by the same rules), with the span's start as the
event's time:
- model: `gen_ai.response.model`, else `gen_ai.request.model`, else `llm.model_name`; priced by
  the response model, or by the request model when only that one has a price (then sent as
  `cost_usd`, the figure the write path takes as given);
- tokens from `gen_ai.usage.input_tokens|output_tokens`, the legacy `prompt_tokens|
  completion_tokens`, or OpenInference's `llm.token_count.prompt|completion`;
- latency: end - start; input and output text: `messages.py`;
- session, user and tags from the span, else its nearest ancestor in the export that has them,
  else the resource; no session id: one session per trace;
- the span's other attributes, its resource's and its ids under `metadata["otel"]`; the
  system messages, and the whole message lists when they hold more than the input and output
  text (`messages.kept_messages`), under `metadata["messages"]`.
The event id is derived from (project, trace id, span id), so a re-sent export is an
idempotent retry of the same ids: stored once, counted once.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.services import pricing
from app.services.event_fields import MAX_ERROR_LENGTH, MAX_TAG_LENGTH, MAX_TAGS, unique
from app.services.otlp.messages import (
    MESSAGE_KEYS,
    MESSAGE_PREFIXES,
    Conversation,
    Memo,
    as_json,
    conversation,
    kept_messages,
)
from app.services.otlp.spans import STATUS_ERROR, STATUS_OK, Span, SpanEvent, clean_int

SESSION_KEYS = ("session.id", "gen_ai.conversation.id", "langfuse.session.id",
                "traceloop.association.properties.session_id")  # fmt: skip
USER_KEYS = ("user.id", "gen_ai.user", "enduser.id", "langfuse.user.id",
             "traceloop.association.properties.user_id")  # fmt: skip
TAG_KEYS = ("tag.tags", "langfuse.trace.tags")
MODEL_KEYS = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
TOKENS_IN = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
TOKENS_OUT = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
              "llm.token_count.completion")  # fmt: skip
LLM_MARKERS = ("gen_ai.request.model", "gen_ai.system", "gen_ai.provider.name")
# GenAI operations that are not a model call: their spans are tools and agents, like chains.
NOT_LLM_OPERATIONS = frozenset(("execute_tool", "invoke_agent", "create_agent"))
SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
MAX_ANCESTORS = 64  # parents walked up for a session, user or tags
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Unmappable(Exception):
    """A span that cannot become an event (counted in `rejected_spans`)."""


@dataclass(frozen=True, slots=True)
class MappedSpan:
    """An LLM span as an event body (REST shape) and its time (the span's start)."""

    span: Span
    body: dict[str, Any]
    time: datetime


def is_llm_span(attributes: dict[str, Any]) -> bool:
    """Whether a span is a model call (the issue's rule; see the module docstring)."""
    kind = attributes.get("openinference.span.kind")
    if kind is not None:
        return str(kind).upper() == "LLM"
    operation = attributes.get("gen_ai.operation.name")
    if operation is not None:
        return operation not in NOT_LLM_OPERATIONS
    return any(key in attributes for key in LLM_MARKERS)


class Lineage:
    """The spans of one export by (trace id, span id), to find a span's ancestors."""

    def __init__(self, spans: list[Span]) -> None:
        self._spans = {(span.trace_id, span.span_id): span for span in spans}

    def find(self, span: Span, keys: tuple[str, ...]) -> Any:
        """The first of `keys` set on the span, else its nearest ancestor, else its resource."""
        current: Span | None = span
        for _ in range(MAX_ANCESTORS):
            if current is None:
                break
            found = _first(current.attributes, keys)
            if found is not None:
                return found
            parent = current.parent_span_id
            current = self._spans.get((span.trace_id, parent)) if parent else None
        return _first(span.resource, keys)


def map_span(
    span: Span, lineage: Lineage, project_id: int, now: datetime, memo: Memo | None = None
) -> MappedSpan:
    """The event of one LLM span, or Unmappable naming what is wrong with it (`memo`: the
    export's messages read so far, `messages.conversation`)."""
    if not span.trace_id or not span.span_id:
        raise Unmappable("trace_id or span_id is missing, all zeros or of the wrong length")
    if not span.start_ns:
        raise Unmappable("the span has no start time")
    time = _EPOCH + timedelta(microseconds=span.start_ns // 1000)
    attrs = span.attributes
    found = conversation(attrs, span.events, memo)
    metadata = _typed(span, min(time, now))
    metadata["otel"] = _otel(span, found)
    text_in, text_out = found.input_text, found.output_text
    messages = kept_messages(found, text_in, text_out)
    if messages:
        metadata["messages"] = messages
    body: dict[str, Any] = {
        "event_id": event_id_text(project_id, span.trace_id, span.span_id, span.start_ns),
        "input": text_in,
        "output": text_out,
        "session_id": _identifier(lineage.find(span, SESSION_KEYS)) or f"trace_{span.trace_id}",
        "metadata": metadata,
    }
    user = _identifier(lineage.find(span, USER_KEYS))
    if user:
        body["user_id"] = user
    tags = _tags(lineage.find(span, TAG_KEYS))
    if tags:
        body["tags"] = tags
    _status(body, span)
    return MappedSpan(span, body, time)


def event_id(project_id: int, trace_id: str, span_id: str, start_ns: int) -> uuid.UUID:
    """The span's event id: the start in ms (48 bits, so ids stay time-ordered like UUIDv7),
    version 8, and the rest from SHA-256 of (project, trace id, span id)."""
    return uuid.UUID(int=_event_id_int(project_id, trace_id, span_id, start_ns))


def event_id_text(project_id: int, trace_id: str, span_id: str, start_ns: int) -> str:
    """`event_id` as the body's text, formatted directly (a UUID object and its str() were
    ~10% of mapping a span)."""
    h = f"{_event_id_int(project_id, trace_id, span_id, start_ns):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _event_id_int(project_id: int, trace_id: str, span_id: str, start_ns: int) -> int:
    digest = hashlib.sha256(f"{project_id}:{trace_id}:{span_id}".encode()).digest()
    rest = int.from_bytes(digest[:10], "big")
    value = ((start_ns // 1_000_000) & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x8 << 76  # version
    value |= ((rest >> 64) & 0xFFF) << 64
    value |= 0b10 << 62  # variant
    return value | (rest & ((1 << 62) - 1))


def _typed(span: Span, at: datetime) -> dict[str, Any]:
    """Model, tokens and latency under the metadata keys the write path lifts into columns."""
    attrs = span.attributes
    metadata: dict[str, Any] = {}
    models = [_model(attrs.get(key)) for key in MODEL_KEYS]
    model = models[0] or models[1] or models[2]
    tokens_in = _tokens(_first(attrs, TOKENS_IN))
    tokens_out = _tokens(_first(attrs, TOKENS_OUT))
    if model:
        metadata["model"] = model
    if tokens_in is not None:
        metadata["tokens_in"] = tokens_in
    if tokens_out is not None:
        metadata["tokens_out"] = tokens_out
    if span.end_ns >= span.start_ns:
        metadata["latency_ms"] = (span.end_ns - span.start_ns) / 1_000_000
    requested = models[1]
    if model and requested and requested != model and (tokens_in or tokens_out):
        # The response model (dated, say) may be unknown to the price list where the
        # requested alias is known: the cost is then the request model's.
        if not pricing.knows(model):
            cost = pricing.cost_nano(requested, tokens_in, tokens_out, at)
            if cost is not None:
                metadata["cost_usd"] = cost / pricing.NANO
    return metadata


def _otel(span: Span, found: Conversation) -> dict[str, Any]:
    """The span as it came, less what became the event's messages."""
    attrs = {  # one pass: an LLM span nearly always has message attributes to leave out
        key: value
        for key, value in span.attributes.items()
        if key not in MESSAGE_KEYS and not key.startswith(MESSAGE_PREFIXES)
    }
    otel: dict[str, Any] = {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id or None,
        "span_name": span.name,
        "span_kind": SPAN_KINDS[span.kind] if 0 <= span.kind < len(SPAN_KINDS) else span.kind,
        "scope": span.scope,
        "attributes": attrs,
        "resource": span.resource,
    }
    events = [_event(event) for n, event in enumerate(span.events)
              if n not in found.consumed_events]  # fmt: skip
    if events:
        otel["events"] = events
    return otel


def _event(event: SpanEvent) -> dict[str, Any]:
    return {"name": event.name, "time_unix_nano": clean_int(event.time_ns),
            "attributes": event.attributes}  # fmt: skip


def _status(body: dict[str, Any], span: Span) -> None:
    """Span status ERROR: status "error" with the status message (else the exception's)."""
    if span.status_code == STATUS_OK:
        body["status"] = "ok"
    elif span.status_code == STATUS_ERROR:
        body["status"] = "error"
        message = span.status_message or next(
            (str(event.attributes.get("exception.message") or "")
             for event in span.events if event.name == "exception"), "",
        )  # fmt: skip
        if message:
            body["error"] = message[:MAX_ERROR_LENGTH]


def _first(attributes: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        found = attributes.get(key)
        if found is not None and found != "":
            return found
    return None


def _model(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _tokens(value: Any) -> int | None:
    """A token count as an integer: a number or decimal text; anything else is no count.
    Counts beyond the write path's bound stay as they are: the span is then rejected."""
    if isinstance(value, str) and value.isdigit() and len(value) <= 12:
        return int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _identifier(value: Any) -> str | None:
    """A session or user id as text (numbers allowed); too long ones are the write path's
    to refuse, naming the field."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _tags(value: Any) -> list[str]:
    """At most MAX_TAGS tags of 1..MAX_TAG_LENGTH characters, duplicates dropped in order."""
    if isinstance(value, str):  # one tag, or a JSON array as text
        value = as_json(value) if value[:1] == "[" else [value]
    if not isinstance(value, list):
        return []
    kept = [tag.strip()[:MAX_TAG_LENGTH] for tag in value if isinstance(tag, str) and tag.strip()]
    return unique(kept)[:MAX_TAGS]
