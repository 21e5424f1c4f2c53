"""The same-origin rule for requests that a login cookie authenticates (dashboard forms, and
GraphQL over HTTP and WebSocket with the cookie): one rule, so a request the dashboard refuses
as cross-site is refused by /graphql too.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

WEB_SCHEME = {"ws": "http", "wss": "https"}


def same_origin(connection: HTTPConnection) -> bool:
    """Whether the request shows it comes from this server: its Origin names this server or,
    when a browser sent no Origin, its Referer is a page of this server. Neither: refused
    (a browser sends one of them with every POST; a cookie without them proves nothing)."""
    # A WebSocket's URL is ws:// or wss://; the page that opened it is http:// or https://.
    scheme = WEB_SCHEME.get(connection.url.scheme, connection.url.scheme)
    expected = f"{scheme}://{connection.url.netloc}"
    origin = connection.headers.get("origin")
    if origin is not None:
        return origin == expected
    referer = connection.headers.get("referer", "")
    return referer == expected or referer.startswith(expected + "/")
