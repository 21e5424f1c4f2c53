"""Real instrumentations export to a real server: OpenInference, OpenLLMetry and the official
openai-v2 around the real `openai` client (calling a fake OpenAI server on loopback), the real
SDK's OTLP/HTTP protobuf exporter configured only by the two standard environment variables.

Three calls inside a session/user context must give exactly three events with that session and
user, the response model, the tokens, the span's duration as latency, the span's start as time,
the question and answer as input and output, and a price; they reach a GraphQL subscriber while
the export is in flight (a 2xx means visible), on both databases.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.graphql_api.helpers import live
from tests.harness import Server, Tenant
from tests.otlp.exporting import export_calls, stored_events
from tests.otlp.fake_openai import COMPLETION_TOKENS, MODEL, PROMPT_TOKENS, answer_text, fake_openai

INSTRUMENTATIONS = ["openinference", "openllmetry", "openai-v2"]
QUESTIONS = [f"Where is my order {n}?" for n in (1, 2, 3)]
LIVE = (
    "subscription ($session: String) { eventLogged(filter: {sessionId: $session}) "
    "{ id input output sessionId userId model tokensIn tokensOut latencyMs costUsd } }"
)


@pytest.fixture(scope="module")
def openai_base() -> Iterator[str]:
    """The fake OpenAI server's base URL (…/v1), shared by the module."""
    with fake_openai() as url:
        yield url


def llm_spans(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chat spans among everything the SDK exported, in start order."""
    names = ("ChatCompletion", "openai.chat", "chat gpt-4o-mini")
    chat = [s for s in spans if s["name"] in names]
    return sorted(chat, key=lambda span: span["start_ns"])


def check_event(
    event: dict[str, Any], span: dict[str, Any], question: str, ids: tuple[str, str]
) -> None:
    """One stored event against the span it came from."""
    session, user = ids
    assert event["sessionId"] == session and event["userId"] == user
    assert event["model"] == MODEL
    assert (event["tokensIn"], event["tokensOut"]) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    duration_ms = (span["end_ns"] - span["start_ns"]) / 1e6
    assert event["latencyMs"] == pytest.approx(duration_ms, abs=0.001)
    # The last user turn, readably; the system message stays in metadata.
    assert event["input"] == question and event["output"] == answer_text(question)
    assert event["costUsd"] is not None and event["costUsd"] > 0
    created = datetime.fromisoformat(event["createdAt"]).timestamp()
    assert created == pytest.approx(span["start_ns"] / 1e9, abs=0.001)
    metadata = json.dumps(event["metadata"])
    assert span["trace_id"] in metadata and span["span_id"] in metadata
    assert "You are a terse assistant" in metadata


@pytest.mark.parametrize("instrumentation", INSTRUMENTATIONS)
async def test_three_calls_give_three_events_live_and_stored(
    server: Server, tenant: Tenant, openai_base: str, instrumentation: str
) -> None:
    session, user = f"s-{secrets.token_hex(4)}", f"u-{secrets.token_hex(4)}"
    async with live(server, tenant) as conn:
        await conn.subscribe(LIVE, session=session)
        await asyncio.sleep(0.2)  # let the subscription reach the bus
        spans = await asyncio.to_thread(
            export_calls, instrumentation, openai_base, server, tenant, session, user
        )
        pushed = [(await conn.next_data())["eventLogged"] for _ in QUESTIONS]
        await conn.nothing_for(0.3)
    chat = llm_spans(spans)
    assert len(chat) == 3, [s["name"] for s in spans]
    events = stored_events(server, tenant, session)
    assert len(events) == 3
    assert sorted(e["id"] for e in pushed) == sorted(e["id"] for e in events)
    for event, span, question in zip(events, chat, QUESTIONS, strict=True):
        check_event(event, span, question, (session, user))
    assert {e["input"] for e in pushed} == {e["input"] for e in events}
    # OpenInference's `using_tags` becomes the events' tags.
    expected_tags = ["bookshop", "otel"] if instrumentation == "openinference" else []
    assert all(e["tags"] == expected_tags for e in events)
    # OpenInference sets the span status OK; the others leave it UNSET (unknown).
    expected_status = "OK" if instrumentation == "openinference" else None
    assert all(e["status"] == expected_status for e in events)


def test_the_same_calls_again_are_new_events_and_nothing_else(
    server: Server, tenant: Tenant, openai_base: str
) -> None:
    """Two runs in one session, the second gzip-compressed by the exporter
    (`OTEL_EXPORTER_OTLP_COMPRESSION`): six events, equal but for ids and times."""
    session, user = f"s-{secrets.token_hex(4)}", f"u-{secrets.token_hex(4)}"
    export_calls("openllmetry", openai_base, server, tenant, session, user, calls=3)
    export_calls("openllmetry", openai_base, server, tenant, session, user, calls=3,
                 OTEL_EXPORTER_OTLP_COMPRESSION="gzip")  # fmt: skip
    events = stored_events(server, tenant, session)
    assert len(events) == 6 and len({e["id"] for e in events}) == 6
    rows = server.query("SELECT count(*) FROM events WHERE project_id = ?", tenant.project_id)
    assert rows[0][0] == 6

    def same(event: dict[str, Any]) -> tuple[Any, ...]:
        keys = ("input", "output", "sessionId", "userId", "model", "tokensIn", "tokensOut")
        return tuple(event[k] for k in keys)

    assert [same(e) for e in events[:3]] == [same(e) for e in events[3:]]
