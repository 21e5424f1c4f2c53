"""`phospho export`: a project's events to a file or stdout, as JSONL or CSV.

It reads the database directly (beside a running server too: reads never block its writer)
through the same service as `GET /api/v1/events/export` (app/services/export.py). A progress
bar (rich) goes to stderr when stderr is a terminal, and nothing when it is not. `--out` is
created 0600: an export holds everything the project logged.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from app.settings import Settings

FILTERS = ("session_id", "user_id", "model", "feedback", "q", "since", "until", "tag", "status")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `phospho export` and its options."""
    export = sub.add_parser(
        "export", help="export a project's events as JSONL or CSV (oldest first)"
    )
    export.add_argument("--project", required=True, help="project name")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--out", metavar="FILE", help="write here, mode 0600 (default: stdout)")
    for name in FILTERS:
        flag = "--" + name.replace("_", "-")
        export.add_argument(flag, dest=name, help=_HELP.get(name, f"only this {name}"))
    export.set_defaults(func=cmd_export)


_HELP = {
    "feedback": "positive, negative or none (the latest feedback)",
    "q": "text in the input or output (case-insensitive)",
    "since": "from this time on (ISO 8601, UTC unless a zone is given)",
    "until": "before this time",
    "status": "ok or error",
}


@contextmanager
def _output(path: str | None) -> Iterator[IO[bytes]]:
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT: tighten it
    with os.fdopen(fd, "wb") as out:
        yield out


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr for a terminal; otherwise a callback that does nothing."""
    if not sys.stderr.isatty():
        yield lambda _: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = ("exporting", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("export", total=total)
        yield lambda rows: bar.advance(task, rows)


async def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Export the project's events matching the filters; prints the count on stderr."""
    from app.cli import _stderr, _with_orm
    from app.services.event_filters import event_filter
    from app.services.export import as_of, check_format, export_events
    from app.services.projects import find_project
    from app.services.reads_events import count_events

    async def work() -> int:
        project = await find_project(args.project)
        f = event_filter(**{name: getattr(args, name) for name in FILTERS})
        started = datetime.now(UTC)
        total = await count_events(project.id, as_of(f, started)) if sys.stderr.isatty() else 0
        written = 0

        def counted(rows: int) -> None:
            nonlocal written
            written += rows
            advance(rows)

        fmt = check_format(args.format)
        with _output(args.out) as out, _progress(total) as advance:
            async for chunk in export_events(project.id, f, fmt, started=started, on_rows=counted):
                out.write(chunk)
        _stderr(f"exported {written} events of project {project.name!r} as {fmt}")
        return 0

    return await _with_orm(settings, work)
