"""One JSON contract: a REST body (`parse_json`) and a GraphQL input (`check_json_values`)
that hold the same value get the same answer: accepted, or the same 422 naming the same path.

GraphQL builds mutation inputs from its own literals, where `1e400` becomes an infinity and
`"\\ud800"` a lone surrogate; REST reads them from JSON text, where orjson refuses some and
silently turns integers past 2^64 - 1 into floats. Both must refuse them alike.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import Invalid, MalformedBody, PhosphoError
from app.services import validation
from app.services.validation import MAX_JSON_DEPTH, check_json_values, parse_json


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth - 1):
        value = {"d": value}
    return value


# (name, value inside {"metadata": {"x": …}}, the path's tail after "x", the error type)
REFUSED = [
    ("nul", "a\x00b", [], "string_nul"),
    ("nul-key", {"k\x00": 1}, ["k\x00"], "key_nul"),
    ("surrogate", "\ud800", [], "string_surrogate"),
    ("surrogate-key", {"\ud800": 1}, ["\\ud800"], "key_surrogate"),
    ("low-surrogate", ["ok", "x\udc00y"], [1], "string_surrogate"),
    ("nan", math.nan, [], "finite_number"),
    ("infinity", [math.inf], [0], "finite_number"),
    ("minus-infinity", {"y": -math.inf}, ["y"], "finite_number"),
    ("2^63", 2**63, [], "int_range"),
    ("2^64", 2**64, [], "int_range"),
    ("-2^63-1", -(2**63) - 1, [], "int_range"),
    ("2^70", [2**70], [0], "int_range"),
    ("1e19", 1e19, [], "number_range"),  # a float outside 64 bits: JSON Schema's rule too
    ("-9.3e18", [-9.3e18], [0], "number_range"),
    ("deep", _nested(MAX_JSON_DEPTH), ["d"] * (MAX_JSON_DEPTH - 2), "too_deep"),  # level 33
]


def _as_json(value: Any) -> bytes:
    """The value as JSON text (NaN and infinities as Python writes them; 1e400 for infinity
    would be read back the same)."""
    return json.dumps({"metadata": {"x": value}}, ensure_ascii=True).encode()


def _answer(call: Any) -> tuple[int, list[Any], str] | None:
    try:
        call()
    except PhosphoError as error:
        detail = error.details[0] if error.details else {"loc": [], "type": ""}
        return error.status_code, list(detail["loc"]), str(detail["type"])
    return None


@pytest.mark.parametrize(("name", "value", "tail", "kind"), REFUSED, ids=[r[0] for r in REFUSED])
def test_rest_and_graphql_refuse_alike(name: str, value: Any, tail: list[Any], kind: str) -> None:
    """Each refused value: the same 422, the same path, under `body` or a GraphQL argument."""
    rest = _answer(lambda: parse_json(_as_json(value)))
    graphql = _answer(lambda: check_json_values({"metadata": {"x": value}}, ("input",)))
    assert rest == (422, ["body", "metadata", "x", *tail], kind)
    assert graphql == (422, ["input", "metadata", "x", *tail], kind)


def test_what_json_cannot_say_is_400_and_the_answer_can_be_sent() -> None:
    """Not JSON at all is a 400; a refused key is named in a form the answer can carry."""
    for raw in (b"{not json", b"", b'{"a": 1', b'{"a": "\xff"}', b"\xef\xbb\xbf{}"):
        assert isinstance(_raised(raw), MalformedBody), raw
    refused = _raised(b'{"k\\ud800": 1}')
    assert isinstance(refused, Invalid) and refused.details[0]["loc"] == ["body", "k\\ud800"]
    json.dumps(refused.details).encode()  # no lone surrogate left in the answer
    deep = _raised(b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    assert isinstance(deep, Invalid) and deep.details[0]["type"] == "too_deep"


def _raised(raw: bytes) -> PhosphoError | None:
    try:
        parse_json(raw)
    except PhosphoError as error:
        return error
    return None


text = st.text(st.characters(exclude_categories=()))  # lone surrogates and NUL included
json_values = st.recursive(
    st.none() | st.booleans() | text | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(2**80), max_value=2**80) | st.sampled_from([2**63 - 1, -(2**63)]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=400, deadline=None, database=None)
@given(value=json_values)
def test_any_value_gets_the_same_answer_over_rest_and_graphql(value: Any) -> None:
    """Any JSON-like value: REST (from its JSON text) and GraphQL (the value itself) both
    accept it, or both refuse it with the same path and type; what REST accepts, it reads
    back exactly."""
    raw = json.dumps({"v": value}).encode()
    rest = _answer(lambda: parse_json(raw))
    graphql = _answer(lambda: check_json_values({"v": value}))
    assert rest == graphql
    if rest is None:
        assert json.dumps(parse_json(raw)) == json.dumps({"v": value})


@settings(max_examples=2000, deadline=None, database=None)
@given(raw=st.binary(max_size=200) | st.text("0123456789a,.", max_size=200).map(str.encode))
def test_the_digit_run_scan_finds_what_the_regular_expression_finds(raw: bytes) -> None:
    """The sampled scan that keeps the fast path fast misses no run of 19 digits."""
    assert validation._has_long_digit_run(raw) == (re.search(rb"[0-9]{19}", raw) is not None)


@settings(max_examples=1000, deadline=None, database=None)
@given(
    value=st.floats(min_value=1e17, max_value=1e21) | st.floats(min_value=-1e21, max_value=-1e17),
    spelling=st.sampled_from(["{:e}", "{:E}", "{:.3e}", "{:.20f}", "{!r}"]),
    shift=st.integers(min_value=0, max_value=6),
    before=st.sampled_from([":", ": ", ":\n", ":["]),
)
def test_a_number_outside_64_bits_is_refused_however_it_is_written(
    value: float, spelling: str, shift: int, before: str
) -> None:
    """1e19, 1.0E+19, 10000000000000000000.0, 0.000001e25: the exact value decides, as in the
    OpenAPI document's JSON Schema (which cannot tell the spellings apart)."""
    text = spelling.format(value)
    if shift and "e" in text.lower():  # the same value with a smaller mantissa
        mantissa, _, exponent = text.lower().partition("e")
        text = f"{float(mantissa) / 10**shift:.15f}e{int(exponent) + shift}"
    closing = "]}" if before.endswith("[") else "}"
    raw = ('{"v"' + before + text + closing).encode()
    inside = -(2**63) <= float(text) <= 2**63 - 1
    refused = _raised(raw)
    if inside:
        assert refused is None, (raw, refused)
    else:
        assert isinstance(refused, Invalid) and refused.details[0]["type"] == "number_range", raw
