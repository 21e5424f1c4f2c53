"""Custom scalars shared by the schema's types."""

from __future__ import annotations

from typing import Any, NewType

import strawberry

from app.errors import Invalid

# A plain `int` to type checkers; `build_schema` maps it to the GraphQL scalar below.
BigInt = NewType("BigInt", int)


def _parse_big_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("BigInt must be an integer")
    return value


BIG_INT_SCALAR = strawberry.scalar(
    name="BigInt",
    description=(
        "An integer that may exceed 32 bits, sent as a JSON number. Exact up to 2^53 - 1 "
        "(9007199254740991) in clients whose numbers are doubles, such as JavaScript."
    ),
    serialize=int,
    parse_value=_parse_big_int,
)
