"""API-key authentication, tenant isolation, revocation, and body-size limits."""

from __future__ import annotations

import http.client
import time

import httpx
import pytest

from tests.harness import Server, Tenant

EVENT = {"input": "q", "output": "a"}


def post_events(server: Server, headers: dict[str, str], body: object = EVENT) -> httpx.Response:
    """POST one event with arbitrary headers."""
    return httpx.post(server.base_url + "/api/v1/events", json=body, headers=headers)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic cGg6eA=="},
        {"Authorization": "Bearer not_a_phospho_key"},
        {"Authorization": "Bearer ph_unknownkeyunknownkeyunknownkey0000000"},
        {"Authorization": "Bearer ph_" + "x" * 500},
        {"Authorization": "bearer ph_"},
    ],
    ids=["missing", "empty", "no-key", "basic", "wrong-prefix", "unknown", "huge", "blank"],
)
def test_every_bad_credential_gets_the_same_401(server: Server, headers: dict[str, str]) -> None:
    response = post_events(server, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    reference = post_events(server, {})
    assert response.json() == reference.json()


def test_401_comes_before_body_validation(server: Server) -> None:
    response = httpx.post(server.base_url + "/api/v1/events", content=b"{bad json")
    assert response.status_code == 401


def test_revoked_key_gets_401_from_the_next_request(server: Server) -> None:
    created = server.cli("keys", "create", "--project", "revocation", "--name", "ci")
    key = created.stdout.strip()
    headers = {"Authorization": f"Bearer {key}"}
    assert post_events(server, headers).status_code == 201
    server.cli("keys", "revoke", key[:11])
    revoked = post_events(server, headers)
    assert revoked.status_code == 401
    assert revoked.json() == post_events(server, {}).json()
    listing = server.cli("keys", "list", "--project", "revocation").stdout
    assert key[:11] in listing and "revoked" in listing
    assert key not in listing


def test_key_use_is_recorded_as_last_used(server: Server) -> None:
    key = server.cli("keys", "create", "--project", "last-used").stdout.strip()
    assert "never" in server.cli("keys", "list", "--project", "last-used").stdout
    assert post_events(server, {"Authorization": f"Bearer {key}"}).status_code == 201
    assert "never" not in server.cli("keys", "list", "--project", "last-used").stdout


def test_keys_are_stored_only_as_hashes(server: Server) -> None:
    key = server.cli("keys", "create", "--project", "hashing").stdout.strip()
    assert key.startswith("ph_") and len(key) >= 3 + 32
    rows = server.query(
        "SELECT prefix, key_hash FROM api_keys k JOIN projects p ON p.id = k.project_id "
        "WHERE p.name = ?",
        "hashing",
    )
    assert rows and rows[0][0] == key[:11]
    assert key not in rows[0][1] and len(rows[0][1]) == 64


def test_one_tenant_cannot_touch_another_tenants_event(
    server: Server, tenant: Tenant, other_tenant: Tenant
) -> None:
    event = post_events(server, tenant.headers).json()
    response = httpx.post(
        f"{server.base_url}/api/v1/events/{event['event_id']}/feedback",
        json={"score": 1},
        headers=other_tenant.headers,
    )
    assert response.status_code == 404


def test_body_over_the_limit_is_413_and_stores_nothing(server: Server, tenant: Tenant) -> None:
    big = {"input": "x" * (1024 * 1024 + 1), "output": "a"}
    response = post_events(server, tenant.headers, big)
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    assert (
        post_events(server, tenant.headers, {"input": "x" * 1000_000, "output": "a"}).status_code
        == 201
    )
    assert len(server.event_rows(tenant.project_id)) == 1


def test_chunked_body_over_the_limit_is_413(server: Server, tenant: Tenant) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"input": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'", "output": "a"}'

    response = httpx.post(
        server.base_url + "/api/v1/events", content=chunks(), headers=tenant.headers
    )
    assert response.status_code == 413
    assert server.event_rows(tenant.project_id) == []


def test_content_length_lie_is_refused_without_waiting(server: Server, tenant: Tenant) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    started = time.monotonic()
    conn.putrequest("POST", "/api/v1/events")
    conn.putheader("Authorization", tenant.headers["Authorization"])
    conn.putheader("Content-Length", str(50 * 1024 * 1024))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413
    assert time.monotonic() - started < 5
    conn.close()


def test_batch_endpoint_accepts_bodies_larger_than_one_event(
    server: Server, tenant: Tenant
) -> None:
    events = [{"input": "z" * 20_000, "output": "a"} for _ in range(100)]  # ~2 MB
    response = httpx.post(
        server.base_url + "/api/v1/events/batch",
        json={"events": events},
        headers=tenant.headers,
        timeout=60,
    )
    assert response.status_code == 201
    assert len(server.event_rows(tenant.project_id)) == 100
