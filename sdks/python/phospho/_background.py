"""Background mode: a bounded in-memory queue drained by one daemon thread, in batches.

The caller's side (`put`) only appends to a deque under a lock: it never blocks on the network
and never raises. When the queue is full the event is dropped, counted and a warning is logged
(at most every few seconds). The worker sends a batch to /api/v1/events/batch as soon as it has
`max_batch_size` events or `max_batch_bytes` bytes, when its oldest event is `flush_interval`
seconds old, or when someone flushes. Feedback rides in the same queue so that it always reaches
the server after the event it refers to.

Retries are safe: every event carries a client-generated event_id, and the server answers a
retry of a stored id with the original result instead of storing it twice.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from typing import NamedTuple, Union

from phospho._base import BATCH_PATH, batch_body
from phospho._errors import APIError, ValidationError
from phospho._transport import SyncTransport
from phospho._types import BackgroundStats

logger = logging.getLogger("phospho")

DROP_WARNING_INTERVAL = 10.0  # seconds between two "queue full" warnings


class FeedbackItem(NamedTuple):
    """Feedback waiting in the queue: its URL path and encoded body."""

    path: str
    body: bytes


Item = Union[bytes, FeedbackItem]  # bytes: one encoded event


class BackgroundSender:
    """The queue and its worker thread. Thread-safe, fork-safe, flushed at interpreter exit."""

    def __init__(
        self,
        transport: SyncTransport,
        *,
        max_queue_size: int,
        max_batch_size: int,
        max_batch_bytes: int,
        flush_interval: float,
        shutdown_timeout: float,
    ) -> None:
        self.transport = transport
        self.max_queue_size = max_queue_size
        self.max_batch_size = max_batch_size
        self.max_batch_bytes = max_batch_bytes
        self.flush_interval = flush_interval
        self.shutdown_timeout = shutdown_timeout
        self._init_state()
        _all.add(self)
        _live.add(self)

    def _init_state(self) -> None:
        """Fresh locks, queue, counters and no thread (at creation and in a forked child)."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # wakes the worker
        self._done = threading.Condition(self._lock)  # wakes flush() callers
        self._stop = threading.Event()  # abandons retries at shutdown
        self._queue: deque[Item] = deque()
        self._queued_bytes = 0
        self._oldest = 0.0
        self._accepted = 0
        self._processed = 0
        self._flush_target = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.dropped = 0
        self.failed = 0
        self._last_drop_warning = -DROP_WARNING_INTERVAL

    # ----------------------------------------------------------------- the caller's side

    def put(self, item: Item) -> bool:
        """Queue one item; False (dropped, counted, warned) when full or closed. Never raises."""
        size = len(item) if isinstance(item, bytes) else len(item.body)
        with self._lock:
            queue = self._queue
            if self._closed or len(queue) >= self.max_queue_size:
                self.dropped += 1
                dropped = self.dropped
                now = time.monotonic()
                warn = now - self._last_drop_warning >= DROP_WARNING_INTERVAL
                if warn:
                    self._last_drop_warning = now
                closed = self._closed
            else:
                if not queue:
                    self._oldest = time.monotonic()
                queue.append(item)
                self._queued_bytes += size
                self._accepted += 1
                count = len(queue)
                if (
                    count == 1
                    or count == self.max_batch_size
                    or self._queued_bytes >= self.max_batch_bytes
                ):
                    self._wake.notify()
                if self._thread is None:
                    self._start_worker()
                return True
        if warn:
            reason = (
                "the client was closed"
                if closed
                else f"the background queue is full (max_queue_size={self.max_queue_size}); "
                "the server may be unreachable or too slow"
            )
            logger.warning(
                "phospho: dropped an event because %s; %d dropped so far", reason, dropped
            )
        return False

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued before this call is sent (or given up), at most
        `timeout` seconds. True when all of it was handled in time."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            target = self._accepted
            if self._processed >= target:
                return True
            if self._thread is None or not self._thread.is_alive():
                self._thread = None
                if not self._start_worker():
                    return False
            if target > self._flush_target:
                self._flush_target = target
                self._wake.notify()
            while self._processed < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._done.wait(remaining)
        return True

    def shutdown(self, timeout: float) -> bool:
        """Flush (bounded by `timeout`), then stop the worker; later items are dropped.

        Only the first call waits; later calls (e.g. the exit hook after `close()`) return at once.
        """
        with self._lock:
            if self._closed:
                return self._processed >= self._accepted
            self._closed = True  # from now on nothing is accepted: the flush below sees it all
            self._wake.notify_all()
        flushed = self.flush(timeout)
        with self._lock:
            lost = self._accepted - self._processed
        self._stop.set()
        _live.discard(self)
        if not flushed:
            logger.warning(
                "phospho: %d item(s) could not be sent within %.1f s and are lost", lost, timeout
            )
        return flushed

    def stats(self) -> BackgroundStats:
        """Counters, for monitoring."""
        with self._lock:
            queued = len(self._queue)
        return BackgroundStats(
            queued=queued, sent=self.sent, dropped=self.dropped, failed=self.failed
        )

    def reset_after_fork(self) -> None:
        """In a forked child: start empty (the parent sends what it had queued), new locks.

        The transport resets its own connection pool (see `phospho._transport`).
        """
        closed = self._closed
        self._init_state()
        self._closed = closed

    # ----------------------------------------------------------------- the worker

    def _start_worker(self) -> bool:
        """Start the worker thread (lock held). False when threads can no longer be started."""
        thread = threading.Thread(target=self._run, name="phospho-background", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # interpreter shutting down
            return False
        self._thread = thread
        return True

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._send(batch)
            except Exception:  # never let the worker die
                logger.exception("phospho: unexpected error while sending %d item(s)", len(batch))
                self.failed += len(batch)
            with self._lock:
                self._processed += len(batch)
                self._done.notify_all()

    def _next_batch(self) -> list[Item] | None:
        with self._lock:
            while True:
                queue = self._queue
                if not queue:
                    if self._closed:
                        return None
                    self._wake.wait()
                    continue
                urgent = (
                    self._closed
                    or self._flush_target > self._processed
                    or len(queue) >= self.max_batch_size
                    or self._queued_bytes >= self.max_batch_bytes
                )
                if not urgent:
                    remaining = self._oldest + self.flush_interval - time.monotonic()
                    if remaining > 0:
                        self._wake.wait(remaining)
                        continue
                batch = self._take()
                if queue:
                    self._oldest = time.monotonic()
                return batch

    def _take(self) -> list[Item]:
        """Pop the next batch (lock held): events up to the limits, or one feedback."""
        queue = self._queue
        items: list[Item] = []
        size = 0
        while queue and len(items) < self.max_batch_size:
            item = queue[0]
            if isinstance(item, FeedbackItem):
                if not items:
                    items.append(queue.popleft())
                    size += len(item.body)
                break
            if items and size + len(item) + 1 > self.max_batch_bytes:
                break
            items.append(queue.popleft())
            size += len(item)
        self._queued_bytes -= size
        return items

    def _sleep(self, seconds: float) -> bool:
        """Backoff between retries; False once shutdown abandons the retries."""
        return not self._stop.wait(seconds)

    def _send(self, batch: list[Item]) -> None:
        first = batch[0]
        if isinstance(first, FeedbackItem):
            try:
                self.transport.post(
                    first.path, first.body, idempotent=False, sleep=self._sleep, parse=False
                )
            except APIError as exc:
                self.failed += 1
                logger.warning("phospho: feedback could not be sent: %s", exc)
            else:
                self.sent += 1
            return
        self._send_events([item for item in batch if isinstance(item, bytes)])

    def _send_events(self, events: list[bytes]) -> None:
        pending = events
        while pending:
            try:
                self.transport.post(
                    BATCH_PATH, batch_body(pending), idempotent=True, sleep=self._sleep, parse=False
                )
            except ValidationError as exc:
                if exc.status_code == 413 and len(pending) > 1:
                    half = len(pending) // 2
                    self._send_events(pending[:half])
                    self._send_events(pending[half:])
                    return
                index = _failing_index(exc)
                if index is None or not 0 <= index < len(pending) or len(pending) == 1:
                    self._give_up(len(pending), exc)
                    return
                # The batch is all-or-nothing: drop the refused event, resend the others.
                self._give_up(1, exc)
                pending = pending[:index] + pending[index + 1 :]
            except APIError as exc:
                self._give_up(len(pending), exc)
                return
            else:
                self.sent += len(pending)
                return

    def _give_up(self, count: int, exc: APIError) -> None:
        self.failed += count
        logger.warning("phospho: %d event(s) could not be sent and were dropped: %s", count, exc)


def _failing_index(exc: APIError) -> int | None:
    """The index of the refused event in a batch 422 (loc ["body", "events", i, ...])."""
    for error in exc.errors:
        loc = error.get("loc")
        if isinstance(loc, list) and len(loc) >= 3 and loc[:2] == ["body", "events"]:
            index = loc[2]
            if isinstance(index, int) and not isinstance(index, bool):
                return index
    return None


_all: weakref.WeakSet[BackgroundSender] = weakref.WeakSet()  # reset in a forked child
_live: weakref.WeakSet[BackgroundSender] = weakref.WeakSet()  # not shut down yet: flushed at exit


def _after_fork_in_child() -> None:
    for sender in list(_all):
        sender.reset_after_fork()


def _flush_at_exit() -> None:
    for sender in list(_live):
        try:
            sender.shutdown(sender.shutdown_timeout)
        except Exception:  # never disturb interpreter exit
            logger.exception("phospho: error while flushing at exit")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_flush_at_exit)
