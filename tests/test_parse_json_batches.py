"""`parse_json` on batch bodies: the look at the values' types that replaced the whole walk
for every batch (app/services/validation.py's `_unusual`) refuses what the walk refused, with
the same 422 naming the same path, wherever in a batch of 100 the value is, and accepts the
rest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.errors import Invalid
from app.services.validation import MAX_JSON_DEPTH, parse_json

AT = 57  # the event of the batch that carries the value


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth - 1):
        value = {"d": value}
    return value


def _batch(value: Any) -> bytes:
    events: list[dict[str, Any]] = [
        {"input": f"q{n}", "output": "a", "metadata": {"model": "gpt-4", "tokens_in": 3}}
        for n in range(100)
    ]
    events[AT]["metadata"]["x"] = value
    return json.dumps({"events": events}).encode()


# (value at events[AT].metadata.x, the path's tail after "x", the error type)
REFUSED = [
    (1e19, [], "number_range"),
    ([-9.3e18], [0], "number_range"),
    ({"y": [1.5, 2e30]}, ["y", 1], "number_range"),
    (2**63, [], "int_range"),
    ("a\x00b", [], "string_nul"),
    # The body is {"events": [{"metadata": {"x": …}}]}: x sits at depth 5, so a value of
    # depth MAX_JSON_DEPTH - 3 is the deepest allowed.
    (_nested(MAX_JSON_DEPTH - 2), ["d"] * (MAX_JSON_DEPTH - 4), "too_deep"),
]


@pytest.mark.parametrize(("value", "tail", "kind"), REFUSED)
def test_a_batch_with_one_bad_value_is_refused_naming_it(
    value: Any, tail: list[Any], kind: str
) -> None:
    with pytest.raises(Invalid) as caught:
        parse_json(_batch(value))
    [detail] = caught.value.details
    assert detail["type"] == kind
    assert detail["loc"] == ["body", "events", AT, "metadata", "x", *tail]


@pytest.mark.parametrize(
    "value",
    [
        1.5e18,  # an exponent within range
        -9.2e18,
        "1e400 and 99999999999999999999e99 in text are text",
        [0.5, {"k": 1e-300}],
        _nested(MAX_JSON_DEPTH - 3),  # exactly as deep as allowed
        True,
        None,
    ],
)
def test_a_batch_of_acceptable_values_is_parsed_as_sent(value: Any) -> None:
    parsed = parse_json(_batch(value))
    assert parsed["events"][AT]["metadata"]["x"] == value
    assert len(parsed["events"]) == 100


def test_a_top_level_float_out_of_range_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        parse_json(b"1e30")
    assert caught.value.details[0]["type"] == "number_range"
