"""The overview over HTTP: `phospho serve` on the seeded database, a signed-in client, and GET
of the overview page and its data, timed on localhost (close to server time).

The overview page is optional here: a path that does not answer 200 is reported, not timed.
"""

from __future__ import annotations

import time

import httpx

from bench.ingest.procs import PHOSPHO, Server
from bench.metrics.overview import Timing
from bench.metrics.seed import Database

EMAIL = "bench@example.com"
PASSWORD = "bench password 1"
REFERENCE = "/api/v1/health"
PATHS = (
    REFERENCE,
    "/overview/data?range=24h",
    "/overview/data?range=30d",
    "/?range=24h",
    "/?range=30d",
)


def serve(db: Database, name: str = "phospho", extra_env: dict[str, str] | None = None) -> Server:
    """`phospho serve` on `db` (not started), pinned to core 0 like bench/ingest's servers;
    an empty `db.url` means the data directory's embedded SQLite."""
    env = {"PHOSPHO_DATA_DIR": str(db.data_dir)}
    if db.url:
        env["PHOSPHO_DATABASE_URL"] = db.url
    return Server(
        name=name,
        argv=[str(PHOSPHO), "serve"],
        env={**env, **(extra_env or {})},
        log_path=db.data_dir / f"{name}.log",
    )


def time_pages(db: Database, repeat: int) -> dict[str, Timing | str]:
    """Per path: its timing, or why it was not timed (a status other than 200)."""
    server = serve(db)
    found: dict[str, Timing | str] = {}
    try:
        server.start()
        base = server.base_url
        with httpx.Client(base_url=base, headers={"Origin": base}, timeout=60) as client:
            client.post("/login", data={"email": EMAIL, "password": PASSWORD})
            for path in PATHS:
                found[path] = _time_get(client, path, repeat)
    finally:
        server.stop()
    return found


def _time_get(client: httpx.Client, path: str, repeat: int) -> Timing | str:
    status = client.get(path).status_code  # also the warm-up
    if status != 200:
        return f"not timed: HTTP {status}"
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return Timing(tuple(samples))
