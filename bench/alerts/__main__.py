"""Alert benchmark: the evaluator's cost per rule per pass, and the delivery latency.

1. Cost: N rules (10 per project, mixed metrics, models and windows) over projects of
   --events events each (four models, end users, feedback), in-process on a fresh database.
   A pass is `evaluate_once` (it runs once a minute): wall and CPU time (`process_time`, all
   threads: SQLite's reader thread too) per rule, median over --passes passes in the steady
   state (no state change: what almost every minute costs). The first pass (every rule
   changes state: its history row and claim written) is printed apart. Reference measured in
   the same run: one `rollups.metric_rows` read of one project's hour of minute rows, the read
   a rule costs at most once per (project, window).
2. Latency: one rule sending to a webhook on loopback, made to fire and resolve --transitions
   times (the window read at `now`, then 10 minutes on, empty); from the moment the claim's
   transaction has committed to the moment the receiver has the request, through the real
   delivery path (URL re-check, signing, httpx).

Run: .venv/bin/python -m bench.alerts [--rules 100 1000] [--postgres URL]
Progress goes to stderr, the report to stdout. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from app.db import apply_migrations, close_orm, init_orm
from app.services import rollups
from app.services.alerts import manage
from app.services.alerts.delivery import DeliverySettings, deliver
from app.services.alerts.evaluator import evaluate_once
from app.services.alerts.rules import check_rule
from app.services.ingest import Ingestor
from app.services.keys import Principal, create_api_key
from app.services.projects import get_or_create_project
from app.services.sql import dialect
from app.services.write_backends import write_backend_for
from app.settings import Settings

MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "local-llm")
RULE_SHAPES = [
    ("latency_p95", "5m", None, "gt", 1500.0), ("latency_p50", "1h", "gpt-4o", "gt", 800.0),
    ("error_rate", "5m", None, "gt", 0.2), ("negative_feedback_rate", "1h", None, "gt", 0.5),
    ("events", "5m", "local-llm", "lt", 1.0), ("cost", "24h", None, "gt", 100.0),
    ("cost_per_end_user", "1h", None, "gt", 5.0), ("unpriced_events", "24h", None, "gt", 1e6),
    ("latency_p95", "24h", "claude-3-5-sonnet", "gt", 9000.0), ("events", "1h", None, "gt", 1e6),
]  # fmt: skip


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def seed_project(ingestor: Ingestor, name: str, events: int) -> Principal:
    """A project with `events` events over four models and 20 end users, some feedback."""
    project = await get_or_create_project(name)
    key = await create_api_key(project.id)
    principal = Principal(key_id=key.key.id, project_id=project.id)
    for start in range(0, events, 500):
        batch = [
            {
                "input": "q", "output": "a", "user_id": f"u{i % 20}",
                "status": "error" if i % 17 == 0 else "ok",
                "metadata": {"model": MODELS[i % 4], "latency_ms": 100 + (i * 37) % 2000,
                             "tokens_in": 100, "tokens_out": 50},
            }
            for i in range(start, min(events, start + 500))
        ]  # fmt: skip
        results = await ingestor.log_events(principal, {"events": batch})
        for result in results[:: max(1, len(results) // 10)]:
            await ingestor.add_feedback(principal, str(result.event_id), {"score": 0})
    return principal


async def cost(rules: int, events: int, passes: int) -> None:
    """Section 1 for `rules` rules."""
    ingestor = Ingestor()
    await ingestor.start(write_backend_for(os.environ["BENCH_URL"]))
    try:
        projects = []
        for n in range(rules // 10):
            projects.append(await seed_project(ingestor, f"bench-{rules}-{n}", events))
            for metric, window, model, op, threshold in RULE_SHAPES:
                spec = check_rule(f"{metric} {window}", metric, window, op, threshold, model)
                await manage.create_rule(projects[-1].project_id, spec, [])
        note(f"seeded {len(projects)} projects x {events} events, {rules} rules")
        started, cpu = time.perf_counter(), time.process_time()
        first = await evaluate_once()
        first_wall, first_cpu = time.perf_counter() - started, time.process_time() - cpu
        walls, cpus = [], []
        for _ in range(passes):
            started, cpu = time.perf_counter(), time.process_time()
            report = await evaluate_once()
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
            assert not report.transitions
        ref = []
        now = datetime.now(UTC)
        for _ in range(passes):
            started = time.perf_counter()
            await rollups.metric_rows(
                dialect(), 60, projects[0].project_id, now - timedelta(hours=1), now
            )
            ref.append(time.perf_counter() - started)
        wall, cpu_s = statistics.median(walls), statistics.median(cpus)
        print(
            f"{rules} rules ({len(projects)} projects, {report.queries} rollup reads/pass): "
            f"steady pass wall {wall * 1000:.1f} ms, cpu {cpu_s * 1000:.1f} ms; per rule "
            f"wall {wall / rules * 1000:.3f} ms, cpu {cpu_s / rules * 1000:.3f} ms "
            f"(median of {passes}); first pass ({len(first.transitions)} changes) wall "
            f"{first_wall * 1000:.1f} ms, cpu {first_cpu * 1000:.1f} ms; reference: one "
            f"project's hour of minute rows read in {statistics.median(ref) * 1000:.2f} ms"
        )
    finally:
        await ingestor.stop()


class _Receiver(BaseHTTPRequestHandler):
    got: list[float] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        _Receiver.got.append(time.perf_counter())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


async def latency(transitions: int) -> None:
    """Section 2."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    ingestor = Ingestor()
    await ingestor.start(write_backend_for(os.environ["BENCH_URL"]))
    try:
        principal = await seed_project(ingestor, "bench-latency", 50)
        url = f"http://127.0.0.1:{httpd.server_address[1]}/hook"
        made = await manage.create_destination(
            principal.project_id, "hook", "webhook", url, allow_private=True
        )
        spec = check_rule("any events", "events", "5m", "gt", 0)
        await manage.create_rule(principal.project_id, spec, [made.destination.id])
        settings = DeliverySettings(allow_private=True, timeout=10, backoff=0.1)
        samples = []
        for n in range(transitions):
            at = datetime.now(UTC) + (timedelta(minutes=10) if n % 2 else timedelta())
            report = await evaluate_once(at)  # returns right after the claim's COMMIT
            committed = time.perf_counter()
            (transition,) = report.transitions
            before = len(_Receiver.got)
            await deliver(transition.delivery_ids[0], settings)
            assert len(_Receiver.got) == before + 1
            samples.append((_Receiver.got[-1] - committed) * 1000)
        print(
            f"delivery latency (commit of the change -> receiver has it), {transitions} "
            f"transitions: median {statistics.median(samples):.2f} ms, max {max(samples):.2f} ms"
        )
    finally:
        await ingestor.stop()
        httpd.shutdown()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rules", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--events", type=int, default=1000, help="events per project")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--transitions", type=int, default=10)
    parser.add_argument("--postgres", default="", help="an empty PostgreSQL database's URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as scratch:
        url = args.postgres or f"sqlite://{Path(scratch) / 'phospho.sqlite3'}"
        os.environ["BENCH_URL"] = url
        await apply_migrations(url)
        await init_orm(Settings(database_url=url, data_dir=Path(scratch)))
        try:
            print(f"database: {url.split(':', 1)[0]}; load: {os.getloadavg()[0]:.2f}")
            await latency(args.transitions)
            for rules in args.rules:
                await cost(rules, args.events, args.passes)
        finally:
            await close_orm()


if __name__ == "__main__":
    asyncio.run(main())
