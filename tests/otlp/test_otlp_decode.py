"""Reading an OTLP request's body, in process: content types, compression under the limit
(a zip bomb included), junk and too many spans."""

from __future__ import annotations

import gzip
import zlib

import orjson
import pytest

from app.errors import MalformedBody, PayloadTooLarge
from app.services.otlp.decode import (
    Encoding,
    Inflater,
    UnsupportedMediaType,
    decode_spans,
    encoding_of,
)
from app.services.otlp.spans import MAX_SPANS
from tests.otlp.otlp_build import export, http


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        (b"not a protobuf at all", Encoding.PROTOBUF),
        (b"{not json", Encoding.JSON),
        (b"[]", Encoding.JSON),
        (b'{"resourceSpans": {}}', Encoding.JSON),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 5}]}]}]}', Encoding.JSON),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "x"}]}]}]}',
            Encoding.JSON,
        ),
    ],
)
def test_junk_is_malformed(raw: bytes, encoding: Encoding) -> None:
    with pytest.raises(MalformedBody):
        decode_spans(raw, encoding)


def test_too_many_spans() -> None:
    raw = export([http(n) for n in range(1, MAX_SPANS + 2)])
    with pytest.raises(PayloadTooLarge):
        decode_spans(raw, Encoding.PROTOBUF)


def test_content_types() -> None:
    assert encoding_of("application/x-protobuf") is Encoding.PROTOBUF
    assert encoding_of("Application/JSON; charset=utf-8") is Encoding.JSON
    for other in (None, "", "text/plain", "application/grpc"):
        with pytest.raises(UnsupportedMediaType):
            encoding_of(other)
    with pytest.raises(UnsupportedMediaType):
        Inflater("br", 100)


def _inflate(coding: str, data: bytes, limit: int, chunk: int = 1000) -> bytes:
    inflater = Inflater(coding, limit)
    for at in range(0, len(data), chunk):
        inflater.feed(data[at : at + chunk])
    return inflater.body()


def test_inflation_gzip_deflate_members_and_limits() -> None:
    body = b"x" * 50_000
    assert _inflate("gzip", gzip.compress(body), 50_000) == body
    assert _inflate("gzip", gzip.compress(body[:10]) + gzip.compress(body[10:]), 50_000) == body
    assert _inflate("deflate", zlib.compress(body), 50_000) == body
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert _inflate("deflate", raw.compress(body) + raw.flush(), 50_000) == body
    assert _inflate("identity", body, 50_000) == body
    with pytest.raises(PayloadTooLarge):
        _inflate("gzip", gzip.compress(body), 49_999)
    with pytest.raises(MalformedBody):
        _inflate("gzip", gzip.compress(body)[:-10], 50_000)
    with pytest.raises(MalformedBody):
        _inflate("gzip", b"not gzip at all", 50_000)


def test_a_zip_bomb_stops_at_the_limit() -> None:
    """1 GiB of zeros (~1 MiB compressed) fed chunk by chunk: refused once the limit is
    passed, having held at most the limit (plus one inflate step) in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    bomb = b"".join(compressor.compress(zeros) for _ in range(1024)) + compressor.flush()
    inflater = Inflater("gzip", 16 << 20)
    with pytest.raises(PayloadTooLarge):
        for at in range(0, len(bomb), 65536):
            inflater.feed(bomb[at : at + 65536])
    assert inflater.size <= (16 << 20) + 1 and sum(map(len, inflater.chunks)) <= 16 << 20


def test_a_json_error_names_its_place() -> None:
    value = {"arrayValue": {"values": [{"intValue": "x"}]}}
    span = {"attributes": [{"key": "k", "value": value}]}
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [{}, span]}]}]}
    with pytest.raises(MalformedBody) as raised:
        decode_spans(orjson.dumps(body), Encoding.JSON)
    assert (
        "resourceSpans[0].scopeSpans[0].spans[1].attributes[0].value.arrayValue.values[0]"
        ".intValue must be an integer" in raised.value.message
    )


def test_a_member_given_under_both_names_is_refused() -> None:
    """OTLP/JSON members may be spelt as in the proto (snake_case), but not both ways at once:
    which would count is not said (protobuf's own JSON parsers refuse it too)."""
    span = {"name": "chat", "traceId": "0" * 31 + "1", "spanId": "0" * 15 + "1"}
    snake = {"resource_spans": [{"scope_spans": [{"spans": [span]}]}]}
    assert [s.name for s in decode_spans(orjson.dumps(snake), Encoding.JSON)] == ["chat"]
    both = {"resourceSpans": [{"scopeSpans": [], "scope_spans": [{"spans": [span]}]}]}
    with pytest.raises(MalformedBody) as raised:
        decode_spans(orjson.dumps(both), Encoding.JSON)
    assert "resourceSpans[0].scopeSpans must be given once, not also as scope_spans" in (
        raised.value.message
    )
