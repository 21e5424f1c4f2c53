"""The query cost limit: an upper estimate of how many objects an operation can return, checked
after validation and before anything runs.

Depth, alias and token limits bound the document, not what it asks for: 15 aliases of
`events(first: 100) → session → events(first: 100) → input` (1.85 KB) passed all three and
asked for 150,000 events, a 1.5 GB answer over 10 KB events. The estimate multiplies list
sizes through the nesting:

- every object in the answer counts 1; scalars and `__typename` count 0;
- a connection (a field with a `first` argument) holds `first` edges: the literal, or the
  variable's value or default; 50 when absent or null; at most 100, as the resolvers clamp it;
- every other list counts its bound or a documented estimate (`LIST_ESTIMATES`; a test checks
  that every list field of the schema has one);
- fragments and inline fragments count wherever they are spread (each fragment is costed once
  per page size, so nested spreads cannot make the estimate itself slow); `@skip` and
  `@include` are ignored: the estimate stays an upper bound;
- introspection (`__schema`, `__type`) counts its lists by the schema's own sizes, against a
  separate budget of twice the full introspection query (GraphiQL's), so that nesting
  `types { fields { type { fields … } } }` cannot multiply without bound.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any, NamedTuple

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_abstract_type,
    is_list_type,
    parse,
)
from graphql.type import GraphQLEnumType, SchemaMetaFieldDef, TypeMetaFieldDef
from graphql.utilities import get_introspection_query
from strawberry.extensions import SchemaExtension

from app.errors import PhosphoError
from app.schema.refusals import refuse
from app.services import metrics as metrics_service
from app.services.alerts.manage import MAX_PAGE as ALERT_PAGE
from app.services.alerts.rules import MAX_DESTINATIONS, MAX_RULES
from app.services.event_fields import MAX_TAGS
from app.services.reads import MAX_PAGE
from app.services.validation import MAX_BATCH

DEFAULT_MAX_COST = 25_000
DEFAULT_PAGE = 50
INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})

Estimator = Callable[["_Walk", FieldNode], int]


def _log_events_count(walk: _Walk, node: FieldNode) -> int:
    """logEvents answers one event per input item: the list's length when it is known."""
    value = walk.argument(node, "input")
    if value is None:
        return MAX_BATCH
    return len(value) if isinstance(value, list) else 1


def _limit(walk: _Walk, node: FieldNode, most: int) -> int:
    """A list sized by its `limit` argument (default 50, clamped to 1..most)."""
    value = walk.argument(node, "limit")
    return max(1, min(value, most)) if isinstance(value, int) else DEFAULT_PAGE


# Lists that are not connection pages, as (type, field): how many items each counts.
LIST_ESTIMATES: dict[tuple[str, str], int | Estimator] = {
    # Unbounded: an end user may change their verdict any number of times. Counted as 5 (most
    # events have none or one); the response byte limit bounds what an event really has.
    ("Event", "feedback"): 5,
    ("Event", "tags"): MAX_TAGS,  # bounded by validation (app/services/event_fields.py)
    # Bounds enforced by the metrics service: the busiest models plus one row for the others,
    # at most MAX_POINTS buckets, the top users.
    ("Metrics", "series"): metrics_service.MAX_MODELS + 1,
    ("MetricsSeries", "points"): metrics_service.MAX_POINTS,
    ("Metrics", "models"): metrics_service.MAX_MODELS + 1,
    ("Metrics", "topUsersByEvents"): metrics_service.TOP_USERS,
    ("Metrics", "topUsersByCost"): metrics_service.TOP_USERS,
    ("Mutation", "logEvents"): _log_events_count,
    # Alerts: bounded per project (app/services/alerts/rules.py); `alertEvents` by its limit.
    ("Query", "alertRules"): MAX_RULES,
    ("Query", "alertDestinations"): MAX_DESTINATIONS,
    ("Query", "alertEvents"): lambda walk, node: _limit(walk, node, ALERT_PAGE),
    ("AlertRule", "destinations"): MAX_DESTINATIONS,
    ("AlertEvent", "deliveries"): MAX_DESTINATIONS,
}


class Cost(NamedTuple):
    """An operation's estimate: objects of the API's own types, and of introspection."""

    objects: int = 0
    introspection: int = 0

    def plus(self, other: Cost) -> Cost:
        """Both estimates added."""
        return Cost(self.objects + other.objects, self.introspection + other.introspection)


class QueryTooCostly(PhosphoError):
    """The operation's estimated cost is above the limit; nothing was run."""

    code = "query_too_costly"


class _Walk:
    """One estimate: the operation's fragments and variables, and fragment costs so far."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.defaults: dict[str, ValueNode | None] = {}
        self.fragments = {
            node.name.value: node
            for node in document.definitions
            if isinstance(node, FragmentDefinitionNode)
        }
        self.costed: dict[tuple[str, int | None], Cost] = {}
        self.read_variables = False  # whether the estimate depends on the variables
        self.lists: dict[tuple[str, str], int | Estimator] = {
            **introspection_lists(schema),
            **LIST_ESTIMATES,
        }

    def operation(self, operation: OperationDefinitionNode) -> Cost:
        """The cost of one operation of the document."""
        for definition in operation.variable_definitions or ():
            self.defaults[definition.variable.name.value] = definition.default_value
        root = self.schema.get_root_type(operation.operation)
        return self.selections(operation.selection_set, root, None) if root else Cost()

    def selections(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None, page: int | None
    ) -> Cost:
        """The cost of a selection set on `parent`; `page` when `parent` is a connection."""
        total = Cost()
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total = total.plus(self.field(node, parent, page))
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                kind = self.schema.get_type(condition.name.value) if condition else parent
                total = total.plus(self.selections(node.selection_set, kind, page))
            elif isinstance(node, FragmentSpreadNode):
                total = total.plus(self.fragment(node.name.value, page))
        return total

    def fragment(self, name: str, page: int | None) -> Cost:
        """A named fragment's cost, computed once per page size."""
        key = (name, page)
        if key not in self.costed:
            self.costed[key] = Cost()  # validation refuses cycles; this only guards against one
            definition = self.fragments.get(name)
            if definition is not None:
                kind = self.schema.get_type(definition.type_condition.name.value)
                self.costed[key] = self.selections(definition.selection_set, kind, page)
        return self.costed[key]

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, page: int | None) -> Cost:
        """One field: its count of objects times (1 + their selections)."""
        name = node.name.value
        definition = _definition(parent, name)
        if definition is None or node.selection_set is None or parent is None:
            return Cost()  # a scalar, __typename, or a field validation has already refused
        inner_page = self.first(node) if "first" in definition.args else None
        inner = self.selections(node.selection_set, get_named_type(definition.type), inner_page)
        count = self.count(parent.name, definition, node, page)
        cost = Cost(count * (1 + inner.objects), count * inner.introspection)
        return Cost(0, sum(cost)) if name in INTROSPECTION_ROOTS else cost

    def count(
        self, parent: str, definition: GraphQLField, node: FieldNode, page: int | None
    ) -> int:
        """How many objects the field holds: 1, a connection's page, or a list's estimate."""
        if not is_list_type(get_nullable_type(definition.type)):
            return 1
        if page is not None:  # the edges of a connection
            return page
        estimate = self.lists.get((parent, node.name.value), MAX_PAGE)
        return estimate if isinstance(estimate, int) else estimate(self, node)

    def first(self, node: FieldNode) -> int:
        """The page size a connection field will use, as the resolvers clamp it."""
        value = self.argument(node, "first")
        if value is None:
            return DEFAULT_PAGE
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return MAX_PAGE  # coercion will refuse it; count the most it could be
        return max(1, min(value, MAX_PAGE))

    def argument(self, node: FieldNode, name: str) -> Any:
        """An argument's value (literal, variable or variable default); None when absent."""
        found = next((arg.value for arg in node.arguments or () if arg.name.value == name), None)
        if isinstance(found, VariableNode):
            self.read_variables = True
            variable = found.name.value
            if variable in self.variables:
                return self.variables[variable]
            found = self.defaults.get(variable)
        return _literal(found)


def _literal(node: ValueNode | None) -> Any:
    if node is None or isinstance(node, NullValueNode):
        return None
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, ListValueNode):
        return [_literal(item) for item in node.values]
    return node  # any other literal: only its presence matters here


def _definition(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if name == "__schema":
        return SchemaMetaFieldDef
    if name == "__type":
        return TypeMetaFieldDef
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        found: GraphQLField | None = parent.fields.get(name)
        return found
    return None


@cache
def introspection_lists(schema: GraphQLSchema) -> dict[tuple[str, str], int]:
    """The longest list each introspection field can return in this schema."""
    types = list(schema.type_map.values())
    composite = [t for t in types if isinstance(t, GraphQLObjectType | GraphQLInterfaceType)]
    arguments = [len(f.args) for t in composite for f in t.fields.values()]
    arguments += [len(directive.args) for directive in schema.directives]
    bounds = {
        "types": len(types),
        "directives": len(schema.directives),
        "fields": max((len(t.fields) for t in composite), default=0),
        "inputFields": max(
            (len(t.fields) for t in types if isinstance(t, GraphQLInputObjectType)), default=0
        ),
        "enumValues": max(
            (len(t.values) for t in types if isinstance(t, GraphQLEnumType)), default=0
        ),
        "interfaces": max((len(t.interfaces) for t in composite), default=0),
        "possibleTypes": max(
            (len(schema.get_possible_types(t)) for t in types if is_abstract_type(t)), default=0
        ),
        "args": max(arguments, default=0),
    }
    owners = {
        "types": "__Schema",
        "directives": "__Schema",
        "fields": "__Type",
        "inputFields": "__Type",
        "enumValues": "__Type",
        "interfaces": "__Type",
        "possibleTypes": "__Type",
    }
    lists = {(owners[name], name): bound for name, bound in bounds.items() if name in owners}
    lists[("__Field", "args")] = lists[("__Directive", "args")] = bounds["args"]
    return lists


@cache
def introspection_limit(schema: GraphQLSchema) -> int:
    """Twice the estimate of the fullest standard introspection query (GraphiQL's)."""
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
        one_of=True,
    )
    return 2 * estimate(schema, parse(query), None, None).introspection


def estimate(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> Cost:
    """The estimated cost of the operation `operation_name` of a validated document."""
    return _estimate(schema, document, operation_name, variables)[0]


def _estimate(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> tuple[Cost, bool]:
    """The estimate, and whether it read any variable."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return Cost(), False
    walk = _Walk(schema, document, variables or {})
    return walk.operation(operation), walk.read_variables


# Estimates that read no variable, by document (Strawberry's parser cache hands the same
# DocumentNode to every request with the same text) and operation: the walk cost ~0.1 ms of
# a page's ~4 ms (issue 24). The entry holds the document, so its id is not reused meanwhile.
REMEMBERED = 256
_estimates: OrderedDict[tuple[int, int, str | None], tuple[DocumentNode, Cost]] = OrderedDict()


def remembered_estimate(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> Cost:
    """`estimate`, remembered for a document whose estimate does not depend on variables."""
    key = (id(schema), id(document), operation_name)
    entry = _estimates.get(key)
    if entry is not None and entry[0] is document:
        _estimates.move_to_end(key)
        return entry[1]
    cost, read_variables = _estimate(schema, document, operation_name, variables)
    if not read_variables:
        _estimates[key] = (document, cost)
        while len(_estimates) > REMEMBERED:
            _estimates.popitem(last=False)
    return cost


def refusal(cost: Cost, limit: int, schema: GraphQLSchema) -> QueryTooCostly | None:
    """The error for an estimate above the limits, or None when the operation may run."""
    details = [{"limit": limit, "estimate": cost.objects}]
    if cost.objects > limit:
        return QueryTooCostly(
            f"this operation's estimated cost is {cost.objects}, above the limit of {limit} "
            "(PHOSPHO_GRAPHQL_MAX_COST). Every object in the answer counts 1 and a list "
            "multiplies its contents by its length (a connection's `first`: 50 by default, "
            "at most 100): ask for fewer items, or nest fewer lists",
            details=details,
        )
    bound = introspection_limit(schema)
    if cost.introspection > bound:
        return QueryTooCostly(
            f"this introspection's estimated cost is {cost.introspection}, above the limit of "
            f"{bound} (twice the full introspection query)",
            details=[{"limit": bound, "estimate": cost.introspection}],
        )
    return None


class CostLimit(SchemaExtension):
    """Refuse an operation whose estimated cost is above the context's `max_cost`."""

    def on_execute(self) -> Iterator[None]:
        """Estimate after validation; on refusal, answer with the error and run nothing."""
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is not None and ctx.result is None:
            schema = ctx.schema._schema
            limit = getattr(ctx.context, "max_cost", DEFAULT_MAX_COST)
            cost = remembered_estimate(schema, document, ctx.operation_name, ctx.variables)
            error = refusal(cost, limit, schema)
            if error is not None:
                refuse(ctx, error)
        yield
