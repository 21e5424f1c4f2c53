"""The live bus: what was just committed, pushed to whoever is watching a project.

The group-commit writer publishes after each commit, in commit order. Each subscriber reads
from its own bounded queue, so a slow reader never slows ingestion or other readers. A reader
that falls behind is not silently skipped: once its queue is full it loses further messages
and its next read returns an `Overflow` marker, telling it to resynchronise from the database
(its messages carry ids and times, enough to query what it missed), after which it receives
new messages again.

Messages carry ids and the fields subscribers filter on, not whole events: consumers load what
they show through the read services, once per process for all subscribers (`SharedLoads`,
app/services/live_reads.py). That keeps a message small enough for PostgreSQL's NOTIFY (8 KB)
when the bus spans processes.

A subscription carries the credential it was opened with (an API key or a login session).
When that credential ends (a revoked key, a logged-out or expired session), `revoke` marks its
subscriptions: their next read returns `Revoked`, at once even if messages are queued, and the
consumer closes its stream. The credential watcher (app/services/revocation.py) decides which.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Generic, Literal, TypeVar

from app.instruments import LIVE_DROPPED, LIVE_RESYNCS, LIVE_SUBSCRIBERS
from app.services.search import TextQuery, parse_query

DEFAULT_QUEUE_SIZE = 1000
SHARED_KEYS = 4096  # what a SharedLoads remembers: seconds of events at 2,000/s
SHARED_BYTES = 64 * 1024 * 1024  # and at most this much text (events of up to 1 MB each)
K = TypeVar("K")
H = TypeVar("H", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class EventLogged:
    """An event was committed."""

    project_id: int
    event_id: uuid.UUID
    session_id: str
    user_id: str | None
    model: str | None
    created_at: datetime
    status: str | None = None  # "ok", "error" or None (unknown)
    tags: tuple[str, ...] = ()
    kind: Literal["event"] = "event"


@dataclass(frozen=True, slots=True)
class FeedbackAdded:
    """Feedback was committed."""

    project_id: int
    feedback_id: uuid.UUID
    event_id: uuid.UUID
    score: int
    created_at: datetime
    kind: Literal["feedback"] = "feedback"


@dataclass(frozen=True, slots=True)
class Credential:
    """What a subscription was opened with: an API key or a dashboard login session, by id."""

    kind: Literal["key", "login"]
    id: int


@dataclass(frozen=True, slots=True)
class Revoked:
    """The subscription's credential has ended: the consumer must close its stream."""

    kind: Literal["revoked"] = "revoked"


REVOKED = Revoked()


@dataclass(frozen=True, slots=True)
class Overflow:
    """The subscriber fell behind and lost `missed` messages: it should resynchronise."""

    missed: int
    kind: Literal["overflow"] = "overflow"


LiveMessage = EventLogged | FeedbackAdded


@dataclass(frozen=True, slots=True)
class LiveFilter:
    """Which just-committed events a live stream shows; every field set must match (AND).

    The one rule for the dashboard's streams and GraphQL's `eventLogged`, kept in step with the
    stored lists (app/services/reads_events.py): ids, model and status match exactly, `tag` is
    one of the event's tags, `until` is exclusive, `search` is the stored lists' word search
    (app/services/search.py: each word starts a word of the input or the output). The other
    fields are judged on the bus message alone (which
    carries model, status and tags for this), so a stream loads only the events it shows;
    `search` needs the loaded text (`admits_text`).
    """

    session_id: str | None = None
    user_id: str | None = None
    model: str | None = None
    until: datetime | None = None
    search: str | None = None
    tag: str | None = None
    status: str | None = None

    def admits(self, message: EventLogged) -> bool:
        """Whether the message's event passes every field but `search`."""
        return (
            (self.session_id is None or self.session_id == message.session_id)
            and (self.user_id is None or self.user_id == message.user_id)
            and (self.model is None or self.model == message.model)
            and (self.until is None or message.created_at < self.until)
            and (self.tag is None or self.tag in message.tags)
            and (self.status is None or self.status == message.status)
        )

    def admits_text(self, input: str, output: str) -> bool:
        """Whether the event's text matches `search` as the stored lists' index does."""
        return not self.search or _query(self.search).matches(input, output)


EVERY_EVENT = LiveFilter()


@lru_cache(maxsize=256)
def _query(text: str) -> TextQuery:
    """A stream's search, parsed once (a stream checks it for every event it is offered)."""
    return parse_query(text)


def message_key(message: LiveMessage) -> uuid.UUID:
    """What makes a message unique: the event's or the feedback's id."""
    return message.event_id if isinstance(message, EventLogged) else message.feedback_id


class Subscription:
    """One reader's bounded view of a project's messages; use as an async context manager."""

    def __init__(
        self, bus: LiveBus, project_id: int, max_queue: int, credential: Credential | None
    ) -> None:
        self.project_id = project_id
        self.credential = credential
        self._bus = bus
        self._queue: asyncio.Queue[LiveMessage | Revoked] = asyncio.Queue(maxsize=max_queue)
        self._missed = 0
        self.closed = False
        self.revoked = False

    def offer(self, message: LiveMessage) -> None:
        """Queue a message without ever waiting; count it as missed when the queue is full."""
        if self._missed:  # after a loss, nothing more until the reader has seen the marker
            self._missed += 1
            LIVE_DROPPED.inc()
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self._missed = 1
            LIVE_DROPPED.inc()

    def pending(self) -> bool:
        """Whether `get` has something to answer at once (a message, a marker)."""
        return self.revoked or bool(self._missed) or not self._queue.empty()

    async def get(self) -> LiveMessage | Overflow | Revoked:
        """The next message in commit order, an Overflow marker after messages were lost, or
        Revoked (from then on, every time) once the credential has ended."""
        ready = self._ready()
        if ready is not None:
            return ready
        message = await self._queue.get()
        return REVOKED if self.revoked else message

    async def get_many(self, limit: int = 100) -> list[LiveMessage | Overflow | Revoked]:
        """What `get` would answer now and after, without waiting again: the next message
        (waited for), then up to `limit` in all of those already queued, ending at a marker.
        A reader that fell behind catches up in batches (one read of their events for all)."""
        first = await self.get()
        batch = [first]
        while len(batch) < limit and not isinstance(batch[-1], Overflow | Revoked):
            ready = self._ready()
            if ready is None:
                break
            batch.append(ready)
        return batch

    def _ready(self) -> LiveMessage | Overflow | Revoked | None:
        """What `get` answers without waiting, or None when it would wait."""
        if self.revoked:
            return REVOKED
        # Deliver what was queued before the loss first: it is still in order.
        if self._queue.empty():
            if not self._missed:
                return None
            missed, self._missed = self._missed, 0
            LIVE_RESYNCS.inc()
            return Overflow(missed)
        message = self._queue.get_nowait()
        return REVOKED if self.revoked else message

    def revoke(self) -> None:
        """Mark the credential ended, waking a reader that waits for a message."""
        self.revoked = True
        # A full queue has no waiting reader; its next get() sees the flag before any message.
        if not self._queue.full():
            self._queue.put_nowait(REVOKED)

    def close(self) -> None:
        """Stop receiving and release the queue."""
        if not self.closed:
            self.closed = True
            self._bus._remove(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class SharedLoads(Generic[H, V]):
    """What every subscriber of a process shows of a message, loaded (or made) once.

    Ten subscribers of a project each used to read every event back from the database (and
    render or encode it): ten reads per event, which saturated the core at 500 events/s and,
    on PostgreSQL, queued each subscriber behind the writer's pool. Here the first subscriber
    to ask for a key starts its load and the others await the same result; the keys asked for
    in one turn of the event loop (the messages of one commit) load in one `batch` call. The
    last `size` keys are remembered (a subscriber that lags by more loads them again)."""

    def __init__(
        self,
        batch: Callable[[list[H]], Awaitable[dict[H, V]]],
        size: int = SHARED_KEYS,
        *,
        weigh: Callable[[V], int] | None = None,
        max_weight: int = SHARED_BYTES,
    ) -> None:
        self._batch = batch
        self._size = size
        self._memo: OrderedDict[H, asyncio.Future[V | None]] = OrderedDict()
        self._pending: list[tuple[H, asyncio.Future[V | None]]] = []
        # What remembered values weigh (their text's length): at most `max_weight` in all.
        self._weigh = weigh
        self._max_weight = max_weight
        self._weights: dict[H, int] = {}
        self._weight = 0
        self.batches = 0  # batch calls made (tests and benchmarks read it)

    async def load(self, key: H) -> V | None:
        """The value for `key`, or None when the batch found none."""
        future = self._start(key)
        if future.done():  # loaded for an earlier subscriber: no wait, no shield to make
            return future.result()
        # Shielded: a subscriber that leaves must not cancel what others wait for.
        return await asyncio.shield(future)

    def prefetch(self, keys: Iterable[H]) -> None:
        """Start loading `keys` (in this turn's batch) for `load`s to come."""
        for key in keys:
            self._start(key)

    def _start(self, key: H) -> asyncio.Future[V | None]:
        future = self._memo.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._memo[key] = future
            self._evict()
            if not self._pending:
                asyncio.get_running_loop().call_soon(self._dispatch)
            self._pending.append((key, future))
        return future

    def _dispatch(self) -> None:
        pending, self._pending = self._pending, []
        self.batches += 1
        task = asyncio.get_running_loop().create_task(self._run(pending))
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)

    async def _run(self, pending: list[tuple[H, asyncio.Future[V | None]]]) -> None:
        try:
            found = await self._batch([key for key, _ in pending])
        except BaseException as exc:
            for key, future in pending:
                self._forget(key, future)
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for key, future in pending:
            if not future.done():
                value = found.get(key)
                future.set_result(value)
                if self._weigh is not None and value is not None and self._memo.get(key) is future:
                    self._weights[key] = weight = self._weigh(value)
                    self._weight += weight
        self._evict()

    def _evict(self) -> None:
        """Forget the oldest keys past `size`, or past `max_weight` (the newest stays)."""
        while len(self._memo) > self._size or (
            self._weight > self._max_weight and len(self._memo) > 1
        ):
            key, _ = self._memo.popitem(last=False)
            self._weight -= self._weights.pop(key, 0)

    def _forget(self, key: H, future: asyncio.Future[V | None]) -> None:
        """A failed load is not remembered: the next asker tries again."""
        if self._memo.get(key) is future:
            del self._memo[key]
            self._weight -= self._weights.pop(key, 0)


_BACKGROUND: set[asyncio.Task[Any]] = set()  # batch tasks, kept referenced until done


class LiveBus:
    """In-process fan-out of committed writes to per-project subscribers."""

    def __init__(self) -> None:
        self._subscribers: dict[int, set[Subscription]] = {}
        self._by_credential: dict[Credential, set[Subscription]] = {}
        self._recent: deque[uuid.UUID] | None = None
        self._recent_set: set[uuid.UUID] = set()
        self._shared: dict[str, SharedLoads[Any, Any]] = {}

    def shared(
        self,
        name: str,
        batch: Callable[[list[H]], Awaitable[dict[H, V]]],
        weigh: Callable[[V], int] | None = None,
    ) -> SharedLoads[H, V]:
        """The bus's `SharedLoads` called `name` (made with `batch` and `weigh` the first
        time)."""
        loads = self._shared.get(name)
        if loads is None:
            loads = self._shared[name] = SharedLoads(batch, weigh=weigh)
        return loads

    def remember(self, size: int) -> None:
        """Keep the ids of the last `size` messages, so `publish(dedupe=True)` skips repeats."""
        self._recent = deque(maxlen=size)

    def subscribe(
        self,
        project_id: int,
        *,
        credential: Credential | None = None,
        max_queue: int = DEFAULT_QUEUE_SIZE,
    ) -> Subscription:
        """Start receiving the project's messages committed from now on, for as long as
        `credential` (when given) stays valid."""
        subscription = Subscription(self, project_id, max_queue, credential)
        self._subscribers.setdefault(project_id, set()).add(subscription)
        LIVE_SUBSCRIBERS.inc()
        if credential is not None:
            self._by_credential.setdefault(credential, set()).add(subscription)
        return subscription

    def credentials(self) -> list[Credential]:
        """The credentials that open subscriptions were opened with (each once)."""
        return list(self._by_credential)

    def revoke(self, credentials: Iterable[Credential]) -> int:
        """End the subscriptions opened with these credentials; how many there were."""
        ended = 0
        for credential in credentials:
            for subscription in self._by_credential.pop(credential, ()):
                subscription.revoke()
                ended += 1
        return ended

    def publish(self, messages: Iterable[LiveMessage], *, dedupe: bool = False) -> None:
        """Hand committed messages to every subscriber of their project; never blocks.

        `dedupe` drops messages already published (a catch-up after a reconnect re-reads some).
        """
        if self._recent is not None:
            messages = self._record(messages, dedupe)
        subscribers = self._subscribers
        if not subscribers:
            return
        for message in messages:
            for subscription in subscribers.get(message.project_id, ()):
                subscription.offer(message)

    def project_ids(self) -> list[int]:
        """Projects that have at least one subscriber."""
        return list(self._subscribers)

    def _record(self, messages: Iterable[LiveMessage], dedupe: bool) -> list[LiveMessage]:
        recent, seen = self._recent, self._recent_set
        assert recent is not None
        kept: list[LiveMessage] = []
        for message in messages:
            key = message_key(message)
            if key in seen:
                if dedupe:
                    continue
            else:
                if len(recent) == recent.maxlen:
                    seen.discard(recent[0])
                recent.append(key)
                seen.add(key)
            kept.append(message)
        return kept

    def subscriber_count(self, project_id: int | None = None) -> int:
        """How many subscriptions are open (for one project, or in all)."""
        if project_id is not None:
            return len(self._subscribers.get(project_id, ()))
        return sum(len(subs) for subs in self._subscribers.values())

    def _remove(self, subscription: Subscription) -> None:
        LIVE_SUBSCRIBERS.dec()  # once per subscription: Subscription.close calls this once
        _discard(self._subscribers, subscription.project_id, subscription)
        if subscription.credential is not None:
            _discard(self._by_credential, subscription.credential, subscription)


def _discard(index: dict[K, set[Subscription]], key: K, subscription: Subscription) -> None:
    subs = index.get(key)
    if subs is not None:
        subs.discard(subscription)
        if not subs:
            del index[key]
