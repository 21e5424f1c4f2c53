"""The `phospho` command: serve, migrate, keys, users, rollups, retention, export, backup,
restore and export-schema.

Results a script may capture (a new key) go to stdout; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from app.cli_backup import add_parsers as add_backup_parsers
from app.errors import PhosphoError

if TYPE_CHECKING:
    from app.settings import Settings


def _stderr(*parts: Any) -> None:
    print(*parts, file=sys.stderr)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the server: one process (SQLite migrations applied at start), or `--workers N`
    processes on one port (PostgreSQL; app/workers.py)."""
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    workers = args.workers if args.workers is not None else settings.workers
    if workers != 1:
        from app.workers import serve_workers

        return serve_workers(settings, workers, uvicorn_options)
    import uvicorn

    from app.factory import create_app, preflight
    from app.logs import announce

    asyncio.run(preflight(settings))
    announce(f"phospho listening on http://{settings.host}:{settings.port}", settings.log_format)
    uvicorn.run(
        create_app(settings, prepared=True),
        host=settings.host,
        port=settings.port,
        **uvicorn_options(settings),
    )
    return 0


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What every server process passes uvicorn besides the app and where to listen."""
    from app.admission import Admission
    from app.http_protocol import protocol_factory

    return {
        "log_config": log_config(settings.log_level, settings.log_format),
        "log_level": settings.log_level,
        "access_log": settings.access_log,
        # X-Forwarded-For/-Proto only from the proxies named in the settings: uvicorn's
        # default trusts 127.0.0.1, so anything on this host could claim any client address.
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": settings.forwarded_allow_ips or None,
        # httptools plus admission control and read timeouts (app/http_protocol.py).
        "http": protocol_factory(Admission.from_settings(settings)),
        # Live messages are small and sent to many subscribers: compressing each for each
        # WebSocket cost ~8% of a GraphQL subscriber's delivery (py-spy, bench/live).
        "ws_per_message_deflate": False,
    }


def log_config(level: str, fmt: str = "text") -> dict[str, Any]:
    """The logging configuration of `phospho serve` (app/logs.py: text or JSON lines)."""
    from app.logs import log_config as config

    return config(level, fmt)


async def _with_orm(settings: Settings, work: Callable[[], Awaitable[int]]) -> int:
    from app.db import apply_migrations, close_orm, init_orm

    if settings.is_sqlite:
        await apply_migrations(settings.resolved_database_url)
    await init_orm(settings)
    try:
        return await work()
    finally:
        await close_orm()


async def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Apply pending migrations explicitly (required once per release on PostgreSQL)."""
    from app.db import apply_migrations

    applied = await apply_migrations(settings.resolved_database_url)
    _stderr("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0


async def cmd_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create a key (and the project when missing); print the full key once on stdout."""
    from app.services.keys import create_api_key
    from app.services.projects import get_or_create_project

    async def work() -> int:
        project = await get_or_create_project(args.project)
        created = await create_api_key(project.id, args.name)
        _stderr(f"created key {created.key.prefix}… ({args.name}) for project {project.name!r}")
        _stderr("this is the only time the full key is shown:")
        print(created.secret)
        return 0

    return await _with_orm(settings, work)


async def cmd_keys_list(args: argparse.Namespace, settings: Settings) -> int:
    """List a project's keys."""
    from app.services.keys import list_api_keys
    from app.services.projects import find_project

    async def work() -> int:
        project = await find_project(args.project)
        print(f"{'PREFIX':<14}{'NAME':<20}{'CREATED':<22}{'LAST USED':<22}STATUS")
        for key in await list_api_keys(project.id):
            last = key.last_used_at.strftime("%Y-%m-%d %H:%M") if key.last_used_at else "never"
            status = "revoked" if key.revoked_at else "active"
            created = key.created_at.strftime("%Y-%m-%d %H:%M")
            print(f"{key.prefix:<14}{key.name[:19]:<20}{created:<22}{last:<22}{status}")
        return 0

    return await _with_orm(settings, work)


async def cmd_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke a key by its display prefix; it gets 401 from its next request on."""
    from app.services.keys import revoke_api_key

    async def work() -> int:
        key = await revoke_api_key(args.prefix)
        _stderr(f"revoked key {key.prefix}… ({key.name})")
        return 0

    return await _with_orm(settings, work)


async def cmd_users_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create a dashboard account (the way in when sign-up is closed)."""
    from app.services.users import create_user

    async def work() -> int:
        user = await create_user(args.email, args.password, args.project)
        _stderr(f"created user {user.email}")
        return 0

    return await _with_orm(settings, work)


async def cmd_rollups_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    """Recompute the metrics rollups from the stored events and feedback (one transaction)."""
    from app.services.projects import find_project
    from app.services.rollups import rebuild
    from app.services.write_backends import write_backend_for

    async def work() -> int:
        projects = [(await find_project(args.project)).id] if args.project else None
        # On SQLite this claims the database like a server does: stop the server first.
        backend = write_backend_for(settings.resolved_database_url)
        await backend.open()
        try:
            report = await backend.run(lambda: rebuild(backend.dialect, projects))
        finally:
            await backend.close()
        scope = f"project {args.project!r}" if args.project else "every project"
        _stderr(
            f"rebuilt the rollups of {scope}: {report.events} events, {report.sessions} "
            f"sessions, {report.feedback} current feedback, {report.repriced} events newly "
            f"priced, {report.repaired} overflowed counters repaired"
        )
        return 0

    return await _with_orm(settings, work)


async def cmd_retention_run(args: argparse.Namespace, settings: Settings) -> int:
    """`phospho retention run` (app/cli_retention.py)."""
    from app.cli_retention import run_retention

    return await run_retention(args, settings)


def cmd_export_schema(args: argparse.Namespace, settings: Settings) -> int:
    """Write the GraphQL schema (SDL) to a file; `--check` only compares and reports drift."""
    from pathlib import Path

    from app.schema.schema import schema_sdl

    path = Path(args.output)
    sdl = schema_sdl()
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != sdl:
            _stderr(f"{path} is out of date: run `phospho export-schema`")
            return 1
        _stderr(f"{path} is up to date")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sdl, encoding="utf-8")
    _stderr(f"wrote {path}")
    return 0


def _workers_count(text: str) -> int:
    from app.workers import MAX_WORKERS

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_WORKERS}, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="phospho", description="phospho server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default: PHOSPHO_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default: PHOSPHO_PORT)")
    serve.add_argument(
        "--workers",
        type=_workers_count,
        help="server processes on the port, PostgreSQL only (default: PHOSPHO_WORKERS, 1)",
    )
    serve.set_defaults(func=cmd_serve, sync=True)
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)

    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    create = keys.add_parser("create", help="create a key; prints it once")
    create.add_argument("--project", required=True, help="project name (created when missing)")
    create.add_argument("--name", default="default", help="a label for the key")
    create.set_defaults(func=cmd_keys_create)
    listing = keys.add_parser("list", help="list a project's keys")
    listing.add_argument("--project", required=True)
    listing.set_defaults(func=cmd_keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key by its prefix")
    revoke.add_argument("prefix", help="the key's display prefix, e.g. ph_AbCdEfGh")
    revoke.set_defaults(func=cmd_keys_revoke)

    users = sub.add_parser("users", help="manage dashboard users")
    users_sub = users.add_subparsers(dest="action", required=True)
    ucreate = users_sub.add_parser("create", help="create a dashboard account")
    ucreate.add_argument("--email", required=True)
    ucreate.add_argument("--password", required=True)
    ucreate.add_argument("--project", help="project to own (default: a new one)")
    ucreate.set_defaults(func=cmd_users_create)
    from app.cli_erasure import add_parser as add_users_forget

    add_users_forget(users_sub)

    rollups = sub.add_parser("rollups", help="maintain the metrics rollups")
    rollups_sub = rollups.add_subparsers(dest="action", required=True)
    rebuild = rollups_sub.add_parser(
        "rebuild",
        help="recompute rollups from events (stop the server first on SQLite; on PostgreSQL "
        "ingest waits until the rebuild commits)",
    )
    rebuild.add_argument("--project", help="only this project (default: every project)")
    rebuild.set_defaults(func=cmd_rollups_rebuild)

    from app.cli_export import add_parser as add_export

    add_export(sub)
    retention = sub.add_parser("retention", help="apply the retention windows")
    retention_run = retention.add_subparsers(dest="action", required=True).add_parser(
        "run", help="delete expired events now (refused beside a SQLite server) or --dry-run"
    )
    retention_run.add_argument("--project", help="only this project (default: every one)")
    retention_run.add_argument("--dry-run", action="store_true", help="only count; delete nothing")
    retention_run.set_defaults(func=cmd_retention_run)

    export = sub.add_parser("export-schema", help="write the GraphQL schema (SDL)")
    export.add_argument("--output", default="graphql/schema.graphql", help="file to write")
    export.add_argument("--check", action="store_true", help="fail if the file is out of date")
    export.set_defaults(func=cmd_export_schema, sync=True)
    add_backup_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `phospho` console script.

    What a command needs is imported once the command is known: `phospho serve` starts with the
    garbage collector off, imports included: start-up leaves ~190,000 objects the collector
    tracks, nearly all for good, and it re-scanned them again and again (~10% of the cold
    start, bench/coldstart.py); app.factory.tune_gc freezes them and turns it back on.
    """
    args = build_parser().parse_args(argv)
    if args.func is cmd_serve:
        gc.disable()
    from pydantic import ValidationError

    from app.db import DatabaseConfigError
    from app.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:  # a bad PHOSPHO_ variable: name it, without a traceback
        for error in exc.errors():
            name = "PHOSPHO_" + "_".join(str(part) for part in error["loc"]).upper()
            _stderr(f"error: {name}: {error['msg']}")
        return 2
    try:
        if getattr(args, "sync", False):
            return int(args.func(args, settings))
        return int(asyncio.run(args.func(args, settings)))
    except (PhosphoError, DatabaseConfigError) as exc:
        _stderr(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
