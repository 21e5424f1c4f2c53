"""Command line of `python -m bench.live` (what it measures: __main__.py)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.ingest.procs import PHOSPHO, Server, cpu_seconds, create_key
from bench.live import clients, stalls
from bench.metrics.seed import _create_pg_database, _drop_pg_database
from bench.scaleout.servers import prepare

EMAIL, PASSWORD = "live@example.com", "bench password 1"
CLIENT_CORE = 1
TARGET_P99_MS = 20.0  # 500 events/s, 10 subscribers (issue 24)
TARGET_CPU_MS = 0.1  # server CPU per delivered event


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options; --full is the whole matrix, --quick a smoke run."""
    parser = argparse.ArgumentParser(prog="python -m bench.live")
    parser.add_argument("--postgres", metavar="ADMIN_URL",
                        help="a database is made next to this one, dropped after")  # fmt: skip
    parser.add_argument("--rates", default="500", help="events/s posted (default 500)")
    parser.add_argument("--subscribers", default="1,10", help="subscriber counts (default 1,10)")
    parser.add_argument("--kinds", default="graphql,sse", help="graphql, sse or both")
    parser.add_argument("--seconds", type=float, default=8, help="each measured run")
    parser.add_argument("--full", action="store_true",
                        help="rates 500,2000; 1, 10 and 100 subscribers; both kinds")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 s, 1 subscriber")
    parser.add_argument("--profile", metavar="DIR",
                        help="py-spy the server in each run (collapsed stacks in DIR)")  # fmt: skip
    parser.add_argument("--pauses", action="store_true",
                        help="record the server's loop stalls and collections")  # fmt: skip
    args = parser.parse_args(argv)
    if args.full:
        args.rates, args.subscribers, args.kinds = "500,2000", "1,10,100", "graphql,sse"
    if args.quick:
        args.seconds, args.subscribers = 2, "1"
    args.rates = [int(n) for n in args.rates.split(",")]
    args.subscribers = [int(n) for n in args.subscribers.split(",")]
    args.kinds = args.kinds.split(",")
    return args


def log(*parts: object) -> None:
    """Progress, on stderr."""
    print(*parts, file=sys.stderr, flush=True)


def start_server(work: Path, url: str | None, pauses: Path | None = None) -> tuple[Server, str]:
    """A project with a key and a dashboard user, and `phospho serve` on it (core 0); with
    `pauses`, the server records its pauses there."""
    data = work / "data"
    env = {"PHOSPHO_DATA_DIR": str(data)}
    if url is not None:
        env["PHOSPHO_DATABASE_URL"] = url
        key = prepare(url, data)
    else:
        os.environ.pop("PHOSPHO_DATABASE_URL", None)
        key = create_key(data)
    user = ["users", "create", "--email", EMAIL, "--password", PASSWORD, "--project", "bench"]
    subprocess.run([str(PHOSPHO), *user], env={**os.environ, **env}, check=True,
                   capture_output=True)  # fmt: skip
    if pauses is not None:
        env |= stalls.server_env(pauses)
    server = Server("phospho", [str(PHOSPHO), "serve"], env, work / "serve.log")
    server.start()
    return server, key


def login_cookie(base_url: str) -> str:
    """Sign in to the dashboard; the Cookie header of the session."""
    with httpx.Client(base_url=base_url, headers={"Origin": base_url}) as client:
        client.post("/login", data={"email": EMAIL, "password": PASSWORD})
        token = client.cookies.get("phospho_session")
    if not token:
        raise RuntimeError("could not sign in to the dashboard")
    return f"phospho_session={token}"


async def scenario(
    server: Server, key: str, cookie: str, kind: str, count: int, rate: int, seconds: float,
    profile: str | None = None, pauses: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One measured run: `count` subscribers of `kind` while `rate` events/s are posted."""
    watchers = await clients.open_watchers(kind, count, server.base_url, server.port, key, cookie)
    conns = [
        await asyncio.open_connection("127.0.0.1", server.port) for _ in range(clients.CONNECTIONS)
    ]
    try:
        await clients.wait_live(watchers, conns, server.port, key)
        cpu_before = cpu_seconds(server.pid)
        window_start = time.monotonic()
        spy = None
        if profile:
            out = Path(profile) / f"{kind}-{count}-{rate}.txt"
            argv = [str(PHOSPHO.parent / "py-spy"), "record", "--format", "raw", "-r", "200",
                    "-d", str(int(seconds)), "-o", str(out), "-p", str(server.pid)]  # fmt: skip
            spy = subprocess.Popen(  # noqa: ASYNC220 (started here, awaited in a thread below)
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        answered, errors, took, ingest = await clients.post_at_rate(
            conns, server.port, key, rate, seconds
        )
        await clients.settle(watchers, answered, 10.0)
        cpu = cpu_seconds(server.pid) - cpu_before
        window_end = time.monotonic()
        if spy is not None:
            await asyncio.to_thread(spy.wait)
    finally:
        await clients.close_watchers(watchers)
        for _, writer in conns:
            writer.close()
    ingest.sort()
    q = statistics.quantiles(ingest, n=100, method="inclusive")
    out = {
        "kind": kind if count else "none", "subscribers": count, "rate": rate,
        "posted": len(answered), "achieved": len(answered) / took, "errors": errors,
        "ingest_p50_ms": q[49], "ingest_p99_ms": q[98], "ingest_max_ms": ingest[-1],
        "cpu_s": cpu, "cpu_ms_per_posted": 1000 * cpu / max(len(answered), 1),
    }  # fmt: skip
    out.update(clients.figures(watchers, answered))
    if pauses is not None:
        out["pauses"] = stalls.summarise(pauses, window_start, window_end)
    return out


def with_costs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Server CPU per delivered event: the run's CPU minus the reference's (no subscriber, same
    rate) for as many posted events, divided by the deliveries."""
    refs = {row["rate"]: row for row in rows if row["subscribers"] == 0}
    for row in rows:
        ref = refs.get(row["rate"])
        if row["subscribers"] and ref is not None and row["delivered"]:
            extra = row["cpu_s"] - ref["cpu_ms_per_posted"] / 1000 * row["posted"]
            row["cpu_ms_per_delivered"] = 1000 * extra / row["delivered"]
    return rows


def table(rows: list[dict[str, Any]], args: argparse.Namespace, database: str) -> str:
    """The printed report."""
    out = [
        f"bench/live: {database}, server pinned to core 0, client on core {CLIENT_CORE}, "
        f"{args.seconds:.0f} s per run, load {os.getloadavg()[0]:.2f} at the end",
        "",
        "rate | kind    | subs | posted | delivered | missed | dup | resyncs | p50 ms | p95 ms "
        "| p99 ms | max ms | ingest p99 ms | ingest max | CPU ms/posted | CPU ms/delivered",
    ]
    for r in rows:
        lat = (
            f"{r['p50_ms']:6.2f} | {r['p95_ms']:6.2f} | {r['p99_ms']:6.2f} | {r['max_ms']:6.1f}"
            if "p50_ms" in r else "     - |      - |      - |      -"
        )  # fmt: skip
        per = r.get("cpu_ms_per_delivered")
        out.append(
            f"{r['rate']:>4} | {r['kind']:<7} | {r['subscribers']:>4} | {r['posted']:>6} | "
            f"{r.get('delivered', 0):>9} | {r.get('missed', 0):>6} | {r.get('duplicates', 0):>3} "
            f"| {r.get('resyncs', 0):>7} | {lat} | {r['ingest_p99_ms']:13.2f} | "
            f"{r['ingest_max_ms']:10.1f} | {r['cpu_ms_per_posted']:13.3f} | "
            + (f"{per:16.3f}" if per is not None else "               -")
        )
    out.append(
        f"targets (issue 24): 500/s, 10 subscribers: p99 <= {TARGET_P99_MS:.0f} ms, 0 missed; "
        f"CPU per delivered event <= {TARGET_CPU_MS} ms"
    )
    return "\n".join(out)


async def run_matrix(
    server: Server, key: str, cookie: str, args: argparse.Namespace, pauses: Path | None = None
) -> list[dict[str, Any]]:
    """The reference (no subscriber) and every kind x count, for each rate."""
    rows = []
    for rate in args.rates:
        plan = [("none", 0)] + [(k, n) for k in args.kinds for n in args.subscribers]
        for kind, count in plan:
            started = time.monotonic()
            row = await scenario(server, key, cookie, kind, count, rate, args.seconds, args.profile,
                                 pauses)  # fmt: skip
            rows.append(row)
            log(f"{rate}/s {kind} x{count}: p99 {row.get('p99_ms', 0):.1f} ms, missed "
                f"{row.get('missed', 0)}, ingest p99 {row['ingest_p99_ms']:.1f} ms "
                f"({time.monotonic() - started:.0f} s)")  # fmt: skip
    return with_costs(rows)


def main(argv: list[str] | None = None) -> int:
    """Run the matrix; print the table on stdout."""
    args = parse_args(argv)
    os.sched_setaffinity(0, {CLIENT_CORE})
    work = Path(tempfile.mkdtemp(prefix="phospho-live-"))
    url = _create_pg_database(args.postgres) if args.postgres else None
    server = None
    pauses = work / "pauses.jsonl" if args.pauses else None
    try:
        server, key = start_server(work, url, pauses)
        cookie = login_cookie(server.base_url)
        rows = asyncio.run(run_matrix(server, key, cookie, args, pauses))
        print(table(rows, args, "PostgreSQL" if url else "SQLite"))
        if pauses is not None:
            print(stalls.table(rows))
    except Exception:
        if (work / "serve.log").exists():
            log("--- serve.log:\n" + "\n".join((work / "serve.log").read_text().splitlines()[-20:]))
        raise
    finally:
        if server is not None:
            server.stop()
        if url is not None:
            _drop_pg_database(args.postgres, url)
        shutil.rmtree(work, ignore_errors=True)
    return 0
