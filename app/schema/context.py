"""The per-request context: who is calling, the write path, the live bus and the loaders.

HTTP requests authenticate with their `Authorization: Bearer ph_…` header before anything
runs (a failure is the REST layer's 401 JSON), or with the dashboard's login cookie on a POST
that shows it comes from the dashboard (its origin and CSRF token, `app/schema/login.py`):
then they see the user's current project, or another of their projects named by the
`X-Phospho-Project` header or the `project` query parameter, with the user's role there
(`acting`). A GET never runs an operation: one asking for the IDE is redirected to the
dashboard's GraphQL page without credentials (`wants_ide`). WebSocket connections
authenticate later, through their `connection_init` payload or the cookie (see
`schema.PhosphoGraphQLRouter.on_ws_connect`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.fastapi import BaseContext
from strawberry.types import Info

from app.errors import Forbidden, Unauthorized
from app.live import LiveBus
from app.request_context import note_project
from app.schema import login
from app.schema.loaders import Loaders
from app.services.ingest import Ingestor
from app.services.keys import UNAUTHORIZED_MESSAGE, Principal, authenticate
from app.services.reads_budget import ReadBudget
from app.services.roles import Action, may
from app.settings import Settings

RESPONSE_SETTING = "PHOSPHO_GRAPHQL_MAX_RESPONSE_BYTES"


class Context(BaseContext):
    """What every resolver can reach through `info.context`: the caller, the write path, the
    live bus, the loaders, and the limits (`max_cost`; `budget`, the text a request may read)."""

    def __init__(
        self, ingestor: Ingestor, bus: LiveBus, principal: Principal | None, settings: Settings
    ) -> None:
        super().__init__()
        self.ingestor = ingestor
        self.bus = bus
        self.max_cost = settings.graphql_max_cost
        self.max_response_bytes = settings.graphql_max_response_bytes
        self.allow_private_webhooks = settings.webhook_allow_private  # alert destinations
        self._principal = principal
        self.login_role: str | None = None  # the user's role when the login cookie signed in
        self.budget = self._new_budget()
        self.loaders = Loaders(principal.project_id, self.budget) if principal else None
        self.selections: dict[tuple[Any, ...], frozenset[str]] = {}  # see schema.selection

    def _new_budget(self) -> ReadBudget:
        return ReadBudget(self.max_response_bytes, RESPONSE_SETTING)

    def sign_in(self, principal: Principal, *, login_role: str | None = None) -> None:
        """Attach the caller (a WebSocket, once its connection_init was accepted); `login_role`
        when the dashboard's login cookie signed in rather than a key."""
        self._principal = principal
        self.login_role = login_role
        self.loaders = Loaders(principal.project_id, self.budget)

    @property
    def via_login(self) -> bool:
        """Whether the login cookie signed in (not an API key)."""
        return self.login_role is not None

    @property
    def writer(self) -> Principal:
        """The caller, for logging events and feedback: they need an API key."""
        if self.via_login:
            raise Forbidden(
                "logging events and feedback needs an API key (Authorization: Bearer ph_…)"
            )
        return self.principal

    def acting(self, action: Action) -> Principal:
        """The caller, for a mutation the roles table names (app/services/roles.py): an API key
        acts for its project, as it always has; a signed-in user if their role allows it."""
        principal = self.principal
        if self.login_role is not None and not may(self.login_role, action):
            raise Forbidden(f"only the project's owner can {action.value}")
        return principal

    @property
    def principal(self) -> Principal:
        """The authenticated caller; Unauthorized when there is none."""
        if self._principal is None:
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        return self._principal

    @property
    def over_websocket(self) -> bool:
        """Whether the operation came over WebSocket (subscriptions) rather than HTTP POST."""
        return isinstance(self.request, WebSocket)

    @property
    def is_authenticated(self) -> bool:
        """Whether a valid key was presented."""
        return self._principal is not None

    @property
    def project_id(self) -> int:
        """The tenant every read and write is scoped to."""
        return self.principal.project_id

    def load(self) -> Loaders:
        """This request's dataloaders."""
        if self.loaders is None:
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        return self.loaders

    def refresh_loaders(self) -> None:
        """Forget cached loads and start a new byte budget (a long-lived subscription does this
        for every message: each message is an answer of its own)."""
        self.budget = self._new_budget()
        self.loaders = Loaders(self.project_id, self.budget)
        self.selections = {}


PhosphoInfo = Info[Context, None]


class FreshReads(SchemaExtension):
    """Each operation reads with its own byte budget and loaders. An HTTP request is one
    operation; a WebSocket connection shares its context among all its operations, so without
    this its queries would share one budget (the fourth 30 KB read of a 64 KiB limit failed)."""

    def on_operation(self) -> Iterator[None]:
        """Start the operation's reads afresh on a WebSocket connection."""
        context = self.execution_context.context
        if isinstance(context, Context) and context.over_websocket and context.is_authenticated:
            context.refresh_loaders()
        yield


def wants_ide(connection: HTTPConnection) -> bool:
    """A GET asking for the IDE (Strawberry's `should_render_graphql_ide` rule): answered by a
    redirect to the dashboard's GraphQL page, which signs the user in (web/graphiql.py)."""
    accept = connection.headers.get("accept", "")
    return (
        connection.scope.get("method") == "GET"
        and "query" not in connection.query_params
        and ("text/html" in accept or "*/*" in accept)
    )


async def get_context(connection: HTTPConnection) -> Context:
    """FastAPI dependency: an authenticated HTTP context (else 401), or a WebSocket one
    that authenticates with its connection_init payload."""
    state: Any = connection.app.state
    if connection.scope["type"] == "websocket" or wants_ide(connection):
        return Context(state.ingestor, state.live, None, state.settings)
    header = connection.headers.get("authorization")
    method = connection.scope.get("method")
    if header is None and method == "POST" and login.has_login_cookie(connection):
        caller = await login.http_caller(connection)
        context = Context(state.ingestor, state.live, None, state.settings)
        context.sign_in(caller.principal, login_role=caller.role)
        note_project(connection.scope, context.project_id)  # for the access log line
        return context
    principal = await authenticate(header, cache=state.key_cache)
    note_project(connection.scope, principal.project_id)
    if state.rate_limiter is not None:  # per-key rate limit (app/services/ratelimit.py)
        await state.rate_limiter.check(principal.key_id)
    return Context(state.ingestor, state.live, principal, state.settings)
