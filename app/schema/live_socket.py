"""graphql-transport-ws with subscription events written straight to the socket.

Strawberry sends each result of each subscriber through its own pipeline: graphql-core's
response stream, the extensions' stream hooks, result processing, the handler's message and its
JSON encoding. With ten subscribers that was most of the server's CPU at 500 events/s
(py-spy, bench/live), even with the results shared (app/schema/shared_execution.py). Here
`eventLogged` sends its event's `next` frame itself, from the `data` executed and encoded once
per group of identical subscriptions: per subscriber there remains the bus queue, the filter
and one socket write. Anything else goes Strawberry's way as before: a result with errors (the
resolver yields the event, and the subscriber's own execution reports them), the resync error,
completion, revocation (close 4403), queries and mutations over the socket.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)

from app.schema.shared_execution import SharedEventExecutor, next_frame, shared_data, subscribing

_OPERATION: ContextVar[Operation[Any, Any] | None] = ContextVar("ws_operation", default=None)


class LiveSocketHandler(BaseGraphQLTransportWSHandler[Any, None]):
    """Strawberry's graphql-transport-ws handler, noting each operation for its own task so
    that a subscription's resolver can write its frames (`Frames.for_operation`)."""

    async def run_operation(self, operation: Operation[Any, None]) -> None:
        """Strawberry's, with the operation known to the code it runs."""
        _OPERATION.set(operation)  # the operation's own task: no other operation sees it
        await super().run_operation(operation)


class Frames:
    """Where a subscription writes its events' `next` frames itself."""

    def __init__(
        self, operation: Operation[Any, None], socket: WebSocket, executor: SharedEventExecutor
    ) -> None:
        self._operation = operation
        self._socket = socket
        self._executor = executor

    @classmethod
    def for_operation(cls) -> Frames | None:
        """The frames of the subscription whose resolver runs now, or None when it does not
        run over our handler (e.g. `schema.subscribe` in-process): then it yields as usual."""
        operation, executor = _OPERATION.get(), subscribing()
        if operation is None or executor is None or executor.group is None:
            return None
        adapter = operation.handler.websocket
        if not isinstance(adapter, ASGIWebSocketAdapter):
            return None
        return cls(operation, adapter.ws, executor)

    async def send(self, event_id: object, make_root: Any) -> bool:
        """Send the event's `next` frame; False when its result has errors (the caller then
        yields the root for Strawberry to execute and report)."""
        data = await shared_data(self._executor, event_id, make_root)
        if data is None:
            return False
        if self._operation.completed:
            return True
        try:
            await self._socket.send({"type": "websocket.send",
                                     "text": next_frame(self._operation.id, data)})  # fmt: skip
        except (WebSocketDisconnect, RuntimeError):
            # Gone: the handler cancels every operation once it sees the socket close.
            await asyncio.Event().wait()
        return True
