"""One input contract: GraphQL requests obey the write path's rules (`app.services.validation`).

Three places, because a value can arrive three ways:
- the HTTP body (query, variables) is parsed by `validation.parse_json`, as REST bodies are:
  strict JSON (no NaN or Infinity, no lone surrogates), bounded nesting, no NUL characters;
- literals written in the document are checked by `LiteralValues` during validation: no NUL
  in strings, finite floats (`1e400` parses as infinity), integers within 64 bits (graphql-core
  checks `Int` arguments, but the `JSON` scalar takes any literal);
- every mutation's input is walked by `validation.check_json_values` before the Ingestor sees
  it, whichever way its values came.
Failures are `Invalid`/`MalformedBody` (over HTTP a 4xx before anything runs; in a document or
an input, a GraphQL error typed `invalid`/`invalid_query` naming the value).
"""

from __future__ import annotations

import math
from typing import Any

from graphql import FloatValueNode, GraphQLError, IntValueNode, StringValueNode, ValidationRule

from app.errors import MalformedBody
from app.services import validation

MAX_INTEGER = 2**63 - 1
# The body wraps a write's input in `variables` (and `logEvents` in a list): their own depth
# is checked once unwrapped (`check_input`), so the envelope may be this much deeper.
ENVELOPE_DEPTH = 3


def parse_body(data: str | bytes) -> dict[str, Any]:
    """A GraphQL HTTP body: a JSON object, parsed under the REST body rules."""
    raw = data.encode() if isinstance(data, str) else data
    body = validation.parse_json(raw, max_depth=validation.MAX_JSON_DEPTH + ENVELOPE_DEPTH)
    if not isinstance(body, dict):
        raise MalformedBody('a GraphQL request body must be a JSON object such as {"query": …}')
    return body


def check_input(value: Any) -> None:
    """Refuse a mutation input that the write path's rules refuse (NUL, NaN, depth, …)."""
    validation.check_json_values(value, ("input",))


class LiteralValues(ValidationRule):
    """Literals in the document follow the rules variables follow (see the module docstring)."""

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        """No NUL characters: PostgreSQL cannot store them, and REST refuses them."""
        if "\x00" in node.value:
            self._refuse(node, "strings must not contain NUL (\\u0000) characters")

    def enter_float_value(self, node: FloatValueNode, *_: Any) -> None:
        """Finite numbers only: JSON has no NaN or Infinity."""
        if not math.isfinite(float(node.value)):
            self._refuse(node, f"{node.value} is not a finite number")

    def enter_int_value(self, node: IntValueNode, *_: Any) -> None:
        """Integers that fit in 64 bits, as stored."""
        if abs(int(node.value)) > MAX_INTEGER:
            self._refuse(node, f"integers must fit in 64 bits (at most {MAX_INTEGER} in size)")

    def _refuse(self, node: Any, message: str) -> None:
        self.report_error(GraphQLError(message, node))
