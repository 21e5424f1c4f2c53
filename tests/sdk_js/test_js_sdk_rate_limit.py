"""The JavaScript SDK against a real server with a tiny per-key rate limit: it waits the
server's Retry-After after each 429 and stores every event exactly once (direct and batch)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Server, serving
from tests.sdk_js.test_js_sdk import built_sdk, node_env, run

__all__ = ["built_sdk"]  # the fixture, imported for this module's tests

RATE = 4  # PHOSPHO_RATE_LIMIT=4/second: Retry-After is 1 s

SCRIPT = """\
import { Phospho } from "%(sdk)s";
const direct = new Phospho({ maxRetries: 10 });
const ids = [];
for (let n = 0; n < 12; n++) {
  ids.push((await direct.log({ input: "q", output: `a${n}`, sessionId: "js-direct" })).eventId);
}
const batched = new Phospho({ maxRetries: 10, batch: { maxBatchSize: 3, flushIntervalMs: 10 } });
for (let n = 0; n < 30; n++) batched.log({ input: "q", output: `b${n}`, sessionId: "js-batch" });
const flushed = await batched.flush(30000);
console.log(JSON.stringify({ ids, flushed, stats: batched.stats() }));
"""


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A SQLite server that lets each key make 4 requests per second."""
    with serving(
        "sqlite", tmp_path_factory.mktemp("js-rate"), PHOSPHO_RATE_LIMIT=f"{RATE}/second"
    ) as srv:
        yield srv


def test_the_js_sdk_waits_out_429s_and_stores_each_event_once(
    limited: Server, built_sdk: Path, tmp_path: Path
) -> None:
    tenant = limited.new_tenant()
    script = tmp_path / "rate.mjs"
    script.write_text(SCRIPT % {"sdk": (built_sdk / "dist" / "esm" / "index.js").as_posix()})
    env = node_env(PHOSPHO_BASE_URL=limited.base_url, PHOSPHO_API_KEY=tenant.key)
    started = time.monotonic()
    out = json.loads(run(["node", str(script)], tmp_path, env, timeout=120).stdout)
    assert time.monotonic() - started >= 1.5  # waited Retry-After at least once
    assert out["flushed"] is True and len(set(out["ids"])) == 12, out
    rows = limited.query(
        "SELECT session_key, count(*), count(DISTINCT id) FROM events WHERE project_id = ? "
        "GROUP BY session_key",
        tenant.project_id,
    )
    assert sorted(rows) == [("js-batch", 30, 30), ("js-direct", 12, 12)], (rows, out)
