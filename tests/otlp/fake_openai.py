"""A fake OpenAI-compatible server on loopback, and a capture server for OTLP exports.

The real `openai` client and real instrumentations talk to these, so the spans the tests see are
the ones those libraries really emit: a real model name and a usage block in every answer (the
instrumentations copy them onto the span), and a fixed delay so the span's duration (the event's
latency) is measurably non-zero. The capture server keeps each raw export body as it arrived.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "gpt-4o-mini-2024-07-18"
PROMPT_TOKENS = 23
COMPLETION_TOKENS = 9
DELAY_S = 0.05


def answer_text(question: str) -> str:
    """The assistant's reply to the last user message (echoed so each call is recognisable)."""
    return f"Echo: {question}"


def _completion(body: dict[str, object]) -> dict[str, object]:
    messages = body.get("messages") or []
    last = next(
        (m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), {}
    )
    question = str(last.get("content", "")) if isinstance(last, dict) else ""
    return {
        "id": "chatcmpl-fake-" + str(time.monotonic_ns()),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL,
        "system_fingerprint": "fp_fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer_text(question)},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        },
    }


class _OpenAIHandler(BaseHTTPRequestHandler):
    """POST /v1/chat/completions (non-streaming) only; anything else 404."""

    delay_s = DELAY_S

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        time.sleep(self.delay_s)
        self._send(200, _completion(json.loads(raw or b"{}")))

    def _send(self, status: int, payload: dict[str, object]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read results, not access logs."""


@dataclass
class Captured:
    """One OTLP export as received: path, content type, encoding and the raw body."""

    path: str
    content_type: str
    content_encoding: str
    body: bytes


@dataclass
class CaptureServer:
    """Where a capture server listens, and what it has received so far."""

    base_url: str
    exports: list[Captured] = field(default_factory=list)


class _CaptureHandler(BaseHTTPRequestHandler):
    """Keeps every POST body; answers an empty ExportTraceServiceResponse (200, empty body)."""

    sink: CaptureServer

    def do_POST(self) -> None:
        self.sink.exports.append(
            Captured(
                path=self.path,
                content_type=self.headers.get("Content-Type", ""),
                content_encoding=self.headers.get("Content-Encoding", ""),
                body=self._body(),
            )
        )
        json_body = "json" in self.headers.get("Content-Type", "")
        data = b"{}" if json_body else b""
        self.send_response(200)
        kind = "application/json" if json_body else "application/x-protobuf"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        """The request body, sent with a Content-Length (Python) or chunked (Node's exporter)."""
        if "chunked" not in self.headers.get("Transfer-Encoding", ""):
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        self.rfile.readline()
        return b"".join(chunks)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@contextmanager
def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@contextmanager
def fake_openai(delay_s: float = DELAY_S) -> Iterator[str]:
    """A fake OpenAI server; yields its base URL for `OpenAI(base_url=...)` (ends in /v1)."""
    handler = type("Handler", (_OpenAIHandler,), {"delay_s": delay_s})
    with _serve(handler) as url:
        yield url + "/v1"


@contextmanager
def capture_server() -> Iterator[CaptureServer]:
    """An OTLP/HTTP sink keeping every export body (point an exporter at `base_url/v1/traces`)."""
    sink = CaptureServer(base_url="")
    handler = type("Handler", (_CaptureHandler,), {"sink": sink})
    with _serve(handler) as url:
        sink.base_url = url
        yield sink
