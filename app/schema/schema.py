"""The schema and its router: limits, caches, error masking, WebSocket authentication."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.fastapi import GraphQLRouter
from strawberry.schema.config import StrawberryConfig
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from app.errors import PhosphoError, Unauthorized
from app.schema.context import Context, get_context, principal_from_login
from app.schema.mutations import Mutation
from app.schema.queries import Query
from app.schema.scalars import BIG_INT_SCALAR, BigInt
from app.schema.subscriptions import Subscription
from app.services import accounts
from app.services.keys import authenticate

MAX_DEPTH = 10
MAX_ALIASES = 15
MAX_TOKENS = 2000
CACHE_SIZE = 256


def should_mask(error: GraphQLError) -> bool:
    """Hide everything but our own errors and GraphQL's (syntax, validation, limits, and
    variables that do not fit their type: graphql-core and Strawberry report those as a
    GraphQLError wrapped in another, e.g. "Variable '$b' has invalid value: …")."""
    original = error.original_error
    return original is not None and not isinstance(original, PhosphoError | GraphQLError)


def is_introspection(context: IgnoreContext) -> bool:
    """Introspection is bounded by the schema itself; GraphiQL's query is deeper than ours."""
    return context.field_name.startswith("__")


def build_schema() -> strawberry.Schema:
    """The phospho GraphQL schema with its protective extensions."""
    # Factories, not instances: each operation gets its own extension objects (shared ones
    # would mix concurrent operations). The parser and validation caches live at module
    # level in Strawberry, so they still span requests.
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH, should_ignore=is_introspection),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
        lambda: MaskErrors(should_mask_error=should_mask),
    ]
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(scalar_map={BigInt: BIG_INT_SCALAR}),
    )


def schema_sdl() -> str:
    """The schema as SDL text: what `phospho export-schema` writes to graphql/schema.graphql."""
    return build_schema().as_str() + "\n"


class PhosphoGraphQLRouter(GraphQLRouter[Context, None]):
    """Strawberry's FastAPI router, authenticating WebSockets by their connection_init."""

    async def on_ws_connect(self, context: Context) -> Any:
        """Accept `{"Authorization": "Bearer ph_…"}` or the login cookie; else close with 4403."""
        params = context.connection_params
        header = params.get("Authorization") if isinstance(params, dict) else None
        connection = context.request
        try:
            if header is None and connection and connection.cookies.get(accounts.SESSION_COOKIE):
                principal = await principal_from_login(connection)
                context.sign_in(principal, via_login=True)
            else:
                context.sign_in(await authenticate(header if isinstance(header, str) else None))
        except Unauthorized as exc:
            raise ConnectionRejectionError({"message": exc.message}) from None
        return await super().on_ws_connect(context)


def build_router() -> PhosphoGraphQLRouter:
    """The /graphql router: POST queries and mutations, subscriptions over WebSocket."""
    return PhosphoGraphQLRouter(
        build_schema(),
        context_getter=get_context,
        allow_queries_via_get=False,
        multipart_uploads_enabled=False,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        graphql_ide="graphiql",
    )
