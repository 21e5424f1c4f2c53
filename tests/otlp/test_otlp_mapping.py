"""Span -> event mapping, in process: real exported fixtures and requests built here.

What the server stores from these bodies is checked end to end in test_otlp_endpoint.py;
here each rule of the mapping (app/services/otlp/mapping.py, messages.py) and the bounds on
what an event keeps are pinned one by one (reading the body: test_otlp_decode.py).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.services.otlp import map_spans
from app.services.otlp.decode import Encoding, decode_spans
from app.services.otlp.mapping import MappedSpan, event_id
from app.services.otlp.spans import TOO_DEEP
from app.services.validation import check_json_values
from tests.otlp.otlp_build import S, chat, export, http
from tests.otlp.otlp_json import to_json

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = 7


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def mapped(raw: bytes, encoding: Encoding = Encoding.PROTOBUF) -> list[MappedSpan]:
    events, problems = map_spans(decode_spans(raw, encoding), PROJECT)
    assert not problems, problems
    for one in events:  # every body holds to the write path's JSON contract
        check_json_values(one.body)
    return events


def bodies(raw: bytes, encoding: Encoding = Encoding.PROTOBUF) -> list[dict[str, Any]]:
    return [one.body for one in mapped(raw, encoding)]


@pytest.mark.parametrize("name", ["openinference", "openllmetry", "openai_v2"])
def test_real_instrumentations_map_to_their_questions_and_answers(name: str) -> None:
    events = bodies(fixture(f"{name}.bin"))
    assert [e["input"] for e in events] == [f"Where is my order {n}?" for n in (1, 2, 3)]
    assert [e["output"] for e in events] == [f"Echo: Where is my order {n}?" for n in (1, 2, 3)]
    for event in events:
        assert event["session_id"] == "fixture-session-1"
        assert event["user_id"] == "fixture-user-1"
        meta = event["metadata"]
        assert (meta["model"], meta["tokens_in"], meta["tokens_out"]) == (
            "gpt-4o-mini-2024-07-18",
            23,
            9,
        )
        assert meta["latency_ms"] > 0
        # A single turn: the system message stays in the metadata, the question and answer
        # are the event's input and output, stored once.
        assert [m["role"] for m in meta["messages"]["system"]] == ["system"]
        assert set(meta["messages"]) == {"system"}
        assert meta["otel"]["resource"]["service.name"].startswith("bookshop-")
        assert len(meta["otel"]["trace_id"]) == 32 and len(meta["otel"]["span_id"]) == 16


def test_openinference_tags_and_no_message_attributes_in_metadata() -> None:
    event = bodies(fixture("openinference.bin"))[0]
    assert event["tags"] == ["bookshop", "otel"]
    attributes = event["metadata"]["otel"]["attributes"]
    assert "llm.model_name" in attributes
    assert not [key for key in attributes if key.startswith("llm.input_messages.")]
    assert "input.value" not in attributes


def test_protobuf_and_json_give_identical_events() -> None:
    for name in ("openinference", "openllmetry", "openai_v2", "legacy_attributes"):
        raw = fixture(f"{name}.bin")
        assert (
            bodies(raw)
            == bodies(fixture(f"{name}.json"), Encoding.JSON)
            == bodies(to_json(raw), Encoding.JSON)
        )


def test_legacy_attributes_map() -> None:
    (event,) = bodies(fixture("legacy_attributes.bin"))
    assert event["input"] == "Can I still change the delivery address of order 42?"
    assert event["output"].startswith("No: the parcel is with the carrier")
    assert (event["metadata"]["tokens_in"], event["metadata"]["tokens_out"]) == (31, 17)
    assert event["metadata"]["latency_ms"] == 1234.0
    assert event["session_id"] == "legacy-session-1"


def test_one_llm_span_among_five_http_spans_is_one_event_and_no_rejection() -> None:
    events, problems = map_spans(
        decode_spans(fixture("one_llm_five_http.bin"), Encoding.PROTOBUF), 1
    )
    assert len(events) == 1 and problems == []
    event = events[0].body
    assert event["session_id"] == "checkout-conversation-1"
    assert event["user_id"] == "checkout-user-1"
    assert event["metadata"]["messages"]["system"][0]["content"].startswith("You are a terse")


def test_a_single_turn_keeps_no_text_twice_and_a_longer_conversation_keeps_its_lists() -> None:
    system = '[{"type":"text","content":"be brief"}]'
    (single,) = bodies(export([chat(1, **{"gen_ai.system_instructions": system})]))
    assert (single["input"], single["output"]) == ("hi", "hello")
    assert single["metadata"]["messages"] == {"system": [{"role": "system", "content": "be brief"}]}
    assert '"hi"' not in orjson.dumps(single["metadata"]).decode()
    (bare,) = bodies(export([chat(1)]))
    assert "messages" not in bare["metadata"]
    turns = [
        {"role": "user", "parts": [{"type": "text", "content": "first"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "reply"}]},
        {"role": "user", "parts": [{"type": "text", "content": "second"}]},
    ]
    calls = [{"role": "assistant", "parts": [
        {"type": "tool_call", "name": "stock", "arguments": {"isbn": "1"}}]}]  # fmt: skip
    (multi,) = bodies(export([chat(1, **{"gen_ai.input.messages": json.dumps(turns)})]))
    (tool,) = bodies(export([chat(1, **{"gen_ai.output.messages": json.dumps(calls)})]))
    assert multi["input"] == "second"
    assert [m["content"] for m in multi["metadata"]["messages"]["input"]] == [
        "first", "reply", "second"]  # fmt: skip
    assert multi["metadata"]["messages"]["output"] == [{"role": "assistant", "content": "hello"}]
    assert tool["output"] == '→ stock({"isbn":"1"})'
    assert tool["metadata"]["messages"]["output"][0]["tool_calls"][0]["name"] == "stock"
    assert tool["metadata"]["messages"]["input"] == [{"role": "user", "content": "hi"}]


def test_openai_v2_without_content_still_has_model_and_tokens() -> None:
    events = bodies(fixture("openai_v2_default.bin"))
    assert [(e["input"], e["output"]) for e in events] == [("", "")] * 3
    assert all(e["metadata"]["tokens_in"] == 23 for e in events)


def test_which_spans_are_llm_spans() -> None:
    spans = [
        chat(1),
        S("legacy", {"gen_ai.system": "openai"}, span=2),
        S("provider", {"gen_ai.provider.name": "anthropic"}, span=3),
        S("oi", {"openinference.span.kind": "LLM"}, span=4),
        S("chain", {"openinference.span.kind": "CHAIN", "input.value": "x"}, span=5),
        S("tool", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "t"}, span=6),
        http(7),
        S("workflow", {"traceloop.span.kind": "workflow"}, span=8),
    ]
    names = [one.span.name for one in mapped(export(spans))]
    assert names == ["chat 1", "legacy", "provider", "oi"]


def test_model_prefers_the_response_model_and_prices_by_the_request_model_when_unknown() -> None:
    unknown = "gpt-4o-mini-2099-01-01"  # a dated name the price list does not know
    (event,) = bodies(export([chat(1, **{"gen_ai.response.model": unknown})]))
    meta = event["metadata"]
    assert meta["model"] == unknown
    # gpt-4o-mini: $0.15 / $0.60 per million tokens; 10 in, 5 out.
    assert meta["cost_usd"] == pytest.approx((10 * 0.15 + 5 * 0.60) / 1e6)
    (known,) = bodies(export([chat(1)]))
    assert "cost_usd" not in known["metadata"]  # the write path prices the response model
    only_request = {"gen_ai.response.model": ""}
    assert bodies(export([chat(1, **only_request)]))[0]["metadata"]["model"] == "gpt-4o-mini"
    oi = S("oi", {"openinference.span.kind": "LLM", "llm.model_name": "m-oi"})
    assert bodies(export([oi]))[0]["metadata"]["model"] == "m-oi"


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 4}, (3, 4)),
        ({"gen_ai.usage.prompt_tokens": 5, "gen_ai.usage.completion_tokens": 6}, (5, 6)),
        ({"llm.token_count.prompt": 7, "llm.token_count.completion": 8}, (7, 8)),
        ({"gen_ai.usage.input_tokens": "9", "gen_ai.usage.output_tokens": 2.0}, (9, 2)),
        ({"gen_ai.usage.input_tokens": -1, "gen_ai.usage.output_tokens": "x"}, (None, None)),
    ],
)
def test_tokens_from_every_family(attributes: dict[str, Any], expected: tuple[Any, Any]) -> None:
    span = S("s", {"gen_ai.system": "openai", **attributes})
    meta = bodies(export([span]))[0]["metadata"]
    assert (meta.get("tokens_in"), meta.get("tokens_out")) == expected


def test_openinference_flattened_messages_with_tool_calls_and_contents() -> None:
    attributes = {
        "openinference.span.kind": "LLM",
        "llm.input_messages.0.message.role": "system",
        "llm.input_messages.0.message.content": "be brief",
        "llm.input_messages.1.message.role": "user",
        "llm.input_messages.1.message.contents.0.message_content.type": "text",
        "llm.input_messages.1.message.contents.0.message_content.text": "weather in Paris?",
        "llm.input_messages.1.message.contents.1.message_content.type": "image",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "weather",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"c":"P"}',
    }
    (event,) = bodies(export([S("oi", attributes)]))
    assert event["input"] == "weather in Paris?\n[image]"
    assert event["output"] == '→ weather({"c":"P"})'


def test_input_value_and_output_value_alone() -> None:
    plain = S("oi", {"openinference.span.kind": "LLM", "input.value": "q?", "output.value": "a."})
    assert [(e["input"], e["output"]) for e in bodies(export([plain]))] == [("q?", "a.")]
    request = {
        "model": "m",
        "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u?"}],
    }
    response = {"choices": [{"message": {"role": "assistant", "content": "r."}}]}
    raw = S(
        "oi",
        {
            "openinference.span.kind": "LLM",
            "input.value": json.dumps(request),
            "input.mime_type": "application/json",
            "output.value": json.dumps(response),
        },
    )
    assert [(e["input"], e["output"]) for e in bodies(export([raw]))] == [("u?", "r.")]


def test_gen_ai_span_events() -> None:
    events = [
        ("gen_ai.system.message", {"content": "sys"}),
        ("gen_ai.user.message", {"content": "first"}),
        ("gen_ai.assistant.message", {"content": "reply"}),
        ("gen_ai.user.message", {"content": "second"}),
        (
            "gen_ai.choice",
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "answer"},
            },
        ),
        ("exception", {"exception.message": "kept"}),
    ]
    span = S("chat", {"gen_ai.operation.name": "chat"}, events=events)
    (event,) = bodies(export([span]))
    assert (event["input"], event["output"]) == ("second", "answer")
    assert [e["name"] for e in event["metadata"]["otel"]["events"]] == ["exception"]
    content = ("gen_ai.content.prompt", {"gen_ai.prompt": '[{"role":"user","content":"old"}]'})
    completion = ("gen_ai.content.completion", {"gen_ai.completion": '[{"content":"done"}]'})
    older = S("chat", {"gen_ai.system": "openai"}, events=[content, completion])
    assert [(e["input"], e["output"]) for e in bodies(export([older]))] == [("old", "done")]


def test_session_and_user_from_ancestors_then_resource_else_one_session_per_trace() -> None:
    spans = [
        S(
            "root",
            {"langfuse.session.id": "s-root", "langfuse.trace.tags": ["a", "b", "a"]},
            span=1,
        ),
        S("mid", {"enduser.id": "u-mid"}, span=2, parent=1),
        chat(3),
        chat(4, trace=2),  # another trace, nothing set: a session of its own
        chat(5, trace=2, **{"gen_ai.conversation.id": "own"}),
    ]
    spans[2].parent = 2
    events = bodies(export(spans, resource={"service.name": "svc", "user.id": "u-resource"}))
    assert [(e["session_id"], e.get("user_id")) for e in events] == [
        ("s-root", "u-mid"),
        (f"trace_{2:032x}", "u-resource"),
        ("own", "u-resource"),
    ]
    assert events[0]["tags"] == ["a", "b"]


def test_tags_are_clipped_to_the_write_paths_bounds_so_the_span_is_kept() -> None:
    """More tags than an event may carry, a tag too long, blanks and repeats: the span is still
    stored, with the first 20 distinct tags, each cut to 64 characters."""
    given = [" ", "x" * 100, "dup", "dup", *(f"t{n}" for n in range(30))]
    events = bodies(export([chat(**{"tag.tags": given})]))
    assert events[0]["tags"] == ["x" * 64, "dup", *(f"t{n}" for n in range(18))]


def test_error_status_and_ok_status() -> None:
    failed = S("chat", {"gen_ai.system": "openai"}, status=2, message="rate limited")
    ok = S("chat", {"gen_ai.system": "openai"}, span=2, status=1)
    unset = S("chat", {"gen_ai.system": "openai"}, span=3)
    events = bodies(export([failed, ok, unset]))
    assert (events[0]["status"], events[0]["error"]) == ("error", "rate limited")
    assert events[1]["status"] == "ok" and "error" not in events[1]
    assert "status" not in events[2]


def test_event_id_is_deterministic_time_ordered_and_per_project() -> None:
    one = event_id(1, "ab" * 16, "cd" * 8, 1_700_000_000_123_456_789)
    assert one == event_id(1, "ab" * 16, "cd" * 8, 1_700_000_000_123_456_789)
    assert one != event_id(2, "ab" * 16, "cd" * 8, 1_700_000_000_123_456_789)
    assert one.version == 8 and one.variant == uuid.RFC_4122
    assert one.int >> 80 == 1_700_000_000_123  # the span's start in ms
    later = event_id(1, "00" * 15 + "01", "00" * 7 + "01", 1_700_000_000_124_000_000)
    assert later > one
    (event,) = bodies(export([chat(1)], base_ms=1_700_000_000_000))
    assert event["event_id"] == str(
        event_id(PROJECT, f"{1:032x}", f"{1:016x}", 1_700_000_000_000 * 10**6)
    )


def test_latency_time_and_metadata_keys() -> None:
    base = 1_700_000_000_000
    (one,) = mapped(
        export([S("c", {"gen_ai.system": "x", "n": 2**63 - 1}, duration_ms=1500)], base_ms=base)
    )
    assert one.time.timestamp() == base / 1000
    meta = one.body["metadata"]
    assert meta["latency_ms"] == 1500.0
    assert set(meta["otel"]) >= {
        "trace_id",
        "span_id",
        "parent_span_id",
        "span_name",
        "attributes",
        "resource",
    }
    assert meta["otel"]["parent_span_id"] is None
    assert meta["otel"]["attributes"]["n"] == 2**63 - 1


def test_spans_that_cannot_be_events_are_reported_not_raised() -> None:
    no_ids = S("chat", {"gen_ai.system": "openai"}, trace=0)
    events, problems = map_spans(decode_spans(export([no_ids, chat(2)]), Encoding.PROTOBUF), 1)
    assert len(events) == 1 and len(problems) == 1
    assert "trace_id" in problems[0] and "'chat'" in problems[0]


def test_values_are_bounded_and_cleaned_for_the_json_contract() -> None:
    deep: Any = "leaf"
    for _ in range(20):
        deep = [deep]
    attributes = {
        "gen_ai.system": "x",
        "nul": "a\x00b",
        "deep": deep,
        "k\x00": 1.5,
        "nan": float("nan"),
        "many": list(range(1000)),
    }
    meta = bodies(export([S("c", attributes)]))[0]["metadata"]["otel"]["attributes"]
    assert meta["nul"] == "a\ufffdb" and meta["k\ufffd"] == 1.5 and meta["nan"] == "NaN"
    assert len(meta["many"]) == 256
    depth, node = 0, meta["deep"]
    while isinstance(node, list):
        depth, node = depth + 1, node[0]
    assert node == TOO_DEEP and depth < 10


def test_json_variants_spec_allows() -> None:
    """Numbers or strings for int64, enum names, base64 ids (protobuf's JSON), camel or
    snake case field names."""
    body = {
        "resource_spans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "AAAAAAAAAAAAAAAAAAAAAQ==",
                                "span_id": "0000000000000002",
                                "name": "chat",
                                "kind": "SPAN_KIND_CLIENT",
                                "startTimeUnixNano": 1_700_000_000_000_000_000,
                                "endTimeUnixNano": "1700000000500000000",
                                "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
                                "attributes": [
                                    {"key": "gen_ai.system", "value": {"stringValue": "openai"}},
                                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": 12}},
                                    {"key": "big", "value": {"intValue": "99999999999999999999"}},
                                    {"key": "inf", "value": {"doubleValue": "Infinity"}},
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    (event,) = bodies(orjson.dumps(body), Encoding.JSON)
    assert event["metadata"]["otel"]["trace_id"] == f"{1:032x}"
    assert event["metadata"]["otel"]["span_kind"] == "client"
    assert event["metadata"]["tokens_in"] == 12 and event["metadata"]["latency_ms"] == 500.0
    assert event["metadata"]["otel"]["attributes"]["big"] == "99999999999999999999"
    assert event["metadata"]["otel"]["attributes"]["inf"] == "Infinity"
    assert (event["status"], event["error"]) == ("error", "boom")
