"""The JavaScript SDK (sdks/js) against a real server: its `node --test` suite, then the docs'
`app.ts` snippet, verbatim, compiled with tsc against the SDK installed from its `npm pack`
tarball. Both check in the database what was really stored.

Needs Node >= 18.19 and npm; `npm ci` runs here when node_modules is missing or stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs_snippets import DOCS_KEY, adapt, docs_text
from tests.harness import REPO, Server, Tenant

SDK = REPO / "sdks" / "js"
TSC = SDK / "node_modules" / "typescript" / "bin" / "tsc"
LOCK_MARKER = SDK / "node_modules" / ".phospho-lock-sha256"
BUILD_MARKER = SDK / "node_modules" / ".phospho-build-sha256"  # what dist/ was built from

# Rows the node suite stores per session id (`<scenario>-<run>`, see sdks/js/test/helpers.mjs).
# A retried event appears once: the SDK keeps its id across tries.
EXPECTED_SESSIONS = {
    "basic": 1,
    "wire": 1,
    "retry-503": 1,
    "retry-lost": 1,
    "retry-after": 1,
    "retry-statuses": 1,
    "batch": 25,
    "batch-partial": 2,
    "batch-exit": 1,
    "batch-feedback": 1,
    "log-batch": 3,
    "log-batch-many": 1001,
    "fields": 1,
    "fields-batch": 2,
    "send-feedback": 3,
}


# A CommonJS TypeScript app: type-checks against dist/cjs's declarations, runs with require().
COMMONJS_APP = """\
import { Phospho, ValidationError, type LogResult } from "phospho-sdk";

declare const process: { exitCode?: number };
declare const console: { log(...a: unknown[]): void; error(...a: unknown[]): void };

async function main(): Promise<void> {
  const phospho = new Phospho({ maxRetries: 0 });
  const result: LogResult = await phospho.log({ input: "cjs", output: "ok" });
  const bad = await phospho.log({ input: "x", output: "y", userId: "" }).catch((e) => e);
  if (!(bad instanceof ValidationError)) throw new Error(String(bad));
  console.log(result.eventId);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
"""


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command; fail the test with its output when it fails."""
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        output = f"{done.stdout[-8000:]}\n{done.stderr[-4000:]}"
        pytest.fail(f"{' '.join(args)} exited {done.returncode}\n{output}")
    return done


def node_env(**extra: str) -> dict[str, str]:
    """This process's environment without any PHOSPHO_ variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOSPHO_")}
    env.update(extra)
    return env


def build_sdk() -> Path:
    """sdks/js with its dev dependencies installed (npm ci) and `npm run build` done (once per
    session: tests/sdk_js/conftest.py)."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are needed for the JavaScript SDK")
    major = int(run(["node", "--version"], SDK).stdout.strip().lstrip("v").split(".")[0])
    assert major >= 18, "the JavaScript SDK and its tests need Node >= 18.19"
    lock = hashlib.sha256((SDK / "package-lock.json").read_bytes()).hexdigest()
    with npm_installing():
        if not LOCK_MARKER.exists() or LOCK_MARKER.read_text() != lock:
            run(["npm", "ci", "--no-audit", "--no-fund"], SDK, timeout=300)
            LOCK_MARKER.write_text(lock)
        # Built once for its sources: the build empties dist/ first, so a second worker
        # rebuilding would pull the files from under the other worker's running tests.
        sources = build_inputs_digest()
        built = (SDK / "dist" / "esm" / "index.js").exists() and BUILD_MARKER.exists()
        if not built or BUILD_MARKER.read_text() != sources:
            run(["npm", "run", "build"], SDK)
            BUILD_MARKER.write_text(sources)
    return SDK


def build_inputs_digest() -> str:
    """A digest of what `npm run build` reads: src/, the build script and configs."""
    digest = hashlib.sha256()
    inputs = [*sorted((SDK / "src").rglob("*")), SDK / "scripts" / "build.mjs"]
    inputs += [*sorted(SDK.glob("tsconfig*.json")), SDK / "package.json", SDK / "package-lock.json"]
    for path in inputs:
        if path.is_file():
            digest.update(path.relative_to(SDK).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@contextlib.contextmanager
def npm_installing() -> Iterator[None]:
    """Hold the one lock of the tests' in-place npm installs (sdks/js, tests/otlp/js): two
    pytest-xdist workers installing at once, from npm's one cache, broke an install."""
    with open(Path(tempfile.gettempdir()) / "phospho-tests-npm.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="module")
def built_sdk(js_sdk: Path) -> Path:
    """sdks/js, built (the session's build)."""
    return js_sdk


@pytest.fixture(scope="module")
def app_project(built_sdk: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh ESM project with the SDK installed from its `npm pack` tarball."""
    packed = tmp_path_factory.mktemp("js-pack")
    out = run(
        ["npm", "pack", "--ignore-scripts", "--json", "--pack-destination", str(packed)], built_sdk
    ).stdout
    (pack,) = json.loads(out)
    files = {entry["path"] for entry in pack["files"]}
    assert {"package.json", "README.md", "dist/cjs/package.json"} <= files
    for flavour in ("esm", "cjs"):
        assert {f"dist/{flavour}/index.js", f"dist/{flavour}/index.d.ts"} <= files
    assert all(path.startswith("dist/") for path in files - {"package.json", "README.md"}), files
    tarball = packed / pack["filename"]
    project = tmp_path_factory.mktemp("js-app")
    (project / "package.json").write_text('{"name": "docs-app", "private": true, "type": "module"}')
    # No @types/node and no skipLibCheck: the SDK's declarations must stand on their own.
    tsconfig = {
        "compilerOptions": {
            "target": "ES2022",
            "module": "NodeNext",
            "moduleResolution": "NodeNext",
            "strict": True,
            "skipLibCheck": False,
            "types": [],
        },
        "include": ["*.ts", "*.cts"],
    }
    (project / "tsconfig.json").write_text(json.dumps(tsconfig))
    run(["npm", "install", "--offline", "--no-audit", "--no-fund", str(tarball)], project)
    return project


@pytest.fixture
def sqlite_server(server: Server) -> Iterator[Server]:
    """The session's server when it is the SQLite one: the SDK does not depend on the backend."""
    if server.backend != "sqlite":
        pytest.skip("the JavaScript SDK runs against the SQLite server only")
    yield server


def docs_app_ts() -> str:
    """The JavaScript SDK's `app.ts` snippet, from its import to the end of the feedback call."""
    text = docs_text()
    begin = text.index('import { Phospho } from "phospho-sdk";')
    feedback = text.index("await phospho.feedback({", begin)
    return text[begin : text.index("});", feedback) + len("});")] + "\n"


def count_by_session(server: Server, project_id: int) -> dict[str, int]:
    """Stored events of a project, counted per session key."""
    rows = server.query(
        "SELECT session_key, count(*) FROM events WHERE project_id = ? GROUP BY session_key",
        project_id,
    )
    return {str(key): int(count) for key, count in rows}


def test_node_suite_passes_against_the_server(
    sqlite_server: Server, tenant: Tenant, built_sdk: Path
) -> None:
    run_id = secrets.token_hex(4)
    tests = sorted(str(p.relative_to(built_sdk)) for p in (built_sdk / "test").glob("*.test.*js"))
    assert len(tests) >= 5, tests
    env = node_env(
        PHOSPHO_BASE_URL=sqlite_server.base_url, PHOSPHO_API_KEY=tenant.key, PHOSPHO_TEST_RUN=run_id
    )
    done = run(["node", "--test", "--test-reporter=tap", *tests], built_sdk, env, timeout=180)
    summary = dict(re.findall(r"^# (tests|pass|fail) (\d+)$", done.stdout, re.MULTILINE))
    assert summary["fail"] == "0" and summary["pass"] == summary["tests"], summary
    assert int(summary["tests"]) >= 30, summary

    counts = count_by_session(sqlite_server, tenant.project_id)
    for scenario, expected in EXPECTED_SESSIONS.items():
        assert counts.get(f"{scenario}-{run_id}") == expected, (scenario, counts)

    event_id, user_id, model, latency = sqlite_server.query(
        "SELECT id, user_id, model, latency_ms FROM events WHERE session_key = ?",
        f"basic-{run_id}",
    )[0]
    assert (user_id, model, latency) == ("user_456", "gpt-4", 800.0)
    assert sorted(
        sqlite_server.query("SELECT score, comment FROM feedback WHERE event_id = ?", event_id),
        key=lambda row: row[0],
    ) == [(0, None), (1, "Great!")]
    assert sqlite_server.query(
        "SELECT f.score, f.comment FROM feedback f JOIN events e ON e.id = f.event_id "
        "WHERE e.session_key = ?",
        f"batch-feedback-{run_id}",
    ) == [(1, "queued")]
    (metadata,) = sqlite_server.query(
        "SELECT metadata FROM events WHERE session_key = ?", f"wire-{run_id}"
    )[0]
    assert json.loads(metadata) == {
        "model": "gpt-4",
        "latencyMs": 800,
        "nested": {"someKey": [1, "two", None]},
        "tokens_in": 3,
    }
    # tags, status and error (sdks/js/test/fields.test.mjs), as the server stored them.
    stored = sqlite_server.query(
        "SELECT e.session_key, e.status, e.error, (SELECT group_concat(t.tag, ',') FROM "
        "(SELECT tag FROM event_tags WHERE event_id = e.id ORDER BY id) t) FROM events e "
        "WHERE e.session_key IN (?, ?) ORDER BY e.created_at, e.id",
        f"fields-{run_id}", f"fields-batch-{run_id}",
    )  # fmt: skip
    assert stored == [
        (f"fields-{run_id}", "error", "timeout", "prod,eu"),
        (f"fields-batch-{run_id}", "ok", None, "x"),
        (f"fields-batch-{run_id}", "error", "boom", None),
    ]


def test_docs_app_ts_snippet_runs_verbatim(
    sqlite_server: Server, tenant: Tenant, app_project: Path
) -> None:
    snippet = docs_app_ts()
    assert DOCS_KEY in snippet
    code = adapt(snippet, sqlite_server.base_url, tenant.key)
    assert code == snippet.replace(DOCS_KEY, tenant.key)
    (app_project / "app.ts").write_text(code)
    run(["node", str(TSC), "-p", "."], app_project)
    # The snippet passes no baseUrl: the SDK takes it from the environment.
    run(["node", "app.js"], app_project, node_env(PHOSPHO_BASE_URL=sqlite_server.base_url))

    events = sqlite_server.query(
        "SELECT id, input, output, session_key, model, latency_ms FROM events WHERE project_id = ?",
        tenant.project_id,
    )
    assert [row[1:] for row in events] == [
        ("What's the weather?", "It's sunny today!", "sess_123", "gpt-4", 800.0)
    ]
    assert sqlite_server.query(
        "SELECT score, comment FROM feedback WHERE event_id = ? AND project_id = ?",
        events[0][0],
        tenant.project_id,
    ) == [(1, None)]


def test_packed_sdk_types_and_require_work_for_commonjs_apps(
    sqlite_server: Server, tenant: Tenant, app_project: Path
) -> None:
    (app_project / "main.cts").write_text(COMMONJS_APP)
    run(["node", str(TSC), "-p", "."], app_project)
    out = run(
        ["node", "main.cjs"],
        app_project,
        node_env(PHOSPHO_BASE_URL=sqlite_server.base_url, PHOSPHO_API_KEY=tenant.key),
    ).stdout.strip()
    assert sqlite_server.query("SELECT input FROM events WHERE id = ?", out) == [("cjs",)]
