"""OpenTelemetry in: OTLP/HTTP trace exports become events (issue 18).

`decode.py` reads a request's body (encoding, compression, limits), `decode_proto.py` and
`decode_json.py` turn it into plain `Span`s (`spans.py`), `mapping.py` makes each LLM span an
event body with `messages.py` reading its conversation, and `export_traces` here stores them
through the Ingestor, answering only once they are committed. The HTTP side is
app/api/otlp.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.errors import Invalid
from app.services.ingest import Ingestor
from app.services.keys import Principal
from app.services.otlp.decode import Encoding, Inflater, UnsupportedMediaType, encoding_of
from app.services.otlp.mapping import Lineage, MappedSpan, Unmappable, is_llm_span, map_span
from app.services.otlp.messages import Memo
from app.services.otlp.spans import Span


@dataclass(frozen=True, slots=True)
class ExportOutcome:
    """What an export's answer reports: spans refused, and the first reason."""

    rejected: int
    message: str


def map_spans(spans: list[Span], project_id: int) -> tuple[list[MappedSpan], list[str]]:
    """The event of each LLM span, and a reason for each LLM span that cannot be one."""
    now = datetime.now(UTC)
    lineage = Lineage(spans)
    memo: Memo = {}
    mapped: list[MappedSpan] = []
    problems: list[str] = []
    for span in spans:
        if not is_llm_span(span.attributes):
            continue
        try:
            mapped.append(map_span(span, lineage, project_id, now, memo))
        except Unmappable as exc:
            problems.append(_about(span, str(exc)))
    return mapped, problems


async def export_traces(
    ingestor: Ingestor, principal: Principal, spans: list[Span]
) -> ExportOutcome:
    """Store the LLM spans of an export as events (committed when this returns)."""
    mapped, problems = map_spans(spans, principal.project_id)
    if mapped:
        items = [(one.body, one.time) for one in mapped]
        results = await ingestor.log_events_at(principal, items)
        for one, result in zip(mapped, results, strict=True):
            if isinstance(result, Invalid):
                problems.append(_about(one.span, result.message))
    message = problems[0] if problems else ""
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more)"
    return ExportOutcome(len(problems), message)


def _about(span: Span, problem: str) -> str:
    return f"span {span.span_id or '?'} ({span.name[:100]!r}): {problem}"


__all__ = [
    "Encoding", "ExportOutcome", "Inflater", "UnsupportedMediaType", "encoding_of",
    "export_traces", "map_spans",
]  # fmt: skip
