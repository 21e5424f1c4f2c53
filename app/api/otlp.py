"""OTLP/HTTP: `POST /v1/traces` stores LLM spans as events; `/v1/metrics` and `/v1/logs` are
accepted and ignored (200), so an exporter configured for every signal logs no errors.

Served like the REST ingest routes (events.py) by an ASGI middleware ahead of the router, for
the same reason: exporters with a simple span processor send one request per span, and the
framework's per-route machinery costs more than such a request's work. It sits outside
`BodyLimitMiddleware` and applies its own limits: the wire body and, once inflated (gzip,
deflate), the export itself are held to `max_batch_body_bytes`, so every error here, 413
included, is OTLP's `google.rpc.Status` in the request's encoding (protobuf or JSON), as the
OTLP/HTTP spec asks. Authentication and the per-key rate limit are the REST routes'.
Admission control (503) and read timeouts (408) answer before this, in plain JSON.
"""

from __future__ import annotations

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)
from starlette.datastructures import URL
from starlette.responses import RedirectResponse

from app.api.errors import phospho_error_parts
from app.api.events import authorization, route_path
from app.errors import PayloadTooLarge, PhosphoError
from app.limits import ASGIApp, Receive, Scope, Send
from app.request_context import ROUTE_KEY, note_project
from app.services.ingest import Ingestor
from app.services.keys import KeyCache, authenticate
from app.services.otlp import Encoding, ExportOutcome, Inflater, encoding_of, export_traces
from app.services.otlp.decode import decode_spans
from app.services.ratelimit import KeyRateLimiter

TRACES, METRICS, LOGS = "/v1/traces", "/v1/metrics", "/v1/logs"
PATHS = frozenset((TRACES, METRICS, LOGS))
# google.rpc.Code of each HTTP status answered here (OTLP clients read only the message).
RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 409: 6, 413: 8, 415: 3, 422: 3,
             429: 8, 500: 13, 503: 14}  # fmt: skip


class OtlpRoutes:
    """Serve the OTLP paths before the app (see the module's docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        ingestor: Ingestor,
        keys: KeyCache,
        limiter: KeyRateLimiter | None,
        max_body: int,
    ) -> None:
        self.app = app
        self.ingestor = ingestor
        self.keys = keys
        self.limiter = limiter
        self.max_body = max_body  # wire bytes, and bytes once inflated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope) if scope["type"] == "http" else ""
        if path not in PATHS:
            if path.endswith("/") and path.rstrip("/") in PATHS:  # as every route does
                url = URL(scope={**scope, "path": scope["path"].rstrip("/")})
                await RedirectResponse(str(url))(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        scope[ROUTE_KEY] = path
        headers = _headers(scope)
        encoding = _encoding_or_json(headers.get(b"content-type"))
        try:
            if scope["method"] != "POST":
                raise MethodNotAllowed("Method Not Allowed")
            principal = await authenticate(authorization(scope), cache=self.keys)
            note_project(scope, principal.project_id)
            if self.limiter is not None:
                await self.limiter.check(principal.key_id)
            encoding = encoding_of(headers.get(b"content-type"))
            inflater = Inflater(headers.get(b"content-encoding") if path == TRACES else None,
                                self.max_body)  # fmt: skip
            if not await self._read(headers, receive, inflater, keep=path == TRACES):
                return  # the client went away before sending all of it: nothing stored
            outcome = ExportOutcome(0, "")
            if path == TRACES:
                spans = decode_spans(inflater.body(), encoding)
                outcome = await export_traces(self.ingestor, principal, spans)
        except PhosphoError as exc:
            await _send_status(send, encoding, exc)
            return
        await _send(send, 200, encoding, _answer(outcome, encoding), [])

    async def _read(
        self, headers: dict[bytes, str], receive: Receive, inflater: Inflater, *, keep: bool
    ) -> bool:
        """Feed the body to `inflater` (or count and drop it, `keep` False); False when the
        client disconnected first. Over the limit: PayloadTooLarge, before or while reading."""
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            raise PayloadTooLarge(f"the request body is larger than {self.max_body} bytes")
        seen = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return False
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_body:
                raise PayloadTooLarge(f"the request body is larger than {self.max_body} bytes")
            if keep:
                inflater.feed(chunk)
            if not message.get("more_body", False):
                return True


class MethodNotAllowed(PhosphoError):
    """Only POST is served on the OTLP paths."""

    status_code = 405
    code = "http_error"


def _headers(scope: Scope) -> dict[bytes, str]:
    wanted = (b"content-type", b"content-encoding", b"content-length")
    return {
        name: bytes(value).decode("latin-1").strip()
        for name, value in scope["headers"]
        if name in wanted
    }


def _encoding_or_json(content_type: str | None) -> Encoding:
    """The encoding errors are answered in: the request's, or JSON when it has none we know."""
    try:
        return encoding_of(content_type)
    except PhosphoError:
        return Encoding.JSON


def _answer(outcome: ExportOutcome, encoding: Encoding) -> bytes:
    """An Export*ServiceResponse: empty, or with partial_success when spans were rejected."""
    if encoding is Encoding.JSON:
        if not outcome.rejected:
            return b"{}"
        partial = {"rejectedSpans": str(outcome.rejected), "errorMessage": outcome.message}
        return orjson.dumps({"partialSuccess": partial})
    if not outcome.rejected:
        return b""
    partial_success = ExportTracePartialSuccess(
        rejected_spans=outcome.rejected, error_message=outcome.message
    )
    return ExportTraceServiceResponse(partial_success=partial_success).SerializeToString()


def status_bytes(code: int, message: str, encoding: Encoding) -> bytes:
    """A google.rpc.Status {code, message} (field 1 int32, field 2 string), encoded by hand:
    its generated class lives in googleapis-common-protos, a dependency for two fields."""
    if encoding is Encoding.JSON:
        return orjson.dumps({"code": code, "message": message})
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


async def _send_status(send: Send, encoding: Encoding, exc: PhosphoError) -> None:
    status, _, extra = phospho_error_parts(exc)
    headers = [(name.lower().encode(), value.encode()) for name, value in extra.items()]
    if status == 405:
        headers.append((b"allow", b"POST"))
    if status == 413:  # the rest of the body is not read: the connection cannot be reused
        headers.append((b"connection", b"close"))
    body = status_bytes(RPC_CODES.get(status, 2), exc.message, encoding)
    await _send(send, status, encoding, body, headers)


async def _send(
    send: Send, status: int, encoding: Encoding, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    headers += [
        (b"content-length", str(len(body)).encode()),
        (b"content-type", encoding.content_type.encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
