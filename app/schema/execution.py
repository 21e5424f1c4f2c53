"""The executor: graphql-core's, with a short path for plain fields.

A page of 50 events with their feedback and session answers ~800 fields, and ~700 of them are
plain attributes (id, model, tokens…) of objects built from rows. graphql-core runs each one
through the whole field machinery: a `GraphQLResolveInfo`, Strawberry's resolver wrapper, an
awaitable check, `complete_value`'s type dispatch. Measured in-process at 100,000 events, that
was most of the ~11 ms of server CPU per page (the SQL is ~1 ms; issue 24). For a field that
Strawberry itself treats as basic (no resolver, no permission, no field extension) whose type
is a scalar or an enum, the answer is `getattr` and the type's output coercion: that is what
this executor does.

The objects of a page went the long way too (issue 24, py-spy of `bench.graphql`: a third of
the server's CPU per page): `edges`, each `node`, and the `latestFeedback` and `session` that
the page had already read (Strawberry's resolver wrapper, its `Info`, argument conversion, for
each of 100 nodes). A basic field whose type is an object, or a list of objects, is answered by
`getattr` and its selection executed directly; a resolver marked with `shortcut` (its answer
read from the object alone, e.g. a relation the page prefetched) likewise, unless the shortcut
says NOT_READ. Errors are handled at the same places as graphql-core does (the field, each
list item), so answers and errors stay the same.

Any other field (arguments, directives, a permission, an extension, an abstract type), a null
where the type forbids one, a value the scalar refuses, or a schema run with middleware (a
`resolve` hook) takes graphql-core's path, so errors are the same as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
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
_INT_BOUND = 2**31


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


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, answering plain fields directly (see above)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Strawberry always passes a manager, holding the extensions with a `resolve` hook
        # (none of ours): only when it holds none may a field skip the resolver chain.
        manager = self.middleware_manager
        self.plain_fields = manager is None or manager._middleware_resolvers is None

    def execute_fields(  # type: ignore[no-untyped-def]
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ):
        """graphql-core's `execute_fields`, answering plain scalar fields inline (no `Path`
        nor method call per field: ~700 of them per page); the others by `execute_field`."""
        if not self.plain_fields:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        pending: list[str] = []
        is_awaitable = self.is_awaitable
        try:
            for name, details, leaf in self._plan(parent_type, grouped_field_set):
                if leaf is not None:
                    value = _leaf(leaf, source_value)
                    if value is not NOT_READ:
                        results[name] = value
                        continue
                field_path = Path(path, name, parent_type.name)
                result = self.execute_field(
                    parent_type, source_value, details, field_path, position_context
                )
                if result is not Undefined:
                    results[name] = result
                    if is_awaitable(result):
                        pending.append(name)
        except Exception:
            if pending:  # settle the other fields' awaitables, as graphql-core does
                self.settle_in_background([results[name] for name in pending])
            raise
        if not pending:
            return results

        async def gathered() -> dict[str, Any]:
            if len(pending) == 1:
                results[pending[0]] = await results[pending[0]]
            else:
                settled = await gather_with_cancel(*(results[name] for name in pending))
                results.update(zip(pending, settled, strict=True))
            return results

        return gathered()

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> list[Any]:
        """(response name, field details, its Plain when a plain leaf) of each field of a
        selection, worked out once per selection and request (graphql-core memoizes the
        grouped field sets of an execution, so the same object comes back for each item)."""
        plans: dict[int, tuple[Any, list[Any]]] = self.__dict__.setdefault("_plans", {})
        entry = plans.get(id(grouped_field_set))
        if entry is None or entry[0] is not grouped_field_set:
            plan = []
            for name, details in grouped_field_set.items():
                node = details[0].node
                plain = None
                if not node.arguments:
                    plain = plain_field(self.schema, parent_type, node.name.value)
                plan.append((name, details, plain if plain and plain.kind is None else None))
            entry = plans[id(grouped_field_set)] = (grouped_field_set, plan)
        return entry[1]

    def execute_field(  # type: ignore[no-untyped-def]
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ):
        """A plain field's value; anything else (or any doubt) as graphql-core does it."""
        node = field_details_list[0].node
        if self.plain_fields and not node.arguments:
            plain = plain_field(self.schema, parent_type, node.name.value)
            if plain is not None:
                if plain.kind is None:
                    value = _leaf(plain, source)
                    if value is not NOT_READ:
                        return value
                elif not node.directives:
                    value = _read(plain.getter, source)
                    if self._answerable(plain, value):
                        return self._complete_objects(
                            plain, field_details_list, path, value, position_context
                        )
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _answerable(self, plain: Plain, value: Any) -> bool:
        """Whether the short path gives graphql-core's answer: a value read (not an
        awaitable, not an exception), no null where the type forbids one (graphql-core words
        that error), a list that is a list."""
        if value is NOT_READ or isinstance(value, Exception) or self.is_awaitable(value):
            return False
        if value is None:
            return plain.nullable
        check = plain.check
        if not plain.many:
            return check is None or bool(check(value, None))
        if not isinstance(value, list | tuple):
            return False
        if not plain.item_nullable and any(item is None for item in value):
            return False
        return check is None or all(check(item, None) for item in value if item is not None)

    def _complete_objects(
        self, plain: Plain, details: Any, path: Path, value: Any, position: Any
    ) -> Any:
        """An object's (or a list of objects') selection executed, errors handled at this
        field as graphql-core's `execute_field` handles them."""
        field_type: Any = plain.field_type
        try:
            if value is None:
                return None
            kind: Any = plain.kind
            if not plain.many:
                completed = self.collect_and_execute_subfields(kind, details, path, value,
                                                               position)  # fmt: skip
            else:
                completed = self._complete_items(plain, details, path, value, position)
        except Exception as raw_error:
            self.handle_field_error(raw_error, field_type, details, path)
            return None
        if self.is_awaitable(completed):
            return self._settle(completed, field_type, details, path)
        return completed

    def _complete_items(
        self, plain: Plain, details: Any, path: Path, items: Any, position: Any
    ) -> Any:
        """Each item's selection executed (graphql-core's `complete_iterable_value`)."""
        kind: Any = plain.kind
        item_type: Any = kind if plain.item_nullable else GraphQLNonNull(kind)
        results: list[Any] = []
        pending: list[int] = []
        for index, item in enumerate(items):
            item_path = path.add_key(index, None)
            if item is None:
                results.append(None)
                continue
            try:
                completed = self.collect_and_execute_subfields(kind, details, item_path, item,
                                                               position)  # fmt: skip
            except Exception as raw_error:
                self.handle_field_error(raw_error, item_type, details, item_path)
                completed = None
            if self.is_awaitable(completed):
                completed = self._settle(completed, item_type, details, item_path)
                pending.append(index)
            results.append(completed)
        if not pending:
            return results

        async def gathered() -> list[Any]:
            settled = await gather_with_cancel(*(results[index] for index in pending))
            for index, result in zip(pending, settled, strict=True):
                results[index] = result
            return results

        return gathered()

    async def _settle(
        self, completed: Awaitable[Any], field_type: Any, details: Any, path: Path
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, field_type, details, path)
            return None


def _read(getter: Callable[[Any], Any], source: Any) -> Any:
    """The getter's value, or NOT_READ when it fails (graphql-core's path reports it)."""
    try:
        return getter(source)
    except Exception:
        return NOT_READ


def _leaf(plain: Plain, source: Any) -> Any:
    """A scalar or enum field's output value, or NOT_READ for graphql-core's path."""
    try:
        value: Any = plain.getter(source)
        if value is None:
            return None if plain.nullable else NOT_READ
        if value is NOT_READ:
            return NOT_READ
        kind = type(value)
        if kind is plain.same and (kind is not int or -_INT_BOUND <= value < _INT_BOUND):
            return value  # what the scalar answers as is (see `_SAME`)
        coerced = plain.coerce(value) if plain.coerce else NOT_READ
        if coerced is not None and coerced is not Undefined:
            return coerced
    except Exception:  # noqa: S110 - graphql-core's path reports it
        pass
    return NOT_READ
