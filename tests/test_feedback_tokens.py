"""Feedback tokens over HTTP, on a real server per database: every log path's answer carries
one, it rates its event (and only it) through `POST /api/v1/feedback` without a key, exactly
like the keyed route; tampered, expired or revoked tokens are 401; the token opens nothing
else; CORS for the listed origin only; rate limits per token and per client address.

The module's server trusts X-Forwarded-For from loopback, so each test rates from addresses of
its own and the per-address limit of one test never touches another's.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import phospho
import pytest

from app.errors import Unauthorized
from app.services.feedback_tokens import TOKEN_LENGTH, FeedbackTokens
from app.services.keys import Principal
from app.services.ratelimit import KeyRateLimiter
from tests.harness import BACKENDS, Server, Tenant, serving

LISTED = "http://127.0.0.1:9"  # an origin the server lists (no page is served from it here)
PER_TOKEN = 3  # a minute
PER_ADDRESS = 6  # a minute
_addresses = (f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" for n in itertools.count(1))

LOG_EVENT = """mutation($input: LogEventInput!) { logEvent(input: $input) { id feedbackToken } }"""
LOG_EVENTS = """mutation($input: [LogEventInput!]!) { logEvents(input: $input) {
  id feedbackToken } }"""
FEEDBACK_OF = """query($id: ID!) { event(id: $id) { feedbackToken latestFeedback { score comment }
  feedback { score } } }"""
METRICS = """query($s: DateTime!, $u: DateTime!) { metrics(since: $s, until: $u) {
  summary { positiveFeedback negativeFeedback } } }"""


@pytest.fixture(scope="module", params=BACKENDS)
def srv(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server per database with one listed origin and small feedback limits."""
    settings = {
        "PHOSPHO_CORS_ORIGINS": f"{LISTED}, http://localhost:3000",
        "PHOSPHO_FORWARDED_ALLOW_IPS": "127.0.0.1",
        "PHOSPHO_FEEDBACK_RATE_LIMIT_PER_TOKEN": f"{PER_TOKEN}/minute",
        "PHOSPHO_FEEDBACK_RATE_LIMIT_PER_ADDRESS": f"{PER_ADDRESS}/minute",
    }
    path = tmp_path_factory.mktemp(f"fbtoken-{request.param}")
    with serving(request.param, path, **settings) as server:
        yield server


@pytest.fixture
def tenant(srv: Server) -> Tenant:
    """A fresh project with its key on the module's server."""
    return srv.new_tenant()


@pytest.fixture
def address() -> str:
    """A client address of this test's own (X-Forwarded-For)."""
    return next(_addresses)


def log(srv: Server, tenant: Tenant, **body: Any) -> dict[str, Any]:
    """Log one event over REST; its answer."""
    body = {"input": "q", "output": "a", **body}
    response = httpx.post(srv.base_url + "/api/v1/events", json=body, headers=tenant.headers)
    assert response.status_code in (200, 201), response.text
    answer: dict[str, Any] = response.json()
    return answer


def rate(
    srv: Server, body: Any, address: str, origin: str | None = None, **headers: str
) -> httpx.Response:
    """POST /api/v1/feedback without a key, from `address`."""
    headers = {"X-Forwarded-For": address, **headers}
    if origin is not None:
        headers["Origin"] = origin
    return httpx.post(srv.base_url + "/api/v1/feedback", json=body, headers=headers)


def gql(srv: Server, tenant: Tenant, query: str, **variables: Any) -> dict[str, Any]:
    """The data of a GraphQL operation as `tenant`."""
    response = httpx.post(
        srv.base_url + "/graphql",
        json={"query": query, "variables": variables},
        headers=tenant.headers,
    )
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def stored_feedback(srv: Server, event_id: str) -> list[tuple[Any, ...]]:
    """(project, score, comment) of an event's feedback rows."""
    event = event_id if srv.backend == "sqlite" else uuid.UUID(event_id)
    return srv.query(
        "SELECT project_id, score, comment FROM feedback WHERE event_id = ? ORDER BY created_at",
        event,
    )


def test_every_log_path_gives_a_token_that_rates_its_event(
    srv: Server, tenant: Tenant, address: str
) -> None:
    single = log(srv, tenant)
    batch = httpx.post(
        srv.base_url + "/api/v1/events/batch",
        json={"events": [{"input": "b1", "output": "a"}, {"input": "b2", "output": "a"}]},
        headers=tenant.headers,
    ).json()["results"]
    one = gql(srv, tenant, LOG_EVENT, input={"input": "g", "output": "a"})["logEvent"]
    many = gql(srv, tenant, LOG_EVENTS, input=[{"input": "g2", "output": "a"}])["logEvents"]
    logged = [(single["event_id"], single["feedback_token"])]
    logged += [(r["event_id"], r["feedback_token"]) for r in batch]
    logged += [(e["id"], e["feedbackToken"]) for e in (one, *many)]
    assert len({token for _, token in logged}) == 5
    for index, (event_id, token) in enumerate(logged):
        response = rate(srv, {"token": token, "score": index % 2, "comment": f"c{index}"}, address)
        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == {"feedback_id", "event_id", "score", "comment", "created_at"}
        assert (body["event_id"], body["score"], body["comment"]) == (
            event_id,
            index % 2,
            f"c{index}",
        )
        assert stored_feedback(srv, event_id) == [(tenant.project_id, index % 2, f"c{index}")]


def test_the_python_sdks_results_carry_tokens_that_rate_their_events(
    srv: Server, tenant: Tenant, address: str
) -> None:
    client = phospho.Client(api_key=tenant.key, base_url=srv.base_url)
    try:
        one = client.log("q", "a")
        batch = client.log_batch([{"input": "b", "output": "a"}])
    finally:
        client.close()
    for result in (one, *batch):
        token = result["feedback_token"]
        assert token is not None
        assert rate(srv, {"token": token, "score": 1}, address).status_code == 201
        assert stored_feedback(srv, result["event_id"]) == [(tenant.project_id, 1, None)]


def test_token_feedback_shows_where_keyed_feedback_does(
    srv: Server, tenant: Tenant, address: str
) -> None:
    before = time.time()
    event = log(srv, tenant)
    assert rate(srv, {"token": event["feedback_token"], "score": 0}, address).status_code == 201
    assert (
        rate(
            srv, {"token": event["feedback_token"], "score": 1, "comment": "ok"}, address
        ).status_code
        == 201
    )
    read = gql(srv, tenant, FEEDBACK_OF, id=event["event_id"])["event"]
    assert read["latestFeedback"] == {"score": 1, "comment": "ok"}
    assert [f["score"] for f in read["feedback"]] == [0, 1]
    assert read["feedbackToken"] is None  # only log answers carry it
    window = {"s": _iso(before - 120), "u": _iso(time.time() + 120)}
    summary = gql(srv, tenant, METRICS, **window)["metrics"]["summary"]
    assert summary == {"positiveFeedback": 1, "negativeFeedback": 0}  # the latest one counts


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def test_a_retry_answers_with_the_same_token(srv: Server, tenant: Tenant) -> None:
    event_id = str(uuid.uuid4())
    first = log(srv, tenant, event_id=event_id)
    assert log(srv, tenant, event_id=event_id) == first


def test_answers_and_errors_are_the_keyed_routes(srv: Server, tenant: Tenant) -> None:
    event_id = log(srv, tenant)["event_id"]
    for body in ({"score": 2}, {"score": "1"}, {"score": 1, "comment": 5}, {"score": 1, "x": 1}):
        keyed = httpx.post(
            f"{srv.base_url}/api/v1/events/{event_id}/feedback", json=body, headers=tenant.headers
        )
        token = log(srv, tenant)["feedback_token"]
        by_token = rate(srv, {"token": token, **body}, next(_addresses))
        assert (by_token.status_code, by_token.json()) == (keyed.status_code, keyed.json())
        assert keyed.status_code == 422
    not_json = httpx.post(
        srv.base_url + "/api/v1/feedback",
        content=b"{",
        headers={"X-Forwarded-For": next(_addresses)},
    )
    assert not_json.status_code == 400 and not_json.json()["code"] == "malformed_body"
    assert rate(srv, [1], next(_addresses)).status_code == 422
    assert httpx.get(srv.base_url + "/api/v1/feedback").status_code == 405
    token = log(srv, tenant)["feedback_token"]
    body = {"token": token, "score": 1, "comment": "x" * (1024 * 1024)}
    assert rate(srv, body, next(_addresses)).status_code == 413
    assert stored_feedback(srv, event_id) == []


def test_a_token_rates_its_event_and_no_other(srv: Server, tenant: Tenant, address: str) -> None:
    a, b = log(srv, tenant), log(srv, tenant)
    naming_b = rate(
        srv, {"token": a["feedback_token"], "event_id": b["event_id"], "score": 1}, address
    )
    assert naming_b.status_code == 422  # the body cannot name another event
    other = srv.new_tenant()
    elsewhere = log(srv, other)
    assert rate(srv, {"token": a["feedback_token"], "score": 0}, address).status_code == 201
    assert stored_feedback(srv, b["event_id"]) == stored_feedback(srv, elsewhere["event_id"]) == []
    assert stored_feedback(srv, a["event_id"]) == [(tenant.project_id, 0, None)]


def _flip(token: str, index: int) -> str:
    char = "B" if token[index] == "A" else "A"
    return token[:index] + char + token[index + 1 :]


def test_tampered_or_missing_tokens_are_401(srv: Server, tenant: Tenant, address: str) -> None:
    event = log(srv, tenant)
    token = event["feedback_token"]
    forged = [_flip(token, i) for i in (4, 10, 30, 50, len(token) - 1)]
    forged += [token[:-1], token + "A", "ph_" + token[4:], token.upper(), "", 42, None]
    for bad in forged:
        response = rate(srv, {"token": bad, "score": 1}, next(_addresses))
        assert response.status_code == 401, (bad, response.text)
        assert response.json()["code"] == "unauthorized"
        assert "feedback token" in response.json()["detail"]
        assert "www-authenticate" not in response.headers
    missing = rate(srv, {"score": 1}, address)
    assert missing.status_code == 401 and "missing feedback token" in missing.json()["detail"]
    assert stored_feedback(srv, event["event_id"]) == []


def test_the_token_opens_nothing_else(srv: Server, tenant: Tenant) -> None:
    event = log(srv, tenant)
    as_key = {"Authorization": f"Bearer {event['feedback_token']}"}
    base = srv.base_url
    attempts = [
        httpx.post(base + "/api/v1/events", json={"input": "q", "output": "a"}, headers=as_key),
        httpx.post(base + "/api/v1/events/batch", json={"events": []}, headers=as_key),
        httpx.post(
            f"{base}/api/v1/events/{event['event_id']}/feedback", json={"score": 1}, headers=as_key
        ),
        httpx.get(base + "/api/v1/events/export", headers=as_key),
        httpx.delete(base + "/api/v1/users/someone", headers=as_key),
        httpx.post(
            base + "/graphql",
            json={"query": "{ events { edges { node { id } } } }"},
            headers=as_key,
        ),
        httpx.post(
            base + "/graphql",
            json={"query": FEEDBACK_OF, "variables": {"id": event["event_id"]}},
            headers={"Authorization": f"Bearer {event['feedback_token']}"},
        ),
    ]
    assert [r.status_code for r in attempts] == [401] * len(attempts), [r.text for r in attempts]
    assert stored_feedback(srv, event["event_id"]) == []


def test_revoking_the_key_ends_its_tokens(srv: Server, address: str) -> None:
    tenant = srv.new_tenant()
    token = log(srv, tenant)["feedback_token"]
    srv.query(
        "UPDATE api_keys SET revoked_at = ? WHERE project_id = ?",
        "2026-01-02 00:00:00+00:00",
        tenant.project_id,
    )
    response = rate(srv, {"token": token, "score": 1}, address)
    assert response.status_code == 401, response.text


def test_an_expired_token_is_401(backend: str, tmp_path: Path) -> None:
    # 3 s, not 1: on a loaded machine (CI, two test files at once) the two logs and the first
    # rating once took over a second, and the fresh token had expired before it was used.
    ttl = 3
    with serving(backend, tmp_path, PHOSPHO_FEEDBACK_TOKEN_TTL_SECONDS=str(ttl)) as short:
        tenant = short.new_tenant()
        fresh, old = log(short, tenant), log(short, tenant)
        assert (
            rate(short, {"token": fresh["feedback_token"], "score": 1}, "10.9.9.9").status_code
            == 201
        )
        # The token ends `ttl` seconds after its event's second: wait for that moment.
        created = datetime.fromisoformat(old["created_at"].replace("Z", "+00:00")).timestamp()
        time.sleep(max(0.0, int(created) + ttl - time.time()) + 0.05)
        response = rate(short, {"token": old["feedback_token"], "score": 0}, "10.9.9.9")
        assert response.status_code == 401, response.text
        assert "expired" in response.json()["detail"]
        assert stored_feedback(short, old["event_id"]) == []


def test_per_token_rate_limit(srv: Server, tenant: Tenant) -> None:
    token = log(srv, tenant)["feedback_token"]
    # From a new address each time: only the token's own budget is spent.
    answers = [
        rate(srv, {"token": token, "score": 1}, next(_addresses)) for _ in range(PER_TOKEN + 1)
    ]
    assert [a.status_code for a in answers] == [201] * PER_TOKEN + [429]
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert "this feedback token" in answers[-1].json()["detail"]
    other = log(srv, tenant)["feedback_token"]
    assert rate(srv, {"token": other, "score": 1}, next(_addresses)).status_code == 201


def test_per_address_rate_limit(srv: Server, tenant: Tenant, address: str) -> None:
    tokens = [log(srv, tenant)["feedback_token"] for _ in range(PER_ADDRESS + 1)]
    answers = [rate(srv, {"token": token, "score": 1}, address) for token in tokens]
    assert [a.status_code for a in answers] == [201] * PER_ADDRESS + [429]
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert "this address" in answers[-1].json()["detail"]
    # The refused request read nothing: its token is still unused elsewhere.
    assert rate(srv, {"token": tokens[-1], "score": 1}, next(_addresses)).status_code == 201


def test_cors_for_the_listed_origins_on_this_route_only(
    srv: Server, tenant: Tenant, address: str
) -> None:
    url = srv.base_url + "/api/v1/feedback"
    ask = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    allowed = httpx.options(url, headers={"Origin": LISTED, **ask})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == LISTED
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in allowed.headers
    foreign = httpx.options(url, headers={"Origin": "http://evil.example", **ask})
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in foreign.headers

    event = log(srv, tenant)
    ok = rate(srv, {"token": event["feedback_token"], "score": 1}, address, origin=LISTED)
    assert ok.status_code == 201
    assert ok.headers["access-control-allow-origin"] == LISTED
    assert "Origin" in ok.headers["vary"]
    # A text/plain post needs no preflight: the server itself refuses the foreign origin.
    other = log(srv, tenant)
    sneaky = httpx.post(
        url,
        content=f'{{"token": "{other["feedback_token"]}", "score": 0}}',
        headers={
            "Origin": "http://evil.example",
            "Content-Type": "text/plain",
            "X-Forwarded-For": address,
        },
    )
    assert sneaky.status_code == 403 and "PHOSPHO_CORS_ORIGINS" in sneaky.json()["detail"]
    assert not any(h.startswith("access-control-") for h in sneaky.headers)
    assert stored_feedback(srv, other["event_id"]) == []

    for response in (
        httpx.post(srv.base_url + "/api/v1/events", json={"input": "q", "output": "a"},
                   headers={**tenant.headers, "Origin": LISTED}),
        httpx.options(srv.base_url + "/api/v1/events", headers={"Origin": LISTED, **ask}),
        httpx.options(srv.base_url + "/graphql", headers={"Origin": LISTED, **ask}),
        httpx.get(srv.base_url + "/api/v1/health", headers={"Origin": LISTED}),
    ):  # fmt: skip
        assert not any(h.startswith("access-control-") for h in response.headers), response.headers


def test_tokens_in_process_sign_verify_and_expire() -> None:
    """The token's rules without a server: its own key, its clock, its event."""
    now = [1_800_000_000.0]
    tokens = FeedbackTokens(ttl_seconds=60, clock=lambda: now[0])
    tokens.use_secret("one secret")
    principal, event = Principal(key_id=5, project_id=9), uuid.uuid4()
    token = tokens.sign(principal, event, datetime.fromtimestamp(now[0], UTC))
    assert len(token) == TOKEN_LENGTH
    grant = tokens.verify(token)
    assert (grant.event_id, grant.principal) == (event, principal)
    now[0] += 59
    assert tokens.verify(token) == grant
    now[0] += 1
    with pytest.raises(Unauthorized, match="expired"):
        tokens.verify(token)
    other = FeedbackTokens(ttl_seconds=60, clock=lambda: 0.0)
    other.use_secret("another secret")
    with pytest.raises(Unauthorized, match="invalid"):
        other.verify(token)  # a server with another secret key


def test_limiter_tables_stay_bounded_under_a_flood() -> None:
    """Distinct addresses (or tokens) beyond the bound start the table afresh."""
    limiter = KeyRateLimiter((1, 60.0), max_buckets=100)

    async def flood() -> None:
        for n in range(10_000):
            await limiter.check(f"2001:db8:{n:x}::/64")
            assert len(limiter._buckets) <= 100

    asyncio.run(flood())
