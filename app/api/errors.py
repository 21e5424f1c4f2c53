"""The one place where exceptions become HTTP responses. No stack trace or SQL reaches a client."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from app.api.responses import json_response
from app.errors import PhosphoError, Unauthorized

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


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return json_response(error_body("internal error; it has been logged", "internal"), 500)


def install_error_handlers(app: FastAPI) -> None:
    """Register every mapping on `app`."""
    app.add_exception_handler(PhosphoError, _phospho_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
