"""Helpers for the exporter tests: run tests/otlp/emit.py against a real server, read events.

The exporter is configured the way the README tells users to: only the two standard environment
variables (`OTEL_EXPORTER_OTLP_ENDPOINT` = the server's address, `OTEL_EXPORTER_OTLP_HEADERS` =
`Authorization=Bearer%20ph_...`, percent-encoded as the OTel spec wants it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from tests.graphql_api.helpers import gql
from tests.harness import REPO, Server, Tenant

EVENTS = """
query Events($session: String) {
  events(first: 100, filter: {sessionId: $session}) {
    totalCount
    edges { node { id input output sessionId userId model tokensIn tokensOut latencyMs costUsd
                   createdAt metadata tags status } }
  }
}
"""


def otel_env(server: Server, key: str) -> dict[str, str]:
    """This environment without OTEL_/PHOSPHO_ variables, plus the two the README names."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PHOSPHO_"))}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=server.base_url,
        OTEL_EXPORTER_OTLP_HEADERS=f"Authorization=Bearer%20{key}",
        PYTHONPATH=str(REPO),
    )
    return env


def export_calls(
    instrumentation: str,
    openai_base: str,
    server: Server,
    tenant: Tenant,
    session: str,
    user: str,
    calls: int = 3,
    **extra_env: str,
) -> list[dict[str, Any]]:
    """Run `calls` chat completions under `instrumentation`; the spans the SDK exported."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.otlp.emit", instrumentation, "--openai-base", openai_base,
         "--calls", str(calls), "--session", session, "--user", user],
        env={**otel_env(server, tenant.key), **extra_env}, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    # The SDK's exporter logs (never raises) when the server refuses an export.
    assert "Failed to export" not in done.stderr, done.stderr[-4000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def stored_events(server: Server, tenant: Tenant, session: str) -> list[dict[str, Any]]:
    """A session's events as GraphQL serves them, oldest first."""
    data = gql(server, tenant, EVENTS, session=session)["events"]
    nodes = [edge["node"] for edge in data["edges"]]
    assert data["totalCount"] == len(nodes)
    return sorted(nodes, key=lambda node: node["createdAt"])
