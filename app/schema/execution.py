"""The executor: graphql-core's, with a short path for plain scalar fields.

A page of 50 events with their feedback and session answers ~800 fields, and ~700 of them are
plain attributes (id, model, tokens…) of objects built from rows. graphql-core runs each one
through the whole field machinery: a `GraphQLResolveInfo`, Strawberry's resolver wrapper, an
awaitable check, `complete_value`'s type dispatch. Measured in-process at 100,000 events, that
was most of the ~11 ms of server CPU per page (the SQL is ~1 ms; issue 24). For a field that
Strawberry itself treats as basic (no resolver, no permission, no field extension) whose type
is a scalar or an enum, the answer is `getattr` and the type's output coercion: that is what
this executor does, and nothing else changes. Any other field, a field with arguments, a null
where the type forbids one, a value the scalar refuses, or a schema run with middleware
(a `resolve` hook) takes graphql-core's path, so errors are the same as before.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
)
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

# (getter, output coercion, nullable) of a plain leaf field.
Plain = tuple[Callable[[Any], Any], Callable[[Any], Any], bool]
# Per schema, per (type, field): its Plain, or None when graphql-core's path must run.
_PLAIN: dict[int, dict[tuple[str, str], Plain | None]] = {}


def plain_leaf(schema: GraphQLSchema, parent: GraphQLObjectType, name: str) -> Plain | None:
    """How to answer `parent.name` directly, or None when it is not a plain leaf field."""
    known = _PLAIN.setdefault(id(schema), {})
    key = (parent.name, name)
    if key not in known:
        known[key] = _plain(schema, parent, name)
    return known[key]


def _plain(schema: GraphQLSchema, parent: GraphQLObjectType, name: str) -> Plain | None:
    field = schema.get_field(parent, name)
    if field is None or field.args or not getattr(field.resolve, "_is_default", False):
        return None
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    kind: GraphQLOutputType = field.type
    nullable = not isinstance(kind, GraphQLNonNull)
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    if not isinstance(kind, GraphQLScalarType | GraphQLEnumType):
        return None  # objects and lists keep graphql-core's completion
    return attrgetter(definition.python_name), kind.coerce_output_value, nullable


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, answering plain scalar fields directly (see above)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Strawberry always passes a manager, holding the extensions with a `resolve` hook
        # (none of ours): only when it holds none may a field skip the resolver chain.
        manager = self.middleware_manager
        self.plain_fields = manager is None or manager._middleware_resolvers is None

    def execute_field(  # type: ignore[no-untyped-def]
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ):
        """A plain leaf field's value; anything else (or any doubt) as graphql-core does it."""
        node = field_details_list[0].node
        if self.plain_fields and not node.arguments:
            plain = plain_leaf(self.schema, parent_type, node.name.value)
            if plain is not None:
                getter, coerce, nullable = plain
                try:
                    value = getter(source)
                    if value is None:
                        if nullable:
                            return None
                    else:
                        coerced = coerce(value)
                        if coerced is not None and coerced is not Undefined:
                            return coerced
                except Exception:  # noqa: S110 - graphql-core's path reports it
                    pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
