"""The schema and its router: limits, caches, typed and masked errors, WebSocket authentication,
the request body's rules and the response's byte limit."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import orjson
import strawberry
from fastapi import Request, Response
from graphql import GraphQLError
from starlette.responses import HTMLResponse, JSONResponse
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema.config import StrawberryConfig
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionContext

from app.errors import Unauthorized
from app.schema import login
from app.schema.context import Context, FreshReads, get_context
from app.schema.cost import CostLimit
from app.schema.errors import TypedErrors, log_errors
from app.schema.inputs_check import LiteralValues, parse_body
from app.schema.live_socket import LiveSocketHandler
from app.schema.mutations import Mutation
from app.schema.queries import Query
from app.schema.refusals import HttpSubscriptions
from app.schema.scalars import BIG_INT_SCALAR, BigInt
from app.schema.shared_execution import SharedEventExecutor, encode_next
from app.schema.subscriptions import Subscription
from app.services.keys import authenticate

MAX_DEPTH = 10
MAX_ALIASES = 15
MAX_TOKENS = 2000
CACHE_SIZE = 256
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
IDE_PAGE = "/graphiql"  # the dashboard's GraphQL page (web/graphiql.py)
log = logging.getLogger("phospho.graphql")


class PhosphoSchema(strawberry.Schema):
    """The Strawberry schema, logging errors our way (`app.schema.errors.log_errors`)."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """One line per client error, a traceback per server fault."""
        log_errors(errors, execution_context)


def is_introspection(context: IgnoreContext) -> bool:
    """Introspection is bounded by the schema itself; GraphiQL's query is deeper than ours."""
    return context.field_name.startswith("__")


def build_schema() -> strawberry.Schema:
    """The phospho GraphQL schema with its protective extensions."""
    # The depth and alias rules are classes made once: Strawberry's validation cache is keyed
    # by the rule classes, and QueryDepthLimiter / MaxAliasesLimiter make new ones for each
    # instance, so with an instance per operation the cache never hit (issue 17's 1.85 KB
    # query was validated anew every time: 18 ms a request).
    rules = [depth_rule(MAX_DEPTH, is_introspection), aliases_rule(MAX_ALIASES), LiteralValues]
    # Factories, not instances: each operation gets its own extension objects (shared ones
    # would mix concurrent operations). The parser and validation caches live at module
    # level in Strawberry, so they still span requests.
    extensions: list[Callable[[], SchemaExtension]] = [
        FreshReads,
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
        HttpSubscriptions,
        CostLimit,
        TypedErrors,
    ]
    return PhosphoSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(scalar_map={BigInt: BIG_INT_SCALAR}),
        execution_context_class=SharedEventExecutor,
    )


def schema_sdl() -> str:
    """The schema as SDL text: what `phospho export-schema` writes to graphql/schema.graphql."""
    return build_schema().as_str() + "\n"


class PhosphoGraphQLRouter(GraphQLRouter[Context, None]):
    """Strawberry's FastAPI router: bodies parsed under REST's rules, answers at most
    `max_response_bytes`, WebSockets authenticated by their connection_init."""

    max_response_bytes = DEFAULT_MAX_RESPONSE_BYTES
    # Subscription events written straight to the socket (app/schema/live_socket.py).
    graphql_transport_ws_handler_class = LiveSocketHandler

    def parse_json(self, data: str | bytes) -> Any:
        """The request body as REST parses it (a clear 4xx, never a 500: see inputs_check)."""
        return parse_body(data)

    def encode_json(self, data: object) -> str:
        """WebSocket messages by orjson, still as text frames; a subscription event's `data`
        once for every subscriber that sends the same result (app/schema/shared_execution)."""
        try:
            if isinstance(data, dict) and (shared := encode_next(data)) is not None:
                return shared
            return orjson.dumps(data).decode()
        except (TypeError, orjson.JSONEncodeError):  # e.g. a lone surrogate; stdlib escapes it
            return json.dumps(data, separators=(",", ":"))

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """The HTTP answer as JSON; an error instead when it is larger than the limit.

        Reads charge their text to the request's budget before loading it (see
        `app.services.reads_budget`), so a large answer is normally refused before it exists;
        this last check makes the limit exact (JSON escaping can outgrow the text's size).
        WebSocket messages keep Strawberry's encoding (text frames, one event each).
        """
        try:
            body = orjson.dumps(response_data)
        except (TypeError, orjson.JSONEncodeError):  # e.g. a lone surrogate; stdlib escapes it
            body = json.dumps(response_data, separators=(",", ":")).encode()
        if len(body) > self.max_response_bytes:
            log.info("graphql client error: a %d-byte answer refused (limit %d)", len(body),
                     self.max_response_bytes)  # fmt: skip
            body = orjson.dumps(response_too_large(self.max_response_bytes, len(body)))
        response = Response(
            body, media_type="application/json", status_code=sub_response.status_code or 200
        )
        response.headers.raw.extend(sub_response.headers.raw)
        return response

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """A browser opening /graphql goes to the dashboard's GraphQL page: GraphiQL from
        vendored files under the dashboard's CSP, signed in with the login (web/graphiql.py),
        instead of Strawberry's page, which loads GraphiQL from a CDN with inline script."""
        return HTMLResponse("", status_code=303, headers={"Location": IDE_PAGE})

    async def on_ws_connect(self, context: Context) -> Any:
        """Accept `{"Authorization": "Bearer ph_…"}`, or the login cookie with this server's
        Origin and `{"X-CSRF-Token": …}` (app/schema/login.py); else close with 4403."""
        params = context.connection_params
        header = params.get("Authorization") if isinstance(params, dict) else None
        connection = context.request
        try:
            if header is None and connection and login.has_login_cookie(connection):
                caller = await login.websocket_caller(connection, params)
                context.sign_in(caller.principal, login_role=caller.role)
            else:
                context.sign_in(await authenticate(header if isinstance(header, str) else None))
        except Unauthorized as exc:
            raise ConnectionRejectionError({"message": exc.message}) from None
        return await super().on_ws_connect(context)


def response_too_large(limit: int, size: int) -> dict[str, Any]:
    """The answer sent instead of one larger than the limit."""
    message = (
        f"the response would be {size} bytes, larger than PHOSPHO_GRAPHQL_MAX_RESPONSE_BYTES "
        f"({limit} bytes): ask for fewer items (first) or fewer text fields"
    )
    extensions = {"code": "response_too_large", "errors": [{"limit": limit, "size": size}]}
    return {"data": None, "errors": [{"message": message, "extensions": extensions}]}


def build_router(max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> PhosphoGraphQLRouter:
    """The /graphql router: POST queries and mutations, subscriptions over WebSocket; a GET
    asking for the IDE is redirected to the dashboard's GraphQL page."""
    router = PhosphoGraphQLRouter(
        build_schema(),
        context_getter=get_context,
        allow_queries_via_get=False,
        multipart_uploads_enabled=False,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        graphql_ide="graphiql",  # turns on `render_graphql_ide`, our redirect
    )
    router.max_response_bytes = max_response_bytes
    # Strawberry declares GET and POST as two routes, so another method got the first one's
    # 405 (`Allow: GET`). One route for every other method names both.
    router.add_api_route(
        "", _method_not_allowed, methods=list(OTHER_METHODS), include_in_schema=False
    )
    return router


OTHER_METHODS = ("HEAD", "OPTIONS", "PUT", "PATCH", "DELETE")


async def _method_not_allowed() -> Response:
    """405 for a method /graphql does not serve, listing those it does."""
    body = {"detail": "Method Not Allowed", "code": "http_error"}
    return JSONResponse(body, status_code=405, headers={"Allow": "GET, POST"})
