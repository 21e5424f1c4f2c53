"""Sign-up and login answers do not tell which e-mail addresses have an account.

Sign-up answers the same for a new and a taken address (the owner of a taken one logs in);
a login fails the same way for an unknown address and a wrong password. Timings are compared
as the fastest of a few tries, the two kinds taking turns going first, with a generous bound:
an argon2 hash or check dominates both, and the answers that leaked took about 1 ms against
about 100 ms. The fastest try is the one the rest of a loaded machine disturbed least (a
median of five was 2x apart twice under CI's load); a leak shows in every try, the fastest
included.
"""

from __future__ import annotations

import re
import secrets
import statistics
import time
from collections.abc import Callable

import httpx

from tests.harness import Server
from tests.test_dashboard_accounts import AFTER_SIGN_UP, PASSWORD, browser, sign_up

TRIES = 5
ROUNDS = 3  # measured again when a round differs (assert_similar)
# Compared as sent (the length follows the body, which echoes the typed address).
SAME_HEADERS = {"location", "content-type", "retry-after", "set-cookie", "www-authenticate"}


def fresh_email() -> str:
    """An address nobody signed up with."""
    return f"probe-{secrets.token_hex(4)}@example.com"


def client_at(server: Server, address: str) -> httpx.Client:
    """A browser-like client connecting from `address` (each try from its own: no throttle)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.base_url, transport=transport, timeout=60,
                        headers={"Origin": server.base_url})  # fmt: skip


def timed(client: httpx.Client, path: str, email: str) -> tuple[httpx.Response, float]:
    """A form POST with `email` and a wrong password, and how long it took."""
    data = {"email": email, "password": "attacker password"}
    started = time.perf_counter()
    response = client.post(path, data=data)
    return response, time.perf_counter() - started


def comparable(response: httpx.Response, email: str) -> tuple[int, dict[str, str], str]:
    """What a prober sees, with the address it typed (echoed in a form) blanked out."""
    headers = {k: v for k, v in response.headers.items() if k in SAME_HEADERS}
    return response.status_code, headers, response.text.replace(email, "EMAIL")


def assert_similar(measure: Callable[[], tuple[list[float], list[float]]]) -> None:
    """The fastest tries of the two kinds within a factor of two of each other, in one of
    ROUNDS rounds of `measure`: a leak (no password hash for one kind) differs in every round,
    while a round that a busy machine (CI's other worker) slowed for one kind is measured
    again."""
    failures = []
    for _ in range(ROUNDS):
        first, second = measure()
        a, b = min(first), min(second)
        if 0.5 < a / b < 2:
            return
        shown = [f"{statistics.median(d) * 1000:.0f}" for d in (first, second)]
        failures.append(f"fastest {a * 1000:.0f} and {b * 1000:.0f} ms (medians {shown})")
    raise AssertionError("; ".join(failures))


def turns(kinds: tuple[str, str], n: int) -> tuple[str, str]:
    """Try `n`'s order: the two kinds take turns going first."""
    return kinds if n % 2 == 0 else (kinds[1], kinds[0])


def test_sign_up_answers_the_same_for_a_new_and_a_taken_address(server: Server) -> None:
    with browser(server) as owner:
        taken = sign_up(owner)
    seen: dict[str, set[str]] = {"new": set(), "taken": set()}

    def measure() -> tuple[list[float], list[float]]:
        durations: dict[str, list[float]] = {"new": [], "taken": []}
        for n in range(TRIES):
            for kind in turns(("new", "taken"), n):
                email = fresh_email() if kind == "new" else taken
                with browser(server) as prober:
                    response, took = timed(prober, "/signup", email)
                assert response.status_code == 303
                assert response.headers["location"] == AFTER_SIGN_UP
                seen[kind].add(repr(comparable(response, email)))
                durations[kind].append(took)
        return durations["new"], durations["taken"]

    assert_similar(measure)
    assert seen["new"] == seen["taken"] and len(seen["new"]) == 1, seen
    with browser(server) as client:
        wrong = client.post("/login", data={"email": taken, "password": "attacker password"})
        assert wrong.status_code == 401, "signing up again must not change the password"
        assert client.post("/login", data={"email": taken, "password": PASSWORD}).status_code == 303


def test_sign_up_rules_are_checked_the_same_way_for_a_taken_address(server: Server) -> None:
    with browser(server) as owner:
        taken = sign_up(owner)
    with browser(server) as prober:
        answers = [prober.post("/signup", data={"email": email, "password": "short"})
                   for email in (taken, fresh_email())]  # fmt: skip
    assert [answer.status_code for answer in answers] == [422, 422]
    errors = [re.search(r'role="alert">([^<]*)<', answer.text) for answer in answers]
    assert errors[0] and errors[1] and errors[0].group(1) == errors[1].group(1)


def test_a_failed_login_is_the_same_for_an_unknown_address_and_a_wrong_password(
    server: Server,
) -> None:
    with browser(server) as owner:
        known = sign_up(owner)
    seen: dict[str, set[str]] = {"unknown": set(), "wrong": set()}
    rounds = iter(range(ROUNDS))

    def measure() -> tuple[list[float], list[float]]:
        durations: dict[str, list[float]] = {"unknown": [], "wrong": []}
        base = 2 * TRIES * next(rounds)  # a client address per try (the login throttle)
        for n in range(TRIES):
            for i, kind in enumerate(turns(("unknown", "wrong"), n)):
                email = fresh_email() if kind == "unknown" else known
                with client_at(server, f"127.0.1.{base + 2 * n + i + 1}") as prober:
                    response, took = timed(prober, "/login", email)
                seen[kind].add(repr(comparable(response, email)))
                durations[kind].append(took)
        return durations["unknown"], durations["wrong"]

    assert_similar(measure)
    assert seen["unknown"] == seen["wrong"] and len(seen["wrong"]) == 1, seen
    assert "wrong email or password" in next(iter(seen["wrong"]))
