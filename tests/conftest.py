"""Shared fixtures: real servers (SQLite and, when selected, PostgreSQL) over HTTP.

`PHOSPHO_TEST_POSTGRES` (an admin URL such as postgres://postgres@127.0.0.1:5432/postgres)
adds PostgreSQL to every backend-parametrised test; each server gets a throwaway database.
"""

from __future__ import annotations

import compileall
import functools
import os
from collections.abc import Iterator
from typing import Any

import httpx._transports.default as httpx_transport
import pytest

from tests.harness import BACKENDS, REPO, Server, Tenant, serving

# Python packages of the checkout that the servers, CLI calls and SDK subprocesses import.
SOURCES = ("app", "models", "migrations", "web", "scripts", "sdks/python/phospho")


def pytest_configure(config: pytest.Config) -> None:
    """Compile the checkout's modules once, before any test. With PYTHONDONTWRITEBYTECODE set
    (CI machines set it) no process writes its bytecode, so each of the suite's ~300 server,
    CLI and SDK subprocesses compiled `app` again (~0.25 s of CPU each). Only the main
    process does it (not each xdist worker); the files are gitignored."""
    if not hasattr(config, "workerinput"):
        for source in SOURCES:
            compileall.compile_dir(REPO / source, quiet=2)
    if _by_file(config):
        config.option.loadscopereorder = False  # keep SLOW_FIRST's order (below)


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


# --- Parallel runs: `make test` runs `pytest -n 2 --dist loadfile` (pytest-xdist) ------------
# A file is one unit of work: its tests stay on one worker, in order, and share the file's
# module-scoped servers (a server per test per worker would cost more than it saves).
# Throwaway PostgreSQL databases, free ports and tmp_path are per worker already; the in-place
# npm installs take a lock (tests/sdk_js/test_js_sdk.py, npm_installing). Not `loadgroup`:
# schemathesis' tests keep their node ids, so its groups split tests/reliability/
# test_openapi_fuzz.py over both workers (and its last check skipped).
# The slowest files first (seconds per file measured on two workers), so that the two workers
# finish at about the same time: files are handed out in this order, then in collection order
# (a long file dealt last would run alone at the end).
SLOW_FIRST = [
    "tests/reliability/test_login_race.py",  # 82 s
    "tests/reliability/test_poison_pill.py",  # 68 s
    "tests/reliability/test_openapi_fuzz.py",  # 63 s
    "tests/sdk_js/test_js_sdk.py",  # 30 s, most of it the first `npm ci`
    "tests/otlp/test_exporters.py",  # 32 s
    "tests/test_admission_timeouts.py",  # 30 s
    "tests/test_dashboard_search_browser.py",  # 65-85 s (issue 20's browser tests: a
    "tests/test_dashboard_list_filters_browser.py",  # server per backend, forms driven)
    "tests/test_dashboard_tables_browser.py",
    "tests/test_overview_form_browser.py",
    "tests/test_settings_forms_browser.py",
    "tests/test_overview_charts_browser.py",
    "tests/test_alerts_forms_browser.py",
    "tests/test_dashboard_layout_browser.py",
    "tests/test_graphiql_browser.py",
    "tests/reliability/test_graphql_amplification.py",  # 30 s
    "tests/graphql_api/test_graphql_response_limit.py",  # 29 s
]


def _by_file(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "dist", "no") == "loadfile")


@pytest.hookimpl(tryfirst=True)  # after pytest's reordering by fixture, before xdist sends it
def pytest_collection_finish(session: pytest.Session) -> None:
    """Under `--dist loadfile`, hand out the SLOW_FIRST files first (a stable sort: the order
    within a file, and between the others, stays the collection's)."""
    if _by_file(session.config):
        rank = {path: index for index, path in enumerate(SLOW_FIRST)}
        session.items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
