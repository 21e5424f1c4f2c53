"""Dashboard page timings with 100,000 events stored (SQLite, the embedded default).

Run: .venv/bin/python bench/dashboard [--events 100000] [--repeat 30]

Seeds events through the batch API (sessions, end users, models, feedback), signs in, then times
each page (median and p95 of --repeat requests, on localhost, so close to server time) against
a trivial endpoint timed in the same run. Target: every page <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
PHOSPHO = [sys.executable, "-m", "app.cli"]
PASSWORD = "bench password 1"


def free_port() -> int:
    """A free TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(base: str, key: str, total: int) -> tuple[list[str], list[str]]:
    """Log `total` events in batches of 1000; returns some event ids and session ids."""
    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {key}"}
    event_ids: list[str] = []
    sessions = [f"sess-{n}" for n in range(total // 10)]
    with httpx.Client(timeout=120) as client:
        for start in range(0, total, 1000):
            events = [{
                "input": f"question {n} about topic {rng.randint(0, 500)} " + "lorem ipsum " * 10,
                "output": f"answer {n} " + "dolor sit amet " * 20,
                "session_id": sessions[n % len(sessions)],
                "user_id": f"user-{rng.randint(0, 999)}",
                "metadata": {"model": rng.choice(["gpt-4", "gpt-4o-mini", "claude-3"]),
                             "tokens_in": rng.randint(10, 900), "tokens_out": rng.randint(10, 900),
                             "latency_ms": rng.uniform(100, 5000)},
            } for n in range(start, min(start + 1000, total))]  # fmt: skip
            results = client.post(
                base + "/api/v1/events/batch", json={"events": events}, headers=headers
            )
            results.raise_for_status()
            ids = [r["event_id"] for r in results.json()["results"]]
            event_ids.extend(ids[:5])
            for event_id in ids[::50]:
                score = rng.randint(0, 1)
                client.post(f"{base}/api/v1/events/{event_id}/feedback", json={"score": score},
                            headers=headers).raise_for_status()  # fmt: skip
    return event_ids, sessions


def timed(client: httpx.Client, path: str, repeat: int) -> tuple[float, float]:
    """Median and p95 of GET `path`, in milliseconds."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code}")
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> int:
    """Seed, sign in, time the pages, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="phospho-bench-dash-"))
    port = free_port()
    env = {**os.environ, "PHOSPHO_DATA_DIR": str(data), "PYTHONPATH": str(REPO)}
    env.pop("PHOSPHO_DATABASE_URL", None)
    base = f"http://127.0.0.1:{port}"
    server = None
    try:
        key = subprocess.run([*PHOSPHO, "keys", "create", "--project", "bench"], env=env,
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        user = ["users", "create", "--email", "bench@example.com", "--password", PASSWORD]
        subprocess.run(
            [*PHOSPHO, *user, "--project", "bench"], env=env, check=True, capture_output=True
        )
        server = subprocess.Popen([*PHOSPHO, "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        for _ in range(100):
            try:
                if httpx.get(base + "/api/v1/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        started = time.perf_counter()
        event_ids, sessions = seed(base, key, args.events)
        print(f"seeded {args.events:,} events in {time.perf_counter() - started:.1f} s")
        with httpx.Client(base_url=base, headers={"Origin": base}, timeout=60) as client:
            client.post("/login", data={"email": "bench@example.com", "password": PASSWORD})
            pages = {
                "reference: GET /api/v1/health": "/api/v1/health",
                "events": "/events",
                "events, model filter": "/events?model=claude-3",
                "events, end-user filter": "/events?user=user-42",
                "events, negative feedback": "/events?feedback=negative",
                "events, text search": "/events?q=topic%20417",
                "event detail": f"/events/{event_ids[len(event_ids) // 2]}",
                "sessions": "/sessions",
                "session replay": f"/sessions/{sessions[3]}",
                "end users": "/users",
                "API keys": "/settings/keys",
            }
            print(f"\n{'page':<32}{'median ms':>10}{'p95 ms':>9}")
            worst = 0.0
            for name, path in pages.items():
                median, p95 = timed(client, path, args.repeat)
                if not name.startswith("reference"):
                    worst = max(worst, median)
                print(f"{name:<32}{median:>10.1f}{p95:>9.1f}")
        verdict = "PASS" if worst <= 100 else "FAIL"
        print(f"\ntarget: every page <= 100 ms (median) with {args.events:,} events: {verdict} "
              f"(slowest {worst:.1f} ms)")  # fmt: skip
        return 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
