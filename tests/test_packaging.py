"""Packaging: an installed server must still find its migrations, templates and static files.

The wheel is built from a scratch copy of the checkout (so no `build/` or egg-info lands in the
repo and no stale build output leaks in), installed with `pip --target` into a temporary
directory, and run from a directory that is not the checkout, with only that directory on
PYTHONPATH: the checkout's own `app/`, `models/` and `web/` must not be what gets imported.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.harness import REPO, free_port

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(180)]

# Never copied into the scratch checkout: local state, caches and build output.
SKIP_ANYWHERE = {".git", ".venv", "__pycache__", "node_modules", "build", "dist"}
SKIP_AT_ROOT = {"data", "test-artifacts", ".pytest_cache", ".mypy_cache", ".ruff_cache"}

# Files that an installed server reads at run time, relative to the checkout, and where the
# wheel must hold them.
DATA_DIRS = {
    "migrations/sqlite/models": "app/migrations/sqlite/models",
    "migrations/postgres/models": "app/migrations/postgres/models",
    "web/templates": "web/templates",
    "web/static": "web/static",
}


@dataclass(frozen=True)
class Installed:
    """A wheel installed with `pip --target` into `site`."""

    wheel: Path
    site: Path


def _ignore(directory: str, names: list[str]) -> set[str]:
    skip = {n for n in names if n in SKIP_ANYWHERE or n.endswith(".egg-info") or ".sqlite3" in n}
    if Path(directory) == REPO:
        skip |= SKIP_AT_ROOT & set(names)
    return skip


def run(
    args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command, failing with its output when it fails."""
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel from a copy of the checkout and install it into a scratch directory."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "src"
    shutil.copytree(REPO, source, ignore=_ignore)
    assert (source / "tests").is_dir()  # kept on purpose: the wheel must leave it out
    (source / "graphql").mkdir(exist_ok=True)
    (source / "graphql" / "packaging_probe.graphql").write_text("type Query { ok: Boolean }\n")

    dist = root / "dist"
    run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=source,
    )
    wheels = list(dist.glob("*.whl"))
    assert len(wheels) == 1, wheels
    site = root / "site"
    run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--quiet",
         "--disable-pip-version-check", "--target", str(site), str(wheels[0])]
    )  # fmt: skip
    return Installed(wheel=wheels[0], site=site)


def installed_env(site: Path, data_dir: Path) -> dict[str, str]:
    """The environment of a process that may import only the installed copy of phospho."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("PHOSPHO_") and k != "PYTHONPATH"
    }
    env.update(PYTHONPATH=str(site), PHOSPHO_DATA_DIR=str(data_dir))
    return env


def test_wheel_leaves_out_graphql_and_tests(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
    top_level = {name.split("/", 1)[0] for name in names}
    # A top-level `graphql` package would shadow graphql-core, which strawberry imports.
    assert not [n for n in names if n.startswith("graphql/")]
    assert not [n for n in names if n.startswith("tests/")]
    assert {"app", "models", "web"} <= top_level
    assert not top_level & {"graphql", "tests", "migrations", "scripts", "bench", "sdks"}


def test_wheel_ships_migrations_templates_and_static(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    for source, target in DATA_DIRS.items():
        files = [
            p for p in (REPO / source).rglob("*") if p.is_file() and "__pycache__" not in p.parts
        ]
        assert files, f"nothing in {source}"
        for path in files:
            expected = f"{target}/{path.relative_to(REPO / source).as_posix()}"
            assert expected in names, f"{expected} is missing from the wheel"


def wait_until_up(proc: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    """Wait for /api/v1/health to answer 200, failing early if the server exits."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(base_url + "/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"server did not start:\n{log.read_text(errors='replace')}")


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A working directory outside the checkout."""
    work = tmp_path / "work"
    work.mkdir()
    assert REPO not in work.resolve().parents
    yield work


def test_installed_server_migrates_and_serves(
    installed: Installed, workdir: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = installed_env(installed.site, data_dir)

    # Only the installed copy is importable, and it finds its files next to itself.
    probe = run(
        [sys.executable, "-c",
         "import app, app.cli, app.migrations, models, web\n"
         "from app.db import migrations_dir\n"
         "for path in (app.__file__, app.migrations.__file__, models.__file__, web.__file__,\n"
         "             migrations_dir('sqlite'), migrations_dir('postgres'),\n"
         "             web.TEMPLATES_DIR, web.STATIC_DIR):\n"
         "    print(path)"],
        cwd=workdir, env=env,
    )  # fmt: skip
    site = installed.site.resolve()
    for line in probe.stdout.splitlines():
        path = Path(line).resolve()
        assert site in path.parents, f"{path} is not from the installed wheel"
        assert path.exists(), path

    migrate = run([sys.executable, "-m", "app.cli", "migrate"], cwd=workdir, env=env)
    assert "applied: 0_" in migrate.stderr
    # The console script installed with the wheel works too (and has nothing left to do).
    again = run([str(installed.site / "bin" / "phospho"), "migrate"], cwd=workdir, env=env)
    assert "database is up to date" in again.stderr

    database = data_dir / "phospho.sqlite3"
    with sqlite3.connect(database) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        versions = [r[0] for r in conn.execute("SELECT version FROM aerich ORDER BY id")]
    conn.close()
    assert {"projects", "users", "memberships", "api_keys", "sessions", "events", "feedback"} <= (
        tables
    )
    shipped = sorted(p.name for p in (REPO / "migrations" / "sqlite" / "models").glob("[0-9]*.py"))
    assert sorted(versions) == shipped

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(proc, base_url, log)
        page = httpx.get(base_url + "/", timeout=10)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "phospho" in page.text
        assert "/static/style.css" in page.text
        css = httpx.get(base_url + "/static/style.css", timeout=10)
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        assert css.content == (REPO / "web" / "static" / "style.css").read_bytes()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # uvicorn re-raises the SIGTERM it handled once shutdown is complete.
    assert proc.returncode in (0, -signal.SIGTERM), log.read_text(errors="replace")
