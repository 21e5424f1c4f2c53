"""Subscription events executed once per group of identical subscriptions, and encoded once.

Ten subscribers of a project with the same document and variables used to execute the same
selection over the same event ten times (graphql-core, Strawberry's result handling) and
encode ten identical answers: py-spy put that at most of a GraphQL delivery's cost
(bench/live). `SharedEventExecutor` remembers the result of each subscription event by
(operation, variables, project, kind of credential, event id) for the few events subscribers
are working on, so the others reuse it; `encode_next` encodes the `data` of a `next` message
once for all the subscribers that send that same result. A result with errors is never
shared (each subscriber executes its own), and the key holds everything a resolver reads of
the caller (the project its loaders read; key or login), so a subscriber never receives
another's answer.

Over graphql-transport-ws, `eventLogged` skips Strawberry's per-subscriber path for each event
altogether (app/schema/live_socket.py): it asks `shared_data` for the event's `data`, executed
and encoded once per group, and writes the frame to its socket itself.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import orjson
from graphql import GraphQLResolveInfo, OperationType

from app.schema.execution import PlainFieldsExecutionContext

REMEMBERED = 64  # results of events subscribers are working on now (a laggard re-executes)
_results: OrderedDict[tuple[Any, ...], tuple[object, Any]] = OrderedDict()
_encoded: OrderedDict[int, tuple[object, str]] = OrderedDict()
# The executor of the subscription being created in this task (see `subscribing`).
_SUBSCRIBING: ContextVar[SharedEventExecutor | None] = ContextVar("subscribing", default=None)


class SharedEventExecutor(PlainFieldsExecutionContext):
    """The schema's executor: plain fields answered directly (`app/schema/execution.py`), and
    each subscription event's result shared within its group."""

    per_event = False  # a copy made for one subscription event (build_per_event_executor)
    group: tuple[Any, ...] | None = None  # the key of its group, less the event

    def build_per_event_executor(self, payload: Any) -> Any:
        """graphql-core's copy for one event, marked as such, with a memo of its own.

        graphql-core's copy shares the subscription's `_relevant_sub_fields` memo, keyed by
        the identity of each execution's field lists, so every event added entries that were
        never dropped: a long subscription grew by ~18 objects per event (220,000 after 25 s
        at 500 events/s), and the collector's generation-1 passes over them stalled the
        server for 70-140 ms (bench/live --pauses). The memo serves one execution's lists.
        """
        executor = super().build_per_event_executor(payload)
        executor.per_event = True  # type: ignore[attr-defined]  # a copy of this class
        executor._relevant_sub_fields = {}
        return executor

    def build_resolve_info(self, *args: Any, **kwargs: Any) -> GraphQLResolveInfo[Any]:
        """graphql-core's; when it is for the subscription's own resolver (creating its event
        stream), the executor is noted for that resolver (`subscribing`)."""
        if not self.per_event and self.operation.operation is OperationType.SUBSCRIPTION:
            self.group = self._group_key()
            _SUBSCRIBING.set(self)
        return super().build_resolve_info(*args, **kwargs)

    def execute_operation(self, serially: bool | None = None) -> Any:
        """A subscription event's result, reused when an identical subscription has it."""
        key = self._event_key()
        if key is None:
            return super().execute_operation(serially)
        entry = _results.get(key)
        # The entry holds the operation, so its id (in the key) is not reused meanwhile.
        if entry is None or entry[0] is not self.operation:
            result = super().execute_operation(serially)
            if not inspect.isawaitable(result):
                if getattr(result, "errors", True):  # errors (or not a plain result): its own
                    return result
                return _remember(key, self.operation, result)[1]
            future = asyncio.ensure_future(result)
            entry = _remember(key, self.operation, future)
            future.add_done_callback(lambda done: _forget_failed(key, done))
        shared = entry[1]
        return asyncio.shield(shared) if isinstance(shared, asyncio.Future) else shared

    def _event_key(self) -> tuple[Any, ...] | None:
        if self.operation.operation is not OperationType.SUBSCRIPTION:
            return None
        event_id = getattr(self.root_value, "id", None)
        group = self.group if self.group is not None else self._group_key()
        if event_id is None or group is None:
            return None
        return (*group, type(self.root_value).__name__, event_id)

    def _group_key(self) -> tuple[Any, ...] | None:
        """What identical subscriptions share: operation, variables, project, credential kind."""
        context = self.context_value
        try:
            project_id, via_login = context.project_id, context.via_login
        except Exception:  # no caller (the permission check answers that): nothing shared
            return None
        try:
            variables = orjson.dumps(self.variable_values.coerced, option=orjson.OPT_SORT_KEYS,
                                     default=repr)  # fmt: skip
        except (TypeError, orjson.JSONEncodeError):
            return None
        return (id(self.operation), variables, project_id, via_login)


def subscribing() -> SharedEventExecutor | None:
    """The executor of the subscription whose resolver runs now (its event stream is being
    created, in the operation's task), or None outside one."""
    return _SUBSCRIBING.get()


async def shared_data(
    executor: SharedEventExecutor, event_id: object, make_root: Callable[[], object]
) -> str | None:
    """The encoded `data` of the event whose GraphQL id is `event_id`, for the subscription
    `executor` was built for: executed once per group (on a miss, on the root `make_root`
    makes) and encoded once; None when it has errors (the subscriber's own execution then
    reports them)."""
    group = executor.group
    entry = _results.get((*group, "Event", event_id)) if group is not None else None
    if entry is not None and entry[0] is executor.operation:
        shared = entry[1]
        result = (await asyncio.shield(shared)) if isinstance(shared, asyncio.Future) else shared
    else:
        executor.context_value.refresh_loaders()  # a fresh read per executed event
        pending: Any = executor.build_per_event_executor(make_root()).execute_operation(False)
        result = (await pending) if inspect.isawaitable(pending) else pending
    if getattr(result, "errors", True):
        return None
    return shared_data_text(result.data)


def shared_data_text(data: object) -> str:
    """`data` as JSON, once for every subscriber that sends this same object."""
    entry = _encoded.get(id(data))
    if entry is None or entry[0] is not data:  # an id is reused once its object is gone
        try:
            text = orjson.dumps(data).decode()
        except (TypeError, orjson.JSONEncodeError):  # as the router's encode_json falls back
            text = json.dumps(data, separators=(",", ":"))
        entry = (data, text)
        _encoded[id(data)] = entry
        while len(_encoded) > REMEMBERED:
            _encoded.popitem(last=False)
    return entry[1]


def _remember(key: tuple[Any, ...], operation: object, value: Any) -> Any:
    _results[key] = entry = (operation, value)
    while len(_results) > REMEMBERED:
        _results.popitem(last=False)
    return entry


def _forget_failed(key: tuple[Any, ...], done: asyncio.Future[Any]) -> None:
    """A result with errors (or an exception) is each subscriber's own: not shared."""
    if done.cancelled() or done.exception() is not None or done.result().errors:
        entry = _results.get(key)
        if entry is not None and entry[1] is done:
            del _results[key]


def encode_next(message: dict[str, Any]) -> str | None:
    """A `next` message with only `data`, its data encoded once for every subscriber that
    sends the same result object; None for any other message."""
    payload = message.get("payload")
    if message.get("type") != "next" or not isinstance(payload, dict) or len(payload) != 1:
        return None
    data = payload.get("data")
    if data is None:
        return None
    return next_frame(message["id"], shared_data_text(data))


def next_frame(operation_id: str, data: str) -> str:
    """The `next` message of operation `operation_id` carrying the encoded `data`."""
    return (
        '{"id":'
        + orjson.dumps(operation_id).decode()
        + ',"type":"next","payload":{"data":'
        + data
        + "}}"
    )
