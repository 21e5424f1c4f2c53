"""Read py-spy's raw (collapsed) stacks and sort every sample of a thread into a category."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

IDLE = "idle: waiting in epoll"
GIL = "waiting for the GIL"
HANDOFF = "GIL take/drop around uvloop callbacks (futex)"
WAIT = "idle: waiting for work (queue)"

# (category, pattern). Event-loop thread: the deepest frame matching any rule decides, so time
# in a library called from phospho's code goes to the library, and phospho's own lines to it.
MAIN_RULES: tuple[tuple[str, str], ...] = (
    (IDLE, r"epoll_p?wait"),
    (GIL, r"take_gil|pthread_cond_timedwait"),
    ("garbage collector", r"gc_collect_main|collect_generations|gc_collect_with_callback"),
    ("socket write (syscall)", r"UVStream__try_write|UVStream_write"),
    ("socket read + HTTP parse (httptools)", r"uv__read|uv__stream_io|llhttp|httptools"),
    ("loop wake-up from the writer thread", r"uv__async|UVAsync|uv_async_send"),
    ("auth (key hash, cache)", r"app/services/keys\.py"),
    ("JSON parse + NUL/depth walk", r"^(parse_json|check_json_values) "),
    ("pydantic validation + metadata", r"pydantic|app/services/validation\.py"),
    ("prepare event (uuid7, metadata JSON)", r"^(prepare_event|uuid7|new_session_key) "),
    ("response body (orjson, iso dates)", r"app/api/responses\.py|^_acknowledge "),
    (
        "thread hop to the writer (queue put, futures)",
        r"aiosqlite/|SimpleQueue_put|concurrent/futures|run_in_executor|wrap_future",
    ),
    ("Tortoise transaction/query wrappers", r"tortoise/|pypika"),
    (
        "ingest + group-commit writer (app)",
        r"app/services/(ingest|writer|store|write_backends)\.py",
    ),
    ("route handler", r"app/api/events\.py|reference_app\.py"),
    ("FastAPI telemetry check", r"fastapi/telemetry|opentelemetry"),
    ("FastAPI routing, handler, dependencies", r"fastapi/(routing|dependencies)|starlette/routing"),
    ("Starlette Request/Response objects", r"starlette/(requests|responses|datastructures)"),
    ("ASGI middleware stack", r"starlette/|fastapi/|app/limits\.py|contextlib"),
    ("uvicorn HTTP protocol", r"uvicorn/"),
    ("event loop, tasks, futures", r"asyncio|uvloop|loop\.c|Loop_|task_step|future_"),
    # libuv frames with nothing deeper but libc: uvloop runs libuv without the GIL and takes it
    # back for each callback, so this is the GIL changing hands with the writer thread.
    (HANDOFF, r"^(uv_run|uv__run_idle|uv__queue_empty|uv__io_poll|uv__run_check) "),
)
# Other threads (aiosqlite or executor workers): the first rule matching any frame decides.
WORKER_RULES: tuple[tuple[str, str], ...] = (
    (WAIT, r"PyThread_acquire_lock_timed"),
    ("checkpoint (fsync, copy WAL into the DB)", r"sqlite3WalCheckpoint"),
    ("fdatasync at commit", r"^f(data)?sync "),
    ("WAL truncate (ftruncate: journal_size_limit)", r"^ftruncate"),
    ("WAL write (pwrite)", r"^pwrite"),
    (GIL, r"take_gil|pthread_cond_timedwait"),
    ("wake the event loop", r"uv_async_send|call_soon_threadsafe"),
    ("SQLite executing SQL", r"sqlite3|pysqlite|_sqlite"),
)
_LINE = re.compile(r":\d+\)$")


def parse(path: Path) -> dict[str, Counter[tuple[str, ...]]]:
    """Thread label ("tid: name") -> stacks (leaf last) -> sample count."""
    threads: dict[str, Counter[tuple[str, ...]]] = defaultdict(Counter)
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        label = frames[0].removeprefix("thread (").replace("): ", ": ", 1)
        threads[label][tuple(frames[1:])] += int(count)
    return threads


def classify(frames: tuple[str, ...], worker: bool) -> str:
    """The category of one stack (see MAIN_RULES and WORKER_RULES)."""
    if worker:
        for category, pattern in WORKER_RULES:
            if any(re.search(pattern, frame) for frame in frames):
                return category
        return "Python on the worker thread"
    for frame in reversed(frames):
        for category, pattern in MAIN_RULES:
            if re.search(pattern, frame):
                return category
    return "other"


def categorise(stacks: Counter[tuple[str, ...]], worker: bool) -> Counter[str]:
    """Samples per category for one thread."""
    found: Counter[str] = Counter()
    for frames, count in stacks.items():
        found[classify(frames, worker)] += count
    return found


def hot_frames(stacks: Counter[tuple[str, ...]], top: int = 15) -> list[tuple[str, int]]:
    """Deepest Python function of each busy sample (idle and GIL waits left out), busiest first."""
    found: Counter[str] = Counter()
    for frames, count in stacks.items():
        if classify(frames, worker=False) in (IDLE, GIL, HANDOFF):
            continue
        python = [frame for frame in frames if ".py" in frame]
        if python:
            found[_LINE.sub(")", python[-1])] += count
    return found.most_common(top)
