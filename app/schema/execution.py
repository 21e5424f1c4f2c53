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

Which fields are plain, and how each is read, is `app/schema/plain_fields.py`. An object whose
whole selection is plain (a page's connection, its edges, nodes, feedback and session) is
answered in one pass by `app/schema/shapes.py`, without graphql-core's per-object completion.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from graphql import GraphQLNonNull, GraphQLObjectType
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.schema.plain_fields import NOT_READ, Plain, leaf, plain_field, shortcut
from app.schema.shapes import Shape, answer, compile_shape

__all__ = ["NOT_READ", "PlainFieldsExecutionContext", "shortcut"]


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, answering plain fields directly (see above)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Strawberry always passes a manager, holding the extensions with a `resolve` hook
        # (none of ours): only when it holds none may a field skip the resolver chain.
        manager = self.middleware_manager
        self.plain_fields = manager is None or manager._middleware_resolvers is None
        # Per object type and field list: the selection's Shape (or None), with the list kept
        # so that its id is not reused during the execution (as graphql-core's own memo).
        self._shapes: dict[tuple[str, int], tuple[Any, Shape | None]] = {}

    def build_per_event_executor(self, payload: Any) -> PlainFieldsExecutionContext:
        """graphql-core's copy for one subscription event, with Shapes of its own: the copy is
        shallow, and each event's field lists (the keys) are new, so a shared memo would grow
        by an entry per event for as long as the subscription lives."""
        executor = cast("PlainFieldsExecutionContext", super().build_per_event_executor(payload))
        executor._shapes = {}
        return executor

    def collect_and_execute_subfields(  # type: ignore[no-untyped-def]
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ):
        """An object's selection answered in one pass when it compiles to a Shape
        (app/schema/shapes.py); else, or at any doubt, field by field as graphql-core does."""
        if self.plain_fields and position_context is None:
            shape = self._shape(return_type, field_details_list)
            if shape is not None:
                answered = answer(shape, result)
                if answered is not NOT_READ:
                    return answered
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    def _shape(self, kind: GraphQLObjectType, field_details_list: Any) -> Shape | None:
        key = (kind.name, id(field_details_list))
        entry = self._shapes.get(key)
        if entry is None:
            fields, deferred, *_ = self.collect_subfields(kind, field_details_list)
            shape = None
            if not deferred:
                shape = compile_shape(self.schema, kind, fields, self.collect_subfields)
            entry = self._shapes[key] = (field_details_list, shape)
        return entry[1]

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
            for name, details, scalar in self._plan(parent_type, grouped_field_set):
                if scalar is not None:
                    value = leaf(scalar, source_value)
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
                    value = leaf(plain, source)
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
