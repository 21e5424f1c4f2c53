"""The executor's short paths (app/schema/execution.py, plain_fields.py, shapes.py) answer
exactly what graphql-core's own executor answers: the same data, the same errors at the same
paths, for selections that compile to a Shape and for every kind of doubt that sends an object
back to graphql-core's path (a shortcut that says NOT_READ, a getter that raises, a null where
the type forbids one, a value a scalar refuses, an awaitable, an Exception as a value)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest
import strawberry
from strawberry.scalars import JSON

from app.schema.execution import NOT_READ, PlainFieldsExecutionContext, shortcut


@strawberry.enum
class Mood(Enum):
    CALM = "calm"
    BUSY = "busy"


@strawberry.type
class Leaf:
    name: str
    size: int | None
    mood: Mood | None
    at: datetime | None
    data: JSON | None


def _read_friend(node: Node) -> Any:
    return NOT_READ if node.friend_hidden else node.friend_value


@strawberry.type
class Node:
    id: strawberry.ID
    label: str
    count: int
    ratio: float | None
    leaf: Leaf | None
    leaves: list[Leaf]
    maybe_leaves: list[Leaf | None] | None
    strict_leaf: Leaf
    friend_value: strawberry.Private[Any] = None
    friend_hidden: strawberry.Private[bool] = False

    @strawberry.field
    @shortcut(_read_friend)
    def friend(self) -> Leaf | None:
        """What the shortcut reads, unless hidden: then only the resolver answers (as a
        dataloader does when a page did not prefetch the relation)."""
        if self.friend_hidden:
            return Leaf(name="from resolver", size=None, mood=None, at=None, data=None)
        return self.friend_value  # type: ignore[no-any-return]

    @strawberry.field
    @shortcut(lambda node: node.missing_attribute)  # the getter raises: the resolver runs
    def broken(self) -> str:
        raise ValueError("resolver fails too")


def leaf(name: str = "a", **values: Any) -> Leaf:
    """A Leaf with defaults."""
    fields: dict[str, Any] = {"size": 1, "mood": Mood.CALM, "at": None, "data": None}
    return Leaf(name=name, **{**fields, **values})


def node(number: int, **values: Any) -> Node:
    """A Node with defaults."""
    fields: dict[str, Any] = {
        "id": strawberry.ID(f"n{number}"),
        "label": f"node {number}",
        "count": number,
        "ratio": number / 3,
        "leaf": leaf(f"leaf {number}", at=datetime(2026, 1, number + 1, tzinfo=UTC)),
        "leaves": [leaf("x", data={"k": [1, 2]}), leaf("y", mood=Mood.BUSY)],
        "maybe_leaves": [leaf("m"), None],
        "strict_leaf": leaf("strict"),
        "friend_value": leaf("friend"),
    }
    return Node(**{**fields, **values})


async def _later(value: Any) -> Any:
    await asyncio.sleep(0)
    return value


NODES: dict[str, list[Node]] = {}


@strawberry.type
class Query:
    @strawberry.field
    def nodes(self, case: str) -> list[Node]:
        return NODES[case]


def _cases() -> dict[str, list[Node]]:
    return {
        "plain": [node(1), node(2, leaf=None, maybe_leaves=None)],
        "hidden friend": [node(1, friend_hidden=True), node(2)],
        "null in a non-null list": [node(1, leaves=[leaf(), None])],  # type: ignore[list-item]
        "null non-null object": [node(1, strict_leaf=None)],
        "null non-null leaf": [node(1), node(2, label=None)],
        "int past 32 bits": [node(1, count=2**31)],
        "bool as int": [node(1, count=True)],
        "nan": [node(1, ratio=float("nan"))],
        "wrong enum": [node(1, leaf=leaf(mood="calm"))],
        "wrong object type": [node(1, leaf="not a leaf")],
        "exception as a value": [node(1, leaf=leaf(data=ValueError("boom")))],
        "exception as an object": [node(1, friend_value=ValueError("boom"))],
        "list that is not a list": [node(1, leaves=leaf())],
    }


DOCUMENTS = {
    "everything": """query($case: String!) { nodes(case: $case) { __typename id label count
        ratio leaf { __typename name size mood at data } leaves { name data mood }
        maybeLeaves { name } strictLeaf { name } friend { name } } }""",
    "aliases and fragments": """query($case: String!) { nodes(case: $case) { a: id b: id
        ...on Node { leaf { ...L } } friend { ...L size } } }
        fragment L on Leaf { name n2: name }""",
    "directives": """query($case: String!, $yes: Boolean = true) { nodes(case: $case) {
        id leaf @include(if: $yes) { name } leaves @skip(if: $yes) { name }
        friend { name @skip(if: $yes) size } } }""",
    "a resolver that fails": "query($case: String!) { nodes(case: $case) { id broken } }",
}


def _schema(executor: type | None) -> strawberry.Schema:
    if executor is None:
        return strawberry.Schema(query=Query)
    return strawberry.Schema(query=Query, execution_context_class=executor)


def _outcome(result: Any) -> tuple[Any, list[tuple[str, Any]]]:
    errors = sorted((error.message, error.path) for error in result.errors or [])
    return result.data, errors


@pytest.mark.parametrize("case", list(_cases()))
@pytest.mark.parametrize("document", list(DOCUMENTS))
async def test_answers_and_errors_are_graphql_cores(case: str, document: str) -> None:
    """Each document over each case: the same data and errors with and without the short
    paths."""
    NODES.clear()
    NODES.update(_cases())
    text = DOCUMENTS[document]
    variables = {"case": case}
    expected = await _schema(None).execute(text, variable_values=variables)
    answered = await _schema(PlainFieldsExecutionContext).execute(text, variable_values=variables)
    assert _outcome(answered) == _outcome(expected)
    if case == "plain" and document == "everything":
        assert answered.data is not None
        assert answered.data["nodes"][0]["leaf"]["at"] == "2026-01-02T00:00:00+00:00"


async def test_an_awaitable_value_is_awaited_as_graphql_core_does() -> None:
    """A plain field holding an awaitable goes to graphql-core, which awaits it."""
    NODES.clear()
    NODES["late"] = [node(1, leaf=_later(leaf("late")))]
    text = 'query { nodes(case: "late") { id leaf { name } } }'
    answered = await _schema(PlainFieldsExecutionContext).execute(text)
    assert answered.errors is None
    assert answered.data == {"nodes": [{"id": "n1", "leaf": {"name": "late"}}]}
