"""How GraphQL errors reach clients and the log.

Clients see our own errors (`PhosphoError`) and GraphQL's (syntax, validation, limits, variables
that do not fit their type), each typed by `extensions.code` (and `extensions.errors` where the
error locates its problems, as REST's `errors`); everything else is masked as "Unexpected error."
with code `internal`. The log gets one line per client error, and a traceback only for server
faults: 1,100 fuzzed requests used to log 306 tracebacks, every one of them the client's doing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

from app.errors import PhosphoError

log = logging.getLogger("phospho.graphql")
INTERNAL = "internal"
INVALID_QUERY = "invalid_query"  # syntax, validation, depth/alias/token limits
INVALID_VARIABLES = "invalid_variables"  # variables or arguments that do not fit their type
MAX_LOGGED = 300  # characters of a client error's message in its log line


def cause(error: GraphQLError) -> BaseException | None:
    """The exception behind a GraphQL error, through GraphQL's own wrappers."""
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    return original


def is_client_error(error: GraphQLError) -> bool:
    """Our own errors and GraphQL's: the client's doing (anything else is a server fault)."""
    original = cause(error)
    return original is None or isinstance(original, PhosphoError | GraphQLError)


def should_mask(error: GraphQLError) -> bool:
    """Hide everything but client errors."""
    return not is_client_error(error)


def error_code(error: GraphQLError, executed: bool) -> str:
    """The `extensions.code` of a client error."""
    original = cause(error)
    if isinstance(original, PhosphoError):
        return original.code
    return INVALID_VARIABLES if executed else INVALID_QUERY


def typed(error: GraphQLError, code: str) -> GraphQLError:
    """The error with `extensions.code` (and our error's `errors` details)."""
    extensions: dict[str, Any] = {**(error.extensions or {}), "code": code}
    original = cause(error)
    if isinstance(original, PhosphoError) and original.details:
        extensions["errors"] = original.details
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=extensions,
    )


class TypedErrors(MaskErrors):
    """MaskErrors that also types every error it lets through (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask)
        self.executed = False

    def on_execute(self) -> Iterator[None]:
        """Errors after this point are about values (variables, arguments), not the query."""
        self.executed = True
        yield

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        """The masked error, typed `internal`."""
        return typed(super().anonymise_error(error), INTERNAL)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [
            self.anonymise_error(error)
            if should_mask(error)
            else typed(error, error_code(error, self.executed))
            for error in errors
        ]


def log_errors(errors: list[GraphQLError], context: ExecutionContext | None) -> None:
    """One line per client error; the traceback of each server fault.

    Also types client errors that never reach `TypedErrors`: with the parser cache, a syntax
    error (or too many tokens) is raised through the extensions instead of returned.
    """
    operation = (context.operation_name if context else None) or "anonymous"
    for error in errors:
        where = ".".join(str(part) for part in error.path or ()) or "-"
        if is_client_error(error):
            if "code" not in (error.extensions or {}):
                error.extensions = {**(error.extensions or {}), "code": error_code(error, False)}
            message = " ".join(error.message.split())[:MAX_LOGGED]
            log.info("graphql client error in %s at %s: %s", operation, where, message)
        else:
            log.error(
                "graphql server error in %s at %s: %s",
                operation,
                where,
                error.message,
                exc_info=cause(error),
            )
