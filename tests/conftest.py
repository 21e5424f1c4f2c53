"""Shared fixtures: real servers (SQLite and, when selected, PostgreSQL) over HTTP.

`PHOSPHO_TEST_POSTGRES` (an admin URL such as postgres://postgres@127.0.0.1:5432/postgres)
adds PostgreSQL to every backend-parametrised test; each server gets a throwaway database.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from typing import Any

import httpx._transports.default as httpx_transport
import pytest

from tests.harness import BACKENDS, Server, Tenant, serving


@pytest.fixture(scope="session", autouse=True)
def _one_tls_context_for_every_httpx_client() -> Iterator[None]:
    """Every `httpx.get`/`httpx.post` builds a client, and each client an SSL context that
    loads certifi's bundle: ~30 ms per call, thousands of calls in the suite, for servers
    reached over plain HTTP. The tests' clients share one context per set of arguments
    (an SSLContext is safe to share); nothing else about a client changes."""
    original = getattr(httpx_transport, "create_ssl_context", None)
    if original is None:  # another httpx: no speed-up, nothing else changes
        yield
        return

    @functools.lru_cache(maxsize=8)
    def cached(verify: bool, trust_env: bool, env: tuple[str | None, str | None]) -> Any:
        return original(verify=verify, trust_env=trust_env)  # `env`: only part of the key

    def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if not isinstance(verify, bool) or cert is not None:
            return original(verify=verify, cert=cert, trust_env=trust_env)
        env = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        return cached(verify=verify, trust_env=trust_env, env=env)

    setattr(httpx_transport, "create_ssl_context", create_ssl_context)  # noqa: B010
    yield
    setattr(httpx_transport, "create_ssl_context", original)  # noqa: B010


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A running server shared by the session, one per backend."""
    with serving(request.param, tmp_path_factory.mktemp(f"server-{request.param}")) as srv:
        yield srv


@pytest.fixture
def tenant(server: Server) -> Tenant:
    """A fresh project with its own API key on the shared server."""
    return server.new_tenant()


@pytest.fixture
def other_tenant(server: Server) -> Tenant:
    """A second, unrelated project on the same server."""
    return server.new_tenant()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each selected backend, for tests that start their own servers."""
    return str(request.param)


def pytest_report_header() -> str:
    """Say which backends run, so a run without PostgreSQL is visible."""
    pg = "on" if os.environ.get("PHOSPHO_TEST_POSTGRES") else "off (set PHOSPHO_TEST_POSTGRES)"
    return f"phospho backends: {', '.join(BACKENDS)}; PostgreSQL {pg}"
