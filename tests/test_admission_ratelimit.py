"""Per-key rate limits (PHOSPHO_RATE_LIMIT, app/services/ratelimit.py): past its bucket a key
gets 429 + Retry-After before its body is read, on REST and GraphQL alike; another key is
unaffected; the bucket refills (both databases)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from app.services.ratelimit import parse_rate
from tests.admission_support import Reader, connect, event, request, stored
from tests.harness import Server, Tenant, require_backend, serving, start_server

BURST = 5  # PHOSPHO_RATE_LIMIT=5/minute: five at once, then one every 12 seconds


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def limited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server that lets each key make 5 requests per minute."""
    require_backend(request.param)
    with serving(
        request.param,
        tmp_path_factory.mktemp(f"ratelimit-{request.param}"),
        PHOSPHO_RATE_LIMIT=f"{BURST}/minute",
    ) as srv:
        yield srv


def post(server: Server, tenant: Tenant, body: object) -> httpx.Response:
    return httpx.post(
        server.base_url + "/api/v1/events", json=body, headers=tenant.headers, timeout=10
    )


def assert_limited(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["retry-after"] == "12"  # one token comes back every 60 / 5 seconds
    assert answer.json()["code"] == "too_many_requests"
    assert "5 requests per minute" in answer.json()["detail"]


def test_a_key_past_its_bucket_gets_429_and_another_key_does_not(limited: Server) -> None:
    tenant, other = limited.new_tenant(), limited.new_tenant()
    events = [event() for _ in range(BURST + 2)]
    answers = [post(limited, tenant, item) for item in events]
    assert [a.status_code for a in answers] == [201] * BURST + [429, 429]
    assert_limited(answers[-1])
    assert post(limited, other, event()).status_code == 201  # its own bucket
    ids = [item["event_id"] for item in events]
    assert stored(limited, *ids) == set(ids[:BURST])


def test_graphql_requests_by_key_share_the_bucket(limited: Server) -> None:
    tenant = limited.new_tenant()
    for _ in range(BURST):
        assert post(limited, tenant, event()).status_code == 201
    answer = httpx.post(
        limited.base_url + "/graphql",
        json={"query": "{ __typename }"},
        headers=tenant.headers,
        timeout=10,
    )
    assert_limited(answer)


def test_the_429_comes_before_the_body_is_read(limited: Server) -> None:
    tenant = limited.new_tenant()
    for _ in range(BURST):
        assert post(limited, tenant, event()).status_code == 201
    sock = connect(limited)
    body = json.dumps(event()).encode()
    sock.sendall(request(tenant, b"", length=len(body)))  # headers only: the body never comes
    answer = Reader(sock).answer()
    assert answer.status == 429 and answer.headers["retry-after"] == "12"


def test_rates_parse_and_bad_ones_are_refused() -> None:
    assert parse_rate("") is None
    assert parse_rate("1000/second") == (1000, 1.0)
    assert parse_rate(" 60 / minute ") == (60, 60.0)
    with pytest.raises(ValueError, match="1000/second"):
        parse_rate("10 per second")


def test_a_bucket_refills(tmp_path_factory: pytest.TempPathFactory) -> None:
    srv = start_server("sqlite", tmp_path_factory.mktemp("refill"), PHOSPHO_RATE_LIMIT="2/second")
    try:
        tenant = srv.new_tenant()
        assert [post(srv, tenant, event()).status_code for _ in range(3)] == [201, 201, 429]
        time.sleep(0.6)  # one token back after 0.5 s
        assert post(srv, tenant, event()).status_code == 201
    finally:
        srv.destroy()
