"""Drive `wrk` (pinned to core 1) with a Lua script that POSTs JSON bodies with a Bearer key."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRK_CORE = "1"
MARKER = "BENCH_RESULT "

# Requests are built once per wrk thread in init(); request() cycles through them.
# done() prints exact figures as JSON (latency in microseconds).
_SCRIPT = """\
local bodies_file, key, path = "{bodies}", "{key}", "{path}"
local requests, index = {{}}, 0

function init(args)
  local headers = {{
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }}
  for line in io.lines(bodies_file) do
    requests[#requests + 1] = wrk.format("POST", path, headers, line)
  end
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{marker}{{"requests": %d, "duration_us": %d, "bytes": %d, "non2xx": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "timeout": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %f}}\\n',
    summary.requests, summary.duration, summary.bytes, e.status,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


class WrkMissing(RuntimeError):
    """wrk is not installed."""


def wrk_path() -> str:
    """The wrk executable, or WrkMissing with the install command."""
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissing("wrk is not installed: run `apt-get install -y wrk` (Debian package)")
    return found


@dataclass(frozen=True)
class Load:
    """What one wrk run sends: a Lua script for one endpoint and key."""

    script: Path
    path: str
    events_per_request: int


def write_load(workdir: Path, name: str, path: str, key: str, bodies: list[str]) -> Load:
    """Write the bodies and the Lua script for `path`; each body is one line."""
    bodies_file = workdir / f"{name}.jsonl"
    bodies_file.write_text("".join(body + "\n" for body in bodies))
    script = workdir / f"{name}.lua"
    script.write_text(_SCRIPT.format(bodies=bodies_file, key=key, path=path, marker=MARKER))
    events = len(json.loads(bodies[0]).get("events", [None]))
    return Load(script=script, path=path, events_per_request=events)


def run_wrk(base_url: str, load: Load, connections: int, seconds: int) -> dict[str, Any]:
    """Run wrk once (one thread, `connections` connections); returns its figures."""
    argv = [
        "taskset", "-c", WRK_CORE, wrk_path(), "-t1", f"-c{connections}", f"-d{seconds}s",
        "--timeout", "10s", "--latency", "-s", str(load.script), base_url + load.path,
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=seconds + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = [line for line in out.splitlines() if line.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.strip() or out.strip()}")
    figures: dict[str, Any] = json.loads(lines[-1][len(MARKER) :])
    ok = figures["requests"] - figures["non2xx"]
    seconds_run = figures["duration_us"] / 1e6
    figures.update(
        connections=connections,
        events_per_request=load.events_per_request,
        ok_requests=ok,
        req_s=figures["requests"] / seconds_run,
        events_s=ok * load.events_per_request / seconds_run,
    )
    return figures
