"""`phospho export` beside a running server (SQLite and PostgreSQL): the same bytes as the API,
the list's filters, `--out` created 0600, and a rich progress bar only on a terminal (a pty
from Python's `pty` module stands in for one)."""

from __future__ import annotations

import csv
import io
import os
import pty
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.services.export_sql import FIELDS
from tests.harness import Server, Tenant
from tests.test_export import EXPORT, lines, log


@pytest.fixture(scope="module")
def project(server: Server) -> tuple[str, Tenant]:
    """A named project with a few events, two of them bob's."""
    name = "cli-" + secrets.token_hex(4)
    tenant = server.new_tenant(name)
    log(server, tenant, [
        {"input": "one,\n\"two\"", "output": "🙂", "user_id": "bob", "metadata": {"n": 2**62}},
        {"input": "=cmd", "output": "b", "user_id": "carol"},
        {"input": "three", "output": "c", "user_id": "bob", "tags": ["t"]},
    ])  # fmt: skip
    return name, tenant


def api_bytes(server: Server, tenant: Tenant, **params: str) -> bytes:
    response = httpx.get(server.base_url + EXPORT, params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.content


def test_out_file_is_private_and_holds_what_the_api_gives(
    server: Server, project: tuple[str, Tenant], tmp_path: Path
) -> None:
    name, tenant = project
    out = tmp_path / "events.jsonl"
    out.write_text("older, readable by all")
    out.chmod(0o644)
    done = server.cli("export", "--project", name, "--out", str(out))
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.read_bytes() == api_bytes(server, tenant)
    assert len(lines(httpx.Response(200, content=out.read_bytes()))) == 3
    assert f"exported 3 events of project {name!r}" in done.stderr
    assert "\x1b" not in done.stderr and "exporting" not in done.stderr  # not a terminal

    fresh = tmp_path / "bob.csv"
    server.cli("export", "--project", name, "--format", "csv", "--user-id", "bob",
               "--out", str(fresh))  # fmt: skip
    assert fresh.stat().st_mode & 0o777 == 0o600
    assert fresh.read_bytes() == api_bytes(server, tenant, format="csv", user_id="bob")
    records = list(csv.reader(io.StringIO(fresh.read_text(encoding="utf-8"), newline="")))
    assert records[0] == list(FIELDS)
    assert [r[FIELDS.index("input")] for r in records[1:]] == ['one,\n"two"', "three"]


def test_stdout_when_piped_and_errors_are_one_line(
    server: Server, project: tuple[str, Tenant]
) -> None:
    name, tenant = project
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "export", "--project", name, "--since", "2000-01-01"],
        env=server.env, capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert done.stdout == api_bytes(server, tenant, since="2000-01-01")
    bad = server.cli("export", "--project", name, "--feedback", "meh", check=False)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.strip() == "error: feedback must be positive, negative or none"
    unknown = server.cli("export", "--project", "no-such-" + name, check=False)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr


def test_progress_bar_on_a_terminal(
    server: Server, project: tuple[str, Tenant], tmp_path: Path
) -> None:
    name, tenant = project
    out = tmp_path / "tty.jsonl"
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "export", "--project", name, "--out", str(out)],
        env={**server.env, "TERM": "xterm-256color", "COLUMNS": "100"},
        stdin=terminal, stdout=terminal, stderr=terminal,
    )  # fmt: skip
    os.close(terminal)
    shown = b""
    while True:
        try:
            data = os.read(controller, 4096)
        except OSError:  # EIO: the process closed the terminal
            break
        if not data:
            break
        shown += data
    assert proc.wait(timeout=120) == 0
    os.close(controller)
    text = shown.decode(errors="replace")
    assert "exporting" in text and "3/3" in text, text  # rich's bar with its M/N column
    assert "━" in text  # the bar itself
    assert out.read_bytes() == api_bytes(server, tenant)
