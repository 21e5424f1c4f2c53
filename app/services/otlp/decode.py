"""What an OTLP/HTTP request's headers say about its body, and the body's inflation.

`Encoding` comes from Content-Type (protobuf or JSON; anything else is a 415), and answers are
written in the same encoding. `Inflater` undoes `Content-Encoding: gzip` or `deflate` chunk by
chunk as the body arrives, never holding more than `limit` bytes of output: the body limit
counts what the export is once decompressed (a zip bomb of a few KiB stops at the limit, not in
a gigabyte of memory).
"""

from __future__ import annotations

import zlib
from enum import Enum

from app.errors import MalformedBody, PayloadTooLarge, PhosphoError
from app.services.otlp.decode_json import decode_json
from app.services.otlp.decode_proto import decode_proto
from app.services.otlp.spans import Span

PROTOBUF_TYPE = "application/x-protobuf"
JSON_TYPE = "application/json"
MAX_GZIP_MEMBERS = 64  # concatenated gzip members read in one body (each one a new inflater)


class UnsupportedMediaType(PhosphoError):
    """A Content-Type or Content-Encoding OTLP/HTTP does not define (415)."""

    status_code = 415
    code = "unsupported_media_type"


class Encoding(Enum):
    """The two encodings of OTLP/HTTP."""

    PROTOBUF = PROTOBUF_TYPE
    JSON = JSON_TYPE

    @property
    def content_type(self) -> str:
        """The Content-Type of an answer in this encoding."""
        return self.value


def encoding_of(content_type: str | None) -> Encoding:
    """The encoding a Content-Type names (parameters such as charset ignored), or a 415."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == PROTOBUF_TYPE:
        return Encoding.PROTOBUF
    if media == JSON_TYPE:
        return Encoding.JSON
    raise UnsupportedMediaType(
        f"Content-Type {media or '(none)'!r} is not accepted: send {PROTOBUF_TYPE} or {JSON_TYPE}"
    )


def decode_spans(raw: bytes, encoding: Encoding) -> list[Span]:
    """The spans of an ExportTraceServiceRequest body (already inflated)."""
    return decode_proto(raw) if encoding is Encoding.PROTOBUF else decode_json(raw)


class Inflater:
    """Content-Encoding undone incrementally under an output limit (see the module docstring).

    `identity` (or no header) passes bytes through, counted against the same limit."""

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        coding = (content_encoding or "identity").strip().lower()
        if coding not in ("identity", "gzip", "x-gzip", "deflate"):
            raise UnsupportedMediaType(
                f"Content-Encoding {coding!r} is not accepted: send gzip, deflate or none"
            )
        self.coding = coding
        self.limit = limit
        self.size = 0
        self.members = 0
        self.chunks: list[bytes] = []
        self._inflater: zlib._Decompress | None = None
        self._raw_deflate = False

    def feed(self, data: bytes) -> None:
        """Take the next bytes of the body."""
        if self.coding == "identity":
            self._add(data)
            return
        while data:
            if self._inflater is None:
                self._inflater = self._new(data)
            inflater = self._inflater
            try:
                self._add(inflater.decompress(data, self.limit - self.size + 1))
                while inflater.unconsumed_tail and not inflater.eof:
                    tail = inflater.unconsumed_tail
                    self._add(inflater.decompress(tail, self.limit - self.size + 1))
            except zlib.error:
                raise MalformedBody(f"the body is not valid {self.coding} data") from None
            data = inflater.unused_data if inflater.eof else b""
            if inflater.eof:
                self._inflater = None  # the next gzip member, if more bytes follow

    def body(self) -> bytes:
        """The whole inflated body, once every byte was fed; a truncated stream is a 400."""
        if self._inflater is not None or (self.coding != "identity" and not self.members):
            raise MalformedBody(f"the body is not valid {self.coding} data (it ends too soon)")
        return self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)

    def _new(self, data: bytes) -> zlib._Decompress:
        self.members += 1
        if self.members > MAX_GZIP_MEMBERS:
            raise MalformedBody(f"the body has more than {MAX_GZIP_MEMBERS} {self.coding} parts")
        if self.coding != "deflate":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # HTTP's deflate is the zlib format; some clients send raw deflate. A zlib stream's
        # first two bytes, read as a big-endian number, are a multiple of 31.
        zlib_wrapped = len(data) >= 2 and (data[0] << 8 | data[1]) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)

    def _add(self, output: bytes) -> None:
        if not output:
            return
        self.size += len(output)
        if self.size > self.limit:
            raise PayloadTooLarge(
                f"the request body is larger than {self.limit} bytes once decompressed"
            )
        self.chunks.append(output)
