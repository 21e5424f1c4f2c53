"""Plain fields: those answered by reading the object alone, without graphql-core's field
machinery (see `app/schema/execution.py` for why).

For a field that Strawberry itself treats as basic (no resolver, no permission, no field
extension), or whose resolver is marked with `shortcut`, `plain_field` says how to read it from
its object (`Plain`): the attribute or the shortcut, and either the output coercion of its
scalar or enum type (`leaf` answers it) or the object type whose selection to execute.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, NamedTuple, TypeVar

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
)
from graphql.pyutils import Undefined
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

F = TypeVar("F", bound=Callable[..., Any])
NOT_READ = object()  # a shortcut's answer when the resolver must run after all


def shortcut(read: Callable[[Any], Any]) -> Callable[[F], F]:
    """Mark a resolver (below `@strawberry.field`) as answerable from its object alone:
    `read(obj)` is the field's value, or NOT_READ when the resolver must run (e.g. a relation
    not prefetched). Only for resolvers without arguments, permissions or extensions."""

    def mark(resolver: F) -> F:
        resolver.__shortcut__ = read  # type: ignore[attr-defined]
        return resolver

    return mark


class Plain(NamedTuple):
    """How to answer a plain field: its getter, and either a leaf's output coercion or the
    object type whose selection to execute (`many`: a list of them)."""

    getter: Callable[[Any], Any]
    nullable: bool
    coerce: Callable[[Any], Any] | None = None
    kind: GraphQLObjectType | None = None
    many: bool = False
    item_nullable: bool = False
    field_type: GraphQLOutputType | None = None
    check: Callable[[Any, Any], Any] | None = None  # the object type's is_type_of, if any
    same: type | None = None  # a Python type the scalar answers unchanged (`_SAME`)


# graphql-core's String, ID and Boolean answer a str (a bool) unchanged, and Int an int within
# 32 bits: their output coercion (a call and its isinstance checks, ~350 per page) is skipped
# for exactly those values. Float is left out (it refuses NaN), and every other value or type
# goes through the scalar's own coercion.
_SPECIFIED = {kind.name: kind for kind in (GraphQLString, GraphQLID, GraphQLBoolean, GraphQLInt)}
_SAME: dict[str, type] = {"String": str, "ID": str, "Boolean": bool, "Int": int}
INT_BOUND = 2**31


# Per schema, per (type, field): its Plain, or None when graphql-core's path must run.
_PLAIN: dict[int, dict[tuple[str, str], Plain | None]] = {}


def plain_field(schema: GraphQLSchema, parent: GraphQLObjectType, name: str) -> Plain | None:
    """How to answer `parent.name` directly, or None when it is not a plain field."""
    known = _PLAIN.setdefault(id(schema), {})
    key = (parent.name, name)
    if key not in known:
        known[key] = _plain(schema, parent, name)
    return known[key]


def _getter(field: Any, definition: StrawberryField) -> Callable[[Any], Any] | None:
    """The field's value from its object: the attribute, or a resolver's `shortcut`."""
    if getattr(field.resolve, "_is_default", False) and definition.is_basic_field:
        return attrgetter(definition.python_name)
    resolver = definition.base_resolver
    if resolver is None or definition.permission_classes or definition.extensions:
        return None
    read = getattr(resolver.wrapped_func, "__shortcut__", None)
    return read if callable(read) else None


def _plain(schema: GraphQLSchema, parent: GraphQLObjectType, name: str) -> Plain | None:
    field = schema.get_field(parent, name)
    if field is None or field.args:
        return None
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField):
        return None
    getter = _getter(field, definition)
    if getter is None:
        return None
    kind: GraphQLOutputType = field.type
    nullable = not isinstance(kind, GraphQLNonNull)
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    if isinstance(kind, GraphQLScalarType | GraphQLEnumType):
        same = _SAME.get(kind.name) if kind is _SPECIFIED.get(kind.name) else None
        return Plain(getter, nullable, coerce=kind.coerce_output_value, same=same)
    many = isinstance(kind, GraphQLList)
    item_nullable = False
    if isinstance(kind, GraphQLList):
        kind = kind.of_type
        item_nullable = not isinstance(kind, GraphQLNonNull)
        if isinstance(kind, GraphQLNonNull):
            kind = kind.of_type
    if not isinstance(kind, GraphQLObjectType) or not _own_type_check(kind):
        return None  # leaves in lists, abstract types, custom type checks: graphql-core's
    return Plain(getter, nullable, kind=kind, many=many, item_nullable=item_nullable,
                 field_type=field.type, check=kind.is_type_of)  # fmt: skip


def _own_type_check(kind: GraphQLObjectType) -> bool:
    """Whether the type has no `is_type_of`, or Strawberry's own for a type with interfaces
    (an isinstance check that ignores its `info`): a type's own check needs graphql-core."""
    if kind.is_type_of is None:
        return True
    definition = (kind.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return getattr(definition, "is_type_of", True) is None


def leaf(plain: Plain, source: Any) -> Any:
    """A scalar or enum field's output value, or NOT_READ for graphql-core's path."""
    try:
        value: Any = plain.getter(source)
    except Exception:
        return NOT_READ
    kind = type(value)
    if kind is plain.same and (kind is not int or -INT_BOUND <= value < INT_BOUND):
        return value  # what the scalar answers as is (see `_SAME`)
    return leaf_value(plain, value)


def leaf_value(plain: Plain, value: Any) -> Any:
    """The output value of `value`, read for a scalar or enum field, or NOT_READ for
    graphql-core's path."""
    if value is None:
        return None if plain.nullable else NOT_READ
    if value is NOT_READ or isinstance(value, Exception) or optimized_is_awaitable(value):
        return NOT_READ  # graphql-core raises an error and awaits an awaitable
    try:
        coerced = plain.coerce(value) if plain.coerce else NOT_READ
    except Exception:
        return NOT_READ  # graphql-core's path reports it
    if coerced is None or coerced is Undefined:
        return NOT_READ
    return coerced
