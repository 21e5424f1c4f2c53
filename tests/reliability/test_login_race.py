"""The login throttle under a race, per address, per account, and behind a trusted proxy.

Clients connect from distinct loopback addresses (127.0.0.x: real sockets, no proxy), so the
server sees them as different clients, as it would different machines.

Counting argon2 checks: a login answers 401 only after its password was checked (a refused
attempt is a 429 before any check), and each checked failure leaves exactly one row in
`login_attempts` (refused ones delete theirs). Both counts are asserted; they cannot be met
by a throttle that reads the failure count before the check, as the one before this was.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness import BACKENDS, Server, start_server
from tests.test_dashboard_accounts import PASSWORD, browser, sign_up

LIMIT = 5  # PHOSPHO_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS's default
ACCOUNT_BUDGET = 8  # PHOSPHO_LOGIN_FAILURES_PER_ACCOUNT on the proxied server (default 100)


@pytest.fixture(scope="module", params=BACKENDS)
def db(request: pytest.FixtureRequest) -> str:
    """Each selected backend, once for the module."""
    return str(request.param)


@pytest.fixture(scope="module")
def server(db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own with the default login limits (the shared one keeps its budgets
    clean), admitting 256 requests at once: with the default 64, admission control answers
    most of a 150-request burst 503 before the throttle sees it, and the race is not run."""
    srv = start_server(db, tmp_path_factory.mktemp(f"login-{db}"), PHOSPHO_MAX_IN_FLIGHT="256")
    try:
        yield srv
    finally:
        srv.destroy()


@pytest.fixture(scope="module")
def proxied(db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server behind a trusted proxy on 127.0.0.1, with a small per-account budget."""
    srv = start_server(
        db, tmp_path_factory.mktemp(f"proxied-{db}"),
        PHOSPHO_FORWARDED_ALLOW_IPS="127.0.0.1",
        PHOSPHO_LOGIN_FAILURES_PER_ACCOUNT=str(ACCOUNT_BUDGET),
    )  # fmt: skip
    try:
        yield srv
    finally:
        srv.destroy()


def client_at(server: Server, address: str, **headers: str) -> httpx.Client:
    """A browser-like client whose connections come from `address`."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.base_url, transport=transport, timeout=60,
                        headers={"Origin": server.base_url, **headers})  # fmt: skip


def log_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    """POST the login form."""
    return client.post("/login", data={"email": email, "password": password})


def new_account(server: Server) -> str:
    """A fresh account (signed up from 127.0.0.1, which the tests below never throttle)."""
    with browser(server) as client:
        return sign_up(client)


def failures_kept(server: Server, email: str) -> int:
    """Rows left in login_attempts for an account: one per checked wrong password."""
    return int(server.query("SELECT count(*) FROM login_attempts WHERE email = ?", email)[0][0])


async def burst(server: Server, address: str, email: str, count: int) -> Counter[int]:
    """`count` wrong-password logins sent at once from `address`; their status codes."""
    transport = httpx.AsyncHTTPTransport(
        local_address=address, limits=httpx.Limits(max_connections=count)
    )
    async with httpx.AsyncClient(base_url=server.base_url, transport=transport, timeout=120,
                                 headers={"Origin": server.base_url}) as client:  # fmt: skip
        data = {"email": email, "password": "not the password"}
        answers = await asyncio.gather(*(client.post("/login", data=data) for _ in range(count)))
    return Counter(answer.status_code for answer in answers)


def test_150_concurrent_wrong_passwords_get_at_most_the_limit_of_checks(server: Server) -> None:
    email = new_account(server)
    started = time.perf_counter()
    statuses = asyncio.run(burst(server, "127.0.0.2", email, 150))
    elapsed = time.perf_counter() - started
    assert set(statuses) <= {401, 429} and sum(statuses.values()) == 150, statuses
    # At most the limit: concurrent attempts may refuse each other (each counts the others'
    # reserved rows), never admit one too many. Reading the count before the check let all 150.
    assert statuses[401] <= LIMIT, f"{statuses[401]} passwords checked, limit {LIMIT}"
    assert failures_kept(server, email) == statuses[401]
    print(f"150 concurrent attempts: {dict(statuses)} in {elapsed:.2f} s")
    with client_at(server, "127.0.0.2") as attacker:
        # Whatever the race left, the address gets exactly LIMIT checks in the window.
        more = [log_in(attacker, email, "guess").status_code for _ in range(LIMIT + 1)]
        assert more.count(401) == LIMIT - statuses[401] and more[-1] == 429, more
        refused = log_in(attacker, email, PASSWORD)
    assert refused.status_code == 429, "the throttled address is refused, even the right password"
    assert int(refused.headers["retry-after"]) >= 1
    assert failures_kept(server, email) == LIMIT


def test_the_limit_holds_across_server_processes(server: Server, tmp_path: Path) -> None:
    if server.backend != "postgres":
        pytest.skip("several server processes share a database only on PostgreSQL")
    second = Server("postgres", tmp_path, server.database_url)
    second.start()
    try:
        email = new_account(server)

        async def both() -> list[Counter[int]]:
            return await asyncio.gather(burst(server, "127.0.0.8", email, 75),
                                        burst(second, "127.0.0.8", email, 75))  # fmt: skip

        statuses = sum(asyncio.run(both()), Counter[int]())
    finally:
        second.stop()
    assert sum(statuses.values()) == 150 and statuses[401] <= LIMIT, statuses
    assert failures_kept(server, email) == statuses[401]


def test_the_owner_logs_in_from_another_address_while_an_attacker_is_throttled(
    server: Server,
) -> None:
    email = new_account(server)
    with client_at(server, "127.0.0.3") as attacker:
        statuses = [log_in(attacker, email, "guess").status_code for _ in range(LIMIT + 2)]
    assert statuses == [401] * LIMIT + [429, 429]
    with client_at(server, "127.0.0.4") as owner:
        answer = log_in(owner, email, PASSWORD)
        assert answer.status_code == 303 and owner.cookies.get("phospho_session")
        assert owner.get("/settings/keys").status_code == 200


def test_one_address_is_limited_across_accounts(server: Server) -> None:
    # 30 failures (the default per address) on 30 unknown accounts, under each account's own
    # limit: the 31st attempt from that address is refused, whatever the account.
    email = new_account(server)
    with client_at(server, "127.0.0.5") as sprayer:
        for n in range(30):
            assert log_in(sprayer, f"nobody-{n}@example.com", "guess").status_code == 401
        refused = log_in(sprayer, email, PASSWORD)
    assert refused.status_code == 429 and "retry-after" in refused.headers
    with client_at(server, "127.0.0.6") as owner:
        assert log_in(owner, email, PASSWORD).status_code == 303


def test_forwarded_addresses_are_ignored_without_a_trusted_proxy(server: Server) -> None:
    email = new_account(server)
    statuses = []
    for n in range(LIMIT + 1):  # a new X-Forwarded-For each time: it must not buy more tries
        with client_at(server, "127.0.0.7", **{"X-Forwarded-For": f"203.0.113.{n}"}) as client:
            statuses.append(log_in(client, email, "guess").status_code)
    assert statuses == [401] * LIMIT + [429]


def via_proxy(server: Server, client_address: str) -> httpx.Client:
    """A client whose requests a proxy on 127.0.0.1 forwards for `client_address`."""
    return client_at(server, "127.0.0.1", **{"X-Forwarded-For": client_address})


def test_a_trusted_proxys_forwarded_address_is_the_client(proxied: Server) -> None:
    email = new_account(proxied)
    with via_proxy(proxied, "198.51.100.1") as attacker:
        statuses = [log_in(attacker, email, "guess").status_code for _ in range(LIMIT + 1)]
    assert statuses == [401] * LIMIT + [429], "the proxy's own address would be throttled"
    with via_proxy(proxied, "198.51.100.2") as owner:
        assert log_in(owner, email, PASSWORD).status_code == 303


def test_past_the_account_budget_each_address_fails_once(proxied: Server) -> None:
    # A guesser with many addresses, each under its own limit, exhausts the account's budget.
    email = new_account(proxied)
    for n in range(ACCOUNT_BUDGET + 1):  # past the budget, an address's first failure passes
        with via_proxy(proxied, f"192.0.2.{n}") as guesser:
            assert log_in(guesser, email, "guess").status_code == 401
    with via_proxy(proxied, f"192.0.2.{ACCOUNT_BUDGET}") as again:
        assert log_in(again, email, "guess").status_code == 429, "its second is refused"
    with via_proxy(proxied, "192.0.2.99") as owner:
        assert log_in(owner, email, PASSWORD).status_code == 303, "an address that never failed"


def test_ipv6_clients_share_a_budget_per_64() -> None:
    from app.services.login_throttle import address_key

    assert (
        address_key("2001:db8:1:2::1")
        == address_key("2001:db8:1:2:ffff::9")
        == ("2001:db8:1:2::/64")
    )
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key(None) == "unknown"
