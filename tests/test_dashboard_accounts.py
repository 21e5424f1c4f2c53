"""Dashboard accounts over real HTTP: sign-up, login sessions, CSRF, API keys page."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import httpx
import pytest

from tests.harness import Server, make_server

AFTER_SIGN_UP = "/login?signed_up=1&next=/settings/keys"

PASSWORD = "correct horse battery"


def browser(server: Server) -> httpx.Client:
    """A client that keeps cookies and sends this server's Origin, as a browser's form post."""
    return httpx.Client(base_url=server.base_url, headers={"Origin": server.base_url}, timeout=30)


def sign_up(client: httpx.Client, email: str | None = None) -> str:
    """Sign up a fresh account and log in as the form leads to; returns its email."""
    email = email or f"user-{secrets.token_hex(4)}@example.com"
    response = client.post("/signup", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == AFTER_SIGN_UP
    form = client.get(AFTER_SIGN_UP)
    assert "Your account is ready" in form.text
    next_page = re.search(r'name="next" value="([^"]+)"', form.text)
    assert next_page and next_page.group(1) == "/settings/keys"
    login = {"email": email, "password": PASSWORD, "next": next_page.group(1)}
    logged_in = client.post("/login", data=login)
    assert logged_in.status_code == 303, logged_in.text
    assert logged_in.headers["location"] == "/settings/keys"
    return email


def signed_in(server: Server, client: httpx.Client) -> str:
    """Log `client` in to a new account made straight in the database (`new_account`) through
    the login form, as `sign_up` ends; returns its email. For tests about something else than
    sign-up: it saves sign-up's password hash."""
    email = server.new_account(PASSWORD)
    login = {"email": email, "password": PASSWORD, "next": "/settings/keys"}
    logged_in = client.post("/login", data=login)
    assert logged_in.status_code == 303, logged_in.text
    assert logged_in.headers["location"] == "/settings/keys"
    return email


def csrf_of(html: str) -> str:
    """The CSRF token embedded in a page's forms."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def create_key(client: httpx.Client) -> str:
    """Create a key on the keys page; returns the full key shown once."""
    token = csrf_of(client.get("/settings/keys").text)
    page = client.post("/settings/keys", data={"csrf_token": token, "name": "ci"})
    assert page.status_code == 201
    match = re.search(r'<code id="new-key">(ph_[^<]+)</code>', page.text)
    assert match, "the new key is not shown"
    return match.group(1)


def log_event(server: Server, key: str) -> int:
    """POST one event with `key`; returns the status code."""
    return httpx.post(
        server.base_url + "/api/v1/events",
        json={"input": "q", "output": "a"},
        headers={"Authorization": f"Bearer {key}"},
    ).status_code


def test_sign_up_get_a_key_log_an_event_revoke_it(server: Server) -> None:
    with browser(server) as client:
        email = sign_up(client)
        cookie = client.cookies.get("phospho_session")
        assert cookie and len(cookie) >= 32
        key = create_key(client)
        page = client.get("/settings/keys").text
        assert key not in page, "a key must be shown only once"
        assert key[:11] in page and email in page
        assert log_event(server, key) == 201
        token = csrf_of(page)
        assert (
            client.post(f"/settings/keys/{key[:11]}/revoke", data={"csrf_token": token}).status_code
            == 303
        )
        assert log_event(server, key) == 401
        assert "revoked" in client.get("/settings/keys").text


def test_the_new_key_page_shows_a_runnable_curl_command(server: Server) -> None:
    with browser(server) as client:
        sign_up(client)
        token = csrf_of(client.get("/settings/keys").text)
        page = client.post("/settings/keys", data={"csrf_token": token}).text
    assert f"curl -X POST {server.base_url}/api/v1/events" in page
    assert "Authorization: Bearer ph_" in page


def test_login_cookie_is_httponly_lax_and_rotated(server: Server) -> None:
    with browser(server) as client:
        email = sign_up(client)
        first = client.cookies.get("phospho_session")
        response = client.post("/login", data={"email": email, "password": PASSWORD})
        assert response.status_code == 303
        set_cookie = response.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=lax" in set_cookie
        second = client.cookies.get("phospho_session")
        assert second and second != first
    stale = httpx.get(server.base_url + "/settings/keys", cookies={"phospho_session": first or ""})
    assert stale.status_code == 303, "the old session must end when a new login rotates it"


def test_logout_deletes_the_session_server_side(server: Server) -> None:
    with browser(server) as client:
        sign_up(client)
        cookie = client.cookies.get("phospho_session") or ""
        token = csrf_of(client.get("/settings/keys").text)
        assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    replay = httpx.get(server.base_url + "/settings/keys", cookies={"phospho_session": cookie})
    assert replay.status_code == 303 and replay.headers["location"].startswith("/login")


def test_wrong_password_and_throttling(server: Server) -> None:
    with browser(server) as client:
        email = sign_up(client)
    with browser(server) as other:
        for _ in range(5):
            bad = other.post("/login", data={"email": email, "password": "wrong password"})
            assert bad.status_code == 401 and "wrong email or password" in bad.text
        sixth = other.post("/login", data={"email": email, "password": PASSWORD})
        assert sixth.status_code == 429, "this address is throttled on this account"
        assert 1 <= int(sixth.headers["retry-after"]) <= 900
        assert "try again in" in sixth.text
        unknown = other.post("/login", data={"email": "nobody@example.com", "password": "x" * 9})
        assert unknown.status_code == 401 and "wrong email or password" in unknown.text


def test_state_changes_need_the_csrf_token_and_same_origin(server: Server) -> None:
    with browser(server) as client:
        sign_up(client)
        token = csrf_of(client.get("/settings/keys").text)
        assert client.post("/settings/keys", data={"name": "x"}).status_code == 403
        assert (
            client.post("/settings/keys", data={"csrf_token": "forged", "name": "x"}).status_code
            == 403
        )
        foreign = client.post(
            "/settings/keys",
            data={"csrf_token": token, "name": "x"},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        page = client.get("/settings/keys").text
        assert "No API key yet" in page, "refused requests must not create keys"
        header = client.post("/settings/keys", data={"name": "y"}, headers={"X-CSRF-Token": token})
        assert header.status_code == 201, "htmx sends the token as a header"


def test_one_account_cannot_revoke_another_projects_key(server: Server) -> None:
    with browser(server) as alice, browser(server) as mallory:
        sign_up(alice)
        key = create_key(alice)
        sign_up(mallory)
        token = csrf_of(mallory.get("/settings/keys").text)
        response = mallory.post(f"/settings/keys/{key[:11]}/revoke", data={"csrf_token": token})
        assert response.status_code == 404
        assert key[:11] not in mallory.get("/settings/keys").text
    assert log_event(server, key) == 201


def test_pages_need_login_and_send_security_headers(server: Server) -> None:
    anonymous = httpx.get(server.base_url + "/settings/keys")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/settings/keys"
    page = httpx.get(server.base_url + "/login")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<label for="email">Email</label>' in page.text
    assert '<label for="password">Password</label>' in page.text


def test_login_never_redirects_off_site(server: Server) -> None:
    with browser(server) as client:
        email = sign_up(client)
        response = client.post(
            "/login", data={"email": email, "password": PASSWORD, "next": "//evil.example/x"}
        )
    assert response.headers["location"] == "/"


def test_untrusted_text_is_escaped(server: Server) -> None:
    with browser(server) as client:
        sign_up(client)
        token = csrf_of(client.get("/settings/keys").text)
        client.post(
            "/settings/keys", data={"csrf_token": token, "name": "<script>alert(1)</script>"}
        )
        page = client.get("/settings/keys").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_sign_up_can_be_closed(tmp_path: Path) -> None:
    srv = make_server("sqlite", tmp_path, PHOSPHO_SIGNUP_ENABLED="false")
    srv.start()
    try:
        with browser(srv) as client:
            assert "Sign-up is closed" in client.get("/signup").text
            refused = client.post("/signup", data={"email": "a@example.com", "password": PASSWORD})
            assert refused.status_code == 403
        srv.cli("users", "create", "--email", "admin@example.com", "--password", PASSWORD)
        with browser(srv) as client:
            ok = client.post("/login", data={"email": "admin@example.com", "password": PASSWORD})
            assert ok.status_code == 303
            assert client.get("/settings/keys").status_code == 200
    finally:
        srv.stop()


@pytest.mark.parametrize("password", ["short", ""])
def test_sign_up_explains_what_is_wrong(server: Server, password: str) -> None:
    with browser(server) as client:
        response = client.post("/signup", data={"email": "x@example.com", "password": password})
    assert response.status_code in (422, 400)


def tls_login(server: Server, email: str) -> httpx.Response:
    """Log in as a TLS-terminating proxy on this host would forward it."""
    with browser(server) as client:
        return client.post(
            "/login",
            data={"email": email, "password": PASSWORD},
            headers={
                "X-Forwarded-Proto": "https",
                "Origin": server.base_url.replace("http:", "https:"),
            },
        )


def test_login_cookie_is_secure_behind_a_trusted_proxy(tmp_path: Path) -> None:
    srv = make_server("sqlite", tmp_path, PHOSPHO_FORWARDED_ALLOW_IPS="127.0.0.1")
    srv.start()
    try:
        with browser(srv) as client:
            email = sign_up(client)
        response = tls_login(srv, email)
    finally:
        srv.stop()
    assert response.status_code == 303
    assert "secure" in response.headers["set-cookie"].lower()


def test_forwarded_headers_are_ignored_unless_a_proxy_is_trusted(server: Server) -> None:
    # By default nothing is trusted, not even 127.0.0.1: the request stays plain http, so
    # the https Origin is foreign (403) and no Secure cookie could be set.
    with browser(server) as client:
        email = sign_up(client)
    assert tls_login(server, email).status_code == 403
