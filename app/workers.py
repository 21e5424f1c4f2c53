"""`phospho serve --workers N`: N server processes on one port, supervised (PostgreSQL only).

Why not uvicorn's own `workers=`: it starts each worker by spawn and pickles its config, but
`phospho serve` hands uvicorn an app object (built after `preflight`) and a protocol class
made at run time (`app/http_protocol.py`'s `protocol_factory`), neither of which a spawned
process can receive. So the parent does what gunicorn's preloading arbiter does:

- it checks and prepares once (`preflight`: migrations state, durability), makes sure the
  secret key exists, and binds the listening socket itself (uvicorn's `bind_socket`);
- it forks each worker (imports already done, so a worker is ready in ~0.1 s, and the frozen
  start-up objects stay shared copy-on-write); the worker builds its own app and serves the
  inherited socket with `uvicorn.Server.serve(sockets=[sock])`: the kernel hands each new
  connection to whichever worker accepts it first (a busy worker accepts less);
- it supervises: SIGTERM or SIGINT → SIGTERM to every worker (a graceful stop each: the
  writer commits what it has queued), SIGKILL after `STOP_GRACE_SECONDS` or on a second
  signal; a worker that cannot start (at start, or as a replacement) stops them all and the
  command exits 1; a worker that dies once serving is logged and replaced, unless
  `RESTART_LIMIT` have died within `RESTART_WINDOW_SECONDS` (a crash loop: stop and exit 1,
  for the service manager to see).

SQLite has one writer per database file: more than one worker is refused before anything
starts (exit 2). With more than one worker, prometheus-client's multiprocess mode gets a
private directory (`PROMETHEUS_MULTIPROC_DIR`, set before the app's modules are imported, as
prometheus-client reads it at import), each dead worker's files are marked dead, and the
directory is removed at exit.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger("phospho.workers")

MAX_WORKERS = 64  # each worker holds a pool of up to 5 PostgreSQL connections and 1 LISTEN
STARTUP_TIMEOUT_SECONDS = 60.0
STOP_GRACE_SECONDS = 30.0
RESTART_LIMIT = 5
RESTART_WINDOW_SECONDS = 60.0
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
EXIT_REFUSED = 2  # as argparse's usage errors: nothing was started
EXIT_FAILED = 1


def refusal(settings: Settings, workers: int) -> str | None:
    """Why `workers` processes cannot serve this database, or None when they can."""
    if workers < 1 or workers > MAX_WORKERS:
        return f"--workers must be between 1 and {MAX_WORKERS} (got {workers})"
    if workers > 1 and settings.is_sqlite:
        return (
            f"--workers {workers} needs PostgreSQL: SQLite has a single writer, so one "
            "`phospho serve` process serves it (set PHOSPHO_DATABASE_URL=postgres://... to "
            "run several workers)"
        )
    return None


def serve_workers(
    settings: Settings, workers: int, options: Callable[[Settings], dict[str, Any]]
) -> int:
    """Serve with `workers` processes until stopped; the exit code. `options` are the uvicorn
    settings every worker uses (app/cli.py's, the same as a single process's)."""
    reason = refusal(settings, workers)
    if reason is not None:
        print(f"error: {reason}", file=sys.stderr)
        return EXIT_REFUSED
    with multiprocess_dir():
        # Imported only now: the app's modules may import prometheus-client, which must see
        # the directory in the environment first.
        import asyncio

        from app.factory import preflight

        asyncio.run(preflight(settings))
        settings.ensure_secret_key()  # once here, rather than raced by N workers
        config = uvicorn.Config(
            "app.main:app",
            host=settings.host,
            port=settings.port,
            **worker_options(options, settings),
        )
        sock = config.bind_socket()
        from app.logs import announce

        where = f"http://{settings.host}:{settings.port}"
        announce(f"phospho listening on {where} with {workers} workers", settings.log_format)
        try:
            return Supervisor(settings, workers, options, sock).run()
        finally:
            sock.close()


def worker_options(
    options: Callable[[Settings], dict[str, Any]], settings: Settings
) -> dict[str, Any]:
    """A single process's uvicorn options, with each log line naming its worker's pid."""
    opts = options(settings)
    for formatter in opts.get("log_config", {}).get("formatters", {}).values():
        fmt = formatter.get("fmt")
        if isinstance(fmt, str) and "%(process)d" not in fmt and "%(levelprefix)s " in fmt:
            formatter["fmt"] = fmt.replace("%(levelprefix)s ", "%(levelprefix)s [%(process)d] ", 1)
    return opts


@contextlib.contextmanager
def multiprocess_dir() -> Iterator[str]:
    """A fresh 0700 directory in PROMETHEUS_MULTIPROC_DIR for the block, removed after."""
    if "prometheus_client" in sys.modules:
        log.warning("prometheus_client was imported before its multiprocess directory was set")
    path = tempfile.mkdtemp(prefix="phospho-metrics-")  # mode 0700
    previous = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = path
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous
        shutil.rmtree(path, ignore_errors=True)


def mark_dead(pid: int) -> None:
    """Tell prometheus-client a worker is gone (its live gauges stop counting)."""
    if not os.environ.get(MULTIPROC_ENV):
        return
    try:  # by name: prometheus-client is an optional part here (the metrics' dependency)
        multiprocess = importlib.import_module("prometheus_client.multiprocess")
    except ImportError:  # the metrics are not installed: nothing to mark
        return
    multiprocess.mark_process_dead(pid)


class Supervisor:
    """The parent: starts the workers, forwards stop signals, replaces a worker that died."""

    def __init__(
        self,
        settings: Settings,
        workers: int,
        options: Callable[[Settings], dict[str, Any]],
        sock: socket.socket,
    ) -> None:
        self._settings = settings
        self._count = workers
        self._options = options
        self._sock = sock
        self._context = multiprocessing.get_context("fork")
        self._workers: dict[int, BaseProcess] = {}
        self._deaths: deque[float] = deque(maxlen=RESTART_LIMIT)
        self._signals = 0
        self._failed = False

    def run(self) -> int:
        """Start, supervise until a stop signal (or a failure), stop; the exit code."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            if self._start_all():
                self._supervise()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return EXIT_FAILED if self._failed else 0

    def _on_signal(self, sig: int, _frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals > 1:  # asked twice: do not wait for the graceful stop
            for proc in self._workers.values():
                _send(proc, signal.SIGKILL)

    def _start_all(self) -> bool:
        ready = [self._spawn() for _ in range(self._count)]
        if not all(self._await_ready(proc, conn) for proc, conn in ready):
            return False
        log.info("%d workers ready: pids %s", self._count, sorted(self._workers))
        return True

    def _spawn(self) -> tuple[BaseProcess, multiprocessing.connection.Connection]:
        receive, send = self._context.Pipe(duplex=False)
        proc = self._context.Process(
            target=_worker_main,
            args=(self._settings, self._options, self._sock, send, os.getpid()),
            name="phospho-worker",
        )
        proc.start()
        send.close()
        assert proc.pid is not None
        self._workers[proc.pid] = proc
        return proc, receive

    def _await_ready(self, proc: BaseProcess, conn: multiprocessing.connection.Connection) -> bool:
        """Wait for a new worker's "serving" (False when it died, hung or a stop was asked)."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        try:
            while not self._signals and time.monotonic() < deadline:
                if conn.poll(0.2):
                    with contextlib.suppress(EOFError):
                        conn.recv_bytes()
                        return True
                    break  # closed without a word: the worker exited
                if not proc.is_alive():
                    break
        finally:
            conn.close()
        if not self._signals:
            log.error("worker %s could not start (exit code %s)", proc.pid, proc.exitcode)
            self._failed = True
        return False

    def _supervise(self) -> None:
        while not self._signals and not self._failed:
            sentinels = [proc.sentinel for proc in self._workers.values()]
            multiprocessing.connection.wait(sentinels, timeout=1.0)
            for pid, proc in list(self._workers.items()):
                if proc.is_alive() or self._signals:
                    continue
                del self._workers[pid]
                mark_dead(pid)
                self._replace(pid, proc.exitcode)

    def _replace(self, pid: int, code: int | None) -> None:
        now = time.monotonic()
        self._deaths.append(now)
        if len(self._deaths) == RESTART_LIMIT and now - self._deaths[0] < RESTART_WINDOW_SECONDS:
            log.error(
                "worker %s exited (code %s): %d workers died within %.0f s; stopping",
                pid, code, RESTART_LIMIT, RESTART_WINDOW_SECONDS,
            )  # fmt: skip
            self._failed = True
            return
        log.warning("worker %s exited unexpectedly (code %s); starting another", pid, code)
        proc, conn = self._spawn()
        if self._await_ready(proc, conn):  # else it failed the server, as at start
            log.info("worker %s replaced by %s", pid, proc.pid)

    def _stop_all(self) -> None:
        for proc in self._workers.values():
            _send(proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for proc in self._workers.values():
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.warning(
                    "worker %s did not stop in %.0f s; killing it", proc.pid, STOP_GRACE_SECONDS
                )
                _send(proc, signal.SIGKILL)
                proc.join()
            if proc.pid is not None:
                mark_dead(proc.pid)
        self._workers.clear()


def _send(proc: BaseProcess, sig: int) -> None:
    if proc.pid is not None and proc.is_alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)


def _worker_main(
    settings: Settings,
    options: Callable[[Settings], dict[str, Any]],
    sock: socket.socket,
    ready: multiprocessing.connection.Connection,
    parent: int,
) -> None:
    """One worker (a forked child): build the app, serve the inherited socket until told to
    stop; exit code 3 (uvicorn's) when it could not start."""
    from app.factory import create_app

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)  # the parent's handlers are not ours
    _die_with(parent)
    config = uvicorn.Config(
        create_app(settings, prepared=True), **worker_options(options, settings)
    )
    server = WorkerServer(config, ready)
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(3)


def _die_with(parent: int) -> None:
    """Ask Linux for SIGTERM when the supervisor dies (even by SIGKILL), so no worker is left
    serving unsupervised; elsewhere nothing happens."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


class WorkerServer(uvicorn.Server):
    """uvicorn's server, telling the supervisor once it serves; one graceful stop per worker."""

    def __init__(self, config: uvicorn.Config, ready: multiprocessing.connection.Connection):
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start (lifespan, then the socket), then say "serving" to the supervisor."""
        try:
            await super().startup(sockets=sockets)
            if not self.should_exit:
                self._ready.send_bytes(b"serving")
        finally:
            self._ready.close()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Stop gracefully, however often asked: systemd signals every process of the unit and
        a terminal's Ctrl-C the whole group, besides the supervisor's SIGTERM; uvicorn would
        force the exit (skipping the writer's last commit) on a second SIGINT. The signal is
        not kept for re-raising either, so the worker exits 0 after its shutdown."""
        self.should_exit = True
