"""Whole selections answered in one pass: an object's selection, compiled once per request into
a `Shape`, executed by one loop per object instead of graphql-core's per-object machinery.

The executor (`app/schema/execution.py`) answers plain fields without graphql-core's field
machinery, but every object of a page still went through graphql-core's completion: the
collected fields looked up, `execute_fields` called, a `Path` made and a method called for
each object field, an awaitable check per field. For a page of 50 events with their edges,
feedback and session that is ~150 objects, and it was a third of the page's server time
(issue 24). When every field of a selection, and of the selections below it, is plain (an
attribute or a `shortcut`, no arguments, no directives: `plain_fields.plain_field`) or
`__typename`, the selection compiles to a Shape and the object is answered by `answer`: a
loop over the fields, recursing into objects and lists of objects.

`answer` gives up (NOT_READ) at the first doubt: a getter that raises, a shortcut that says
NOT_READ, a null where the type forbids one, a value a scalar refuses or a type check rejects,
an awaitable. The caller then runs graphql-core's path for that object, which reads every field
again and reports errors at the same paths as ever: the getters only read (attributes, the
shortcuts' views made into objects), so reading twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from graphql import GraphQLObjectType, GraphQLSchema
from strawberry.execution.is_awaitable import optimized_is_awaitable

from app.schema.plain_fields import INT_BOUND, NOT_READ, Plain, leaf_value, plain_field

TYPENAME = "__typename"
LEAF, OBJECT, LIST, CONSTANT = range(4)


class Entry(NamedTuple):
    """One field of a Shape: its response name, how to answer it (`plain`, with its getter and
    the type of values its scalar answers as they are, copied out for the loop), and the
    Shape of its objects (`OBJECT`, `LIST`) or its value (`CONSTANT`: `__typename`)."""

    name: str
    mode: int
    plain: Plain | None
    inner: Any = None
    getter: Callable[[Any], Any] | None = None
    same: type | None = None


Shape = tuple[Entry, ...]
# collect_subfields(type, field details) → (grouped field set, defer usages, …) of the executor
Collect = Callable[[GraphQLObjectType, Any], Any]


def compile_shape(
    schema: GraphQLSchema, kind: GraphQLObjectType, grouped_field_set: Any, collect: Collect
) -> Shape | None:
    """The Shape of a selection on `kind`, or None when some field below it is not plain."""
    entries = []
    for name, details in grouped_field_set.items():
        nodes = [detail.node for detail in details]
        if any(node.arguments or node.directives for node in nodes):
            return None
        field_name = nodes[0].name.value
        if field_name == TYPENAME:
            entries.append(Entry(name, CONSTANT, None, kind.name))
            continue
        plain = plain_field(schema, kind, field_name)
        if plain is None:
            return None
        if plain.kind is None:
            entries.append(Entry(name, LEAF, plain, None, plain.getter, plain.same))
            continue
        inner_fields, deferred, *_ = collect(plain.kind, details)
        if deferred:
            return None
        inner = compile_shape(schema, plain.kind, inner_fields, collect)
        if inner is None:
            return None
        entries.append(Entry(name, LIST if plain.many else OBJECT, plain, inner))
    return tuple(entries)


def answer(shape: Shape, source: Any) -> Any:
    """The object's answer (a dict, as graphql-core makes it), or NOT_READ at any doubt."""
    result: dict[str, Any] = {}
    value: Any
    for name, mode, plain, inner, getter, same in shape:
        if mode == LEAF:  # `leaf`, inline: a page answers ~650 of them
            try:
                value = getter(source)  # type: ignore[misc]
            except Exception:
                return NOT_READ
            if type(value) is not same or (
                same is int and not -INT_BOUND <= value < INT_BOUND  # type: ignore[operator]
            ):
                value = leaf_value(plain, value)  # type: ignore[arg-type]
        elif mode == CONSTANT:
            value = inner
        else:
            value = _objects(plain, inner, source, mode == LIST)  # type: ignore[arg-type]
        if value is NOT_READ:
            return NOT_READ
        result[name] = value
    return result


def _objects(plain: Plain, shape: Shape, source: Any, many: bool) -> Any:
    """An object field's answer, or a list of objects', or NOT_READ."""
    try:
        value = plain.getter(source)
    except Exception:
        return NOT_READ
    if value is None:
        return None if plain.nullable else NOT_READ
    if isinstance(value, Exception) or optimized_is_awaitable(value):
        return NOT_READ  # graphql-core's path reports the error, or awaits
    check = plain.check
    if not many:
        if check is not None and not check(value, None):
            return NOT_READ
        return answer(shape, value)
    if not isinstance(value, list | tuple):
        return NOT_READ
    items: list[Any] = []
    for item in value:
        if item is None:
            if not plain.item_nullable:
                return NOT_READ
            items.append(None)
            continue
        if check is not None and not check(item, None):
            return NOT_READ
        completed = answer(shape, item)
        if completed is NOT_READ:
            return NOT_READ
        items.append(completed)
    return items
