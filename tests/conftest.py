"""Shared fixtures: real servers (SQLite and, when selected, PostgreSQL) over HTTP.

`PHOSPHO_TEST_POSTGRES` (an admin URL such as postgres://postgres@127.0.0.1:5432/postgres)
adds PostgreSQL to every backend-parametrised test; each server gets a throwaway database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.harness import BACKENDS, Server, Tenant, serving


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
