"""Answering an operation before it runs: how a refusal reaches the client, and the refusal
of subscriptions sent over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, OperationType, get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from app.errors import Invalid, PhosphoError

SUBSCRIPTIONS_OVER_HTTP = (
    "subscriptions are served over WebSocket (graphql-transport-ws) at /graphql, not over HTTP"
)


def refuse(ctx: ExecutionContext, error: PhosphoError) -> None:
    """Answer an operation with `error` before it runs (called from `on_execute`)."""
    if getattr(ctx.context, "over_websocket", False):
        raise error  # a subscription: Strawberry answers what on_execute raises
    ctx.result = GraphQLExecutionResult(
        data=None, errors=[GraphQLError(error.message, original_error=error)]
    )


class HttpSubscriptions(SchemaExtension):
    """A subscription sent over HTTP gets a clear error (graphql-core would fail inside and
    the client would see "Unexpected error."): subscriptions are served over WebSocket."""

    def on_execute(self) -> Iterator[None]:
        """Refuse a subscription that did not come over WebSocket."""
        ctx = self.execution_context
        document = ctx.graphql_document
        operation = get_operation_ast(document, ctx.operation_name) if document else None
        over_websocket = getattr(ctx.context, "over_websocket", False)
        if operation and operation.operation is OperationType.SUBSCRIPTION and not over_websocket:
            refuse(ctx, Invalid(SUBSCRIPTIONS_OVER_HTTP))
        yield
