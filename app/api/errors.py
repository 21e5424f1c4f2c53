"""The one place where exceptions become HTTP responses. No stack trace or SQL reaches a client."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from app.api.responses import json_response
from app.errors import PhosphoError, Unauthorized
from app.limits import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("phospho.api")


def error_body(
    message: str, code: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """`detail` is a sentence a person can act on; `errors` locates each problem."""
    body: dict[str, Any] = {"detail": message, "code": code}
    if details:
        body["errors"] = details
    return body


def phospho_error_parts(exc: PhosphoError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A PhosphoError's status, body and headers (here and in the ingest routes, events.py)."""
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return exc.status_code, error_body(exc.message, exc.code, exc.details), headers


async def _phospho_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PhosphoError)
    status, body, headers = phospho_error_parts(exc)
    return json_response(body, status, headers)


async def _request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg")), "type": err.get("type")}
        for err in exc.errors()
    ]
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    message = ".".join(str(part) for part in first["loc"]) + ": " + str(first["msg"])
    return json_response(error_body(message, "invalid", details), 422)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers) if exc.headers else None
    return json_response(error_body(str(exc.detail), "http_error"), exc.status_code, headers)


INTERNAL = error_body("internal error; it has been logged", "internal")


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return json_response(INTERNAL, 500)


class FaultBarrier:
    """The outermost middleware: an exception no handler took becomes a logged JSON 500, and
    the connection stays usable.

    Starlette's own outermost layer answers such an exception with the app's 500 handler and
    then raises it again (so that servers can log it), and uvicorn closes a connection whose
    application raised: a client that reused the connection after a 500 got a reset. Here the
    exception stops once answered. One raised after the answer had begun still propagates:
    that answer is broken, and closing the connection is the only honest end to it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            if started:
                raise
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            body = orjson.dumps(INTERNAL)
            headers = [(b"content-type", b"application/json"),
                       (b"content-length", str(len(body)).encode())]  # fmt: skip
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": body})


def install_error_handlers(app: FastAPI) -> None:
    """Register every mapping on `app`."""
    app.add_exception_handler(PhosphoError, _phospho_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
