"""`phospho users forget --project P --user-id U`: erase one end user from the command line.

It runs the erasure through an Ingestor of its own, i.e. the same write path and rollup writer
as a server (app/services/erasure.py). On SQLite that writer must be the only one: a running
server holds the database's writer lock (`claim_sqlite_writer`) and remembers the rollup rows
it wrote, so a second writer subtracting behind its back would make its memory wrong. The
command therefore refuses while a server serves the file, and points at the server's own
ways in (the REST route, the dashboard's button, GraphQL), which erase through its writer.
On PostgreSQL, whose rollup writer remembers nothing, it always runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.settings import Settings

SERVER_RUNNING = (
    "a phospho server is serving this SQLite database, and only its writer may change the "
    "rollups: erase through the server instead — `curl -X DELETE -H 'Authorization: Bearer "
    "ph_…' {base}/api/v1/users/<user_id, URL-encoded>`, or the Erase button on the end "
    "user's page of the dashboard (owners) — or stop the server and run this again"
)


async def cmd_users_forget(args: argparse.Namespace, settings: Settings) -> int:
    """Erase one end user of a project; print the counts (JSON) once committed."""
    import orjson

    from app.cli import _with_orm
    from app.db import DatabaseConfigError
    from app.services.erasure import end_user_id, forget_end_user
    from app.services.ingest import Ingestor
    from app.services.projects import find_project
    from app.services.write_backends import write_backend_for

    async def work() -> int:
        project = await find_project(args.project)
        user_id = end_user_id(args.user_id, ("--user-id",))
        ingestor = Ingestor()
        try:
            await ingestor.start(write_backend_for(settings.resolved_database_url))
        except DatabaseConfigError:  # the SQLite writer lock: a server is running
            base = f"http://{settings.host}:{settings.port}"
            raise DatabaseConfigError(SERVER_RUNNING.format(base=base)) from None
        try:
            erased = await forget_end_user(ingestor, project.id, user_id)
        finally:
            await ingestor.stop()
        counts = erased.as_dict()
        print(orjson.dumps({"project": project.name, "user_id": user_id, **counts}).decode())
        summary = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in counts.items())
        print(
            f"erased end user {user_id!r} of project {project.name!r}: {summary}", file=sys.stderr
        )
        return 0

    return await _with_orm(settings, work)


def add_parser(users_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`users forget` under the `users` command."""
    forget = users_sub.add_parser(
        "forget",
        help="erase an end user of a project (GDPR): its events, feedback, sessions and "
        "metrics share, in one transaction (SQLite: stop the server first, or use the API)",
    )
    forget.add_argument("--project", required=True, help="project name")
    forget.add_argument("--user-id", required=True, help="the end user's user_id, as sent")
    forget.set_defaults(func=cmd_users_forget)
