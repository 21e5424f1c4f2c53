"""Live streams end with their credential: a revoked key or an ended login session.

A GraphQL subscription or a dashboard SSE stream is authenticated once, when it opens, and may
then stay open for days. Every process runs one watcher that, every
`PHOSPHO_CREDENTIAL_RECHECK_SECONDS` (2 by default), asks the database which of the
credentials its open subscriptions were opened with are still valid (one query per kind: keys,
login sessions) and revokes the others on the live bus; their consumers close (GraphQL:
WebSocket close 4403; SSE: the stream ends). Polling the database rather than signalling a
revocation means it works whoever revoked: the dashboard in this process, another server
process on PostgreSQL, or `phospho keys revoke` from a shell. With no subscription open, a
tick costs nothing. A new GraphQL subscription checks its connection's credential at once
(app/schema/subscriptions.py): a connection outlives it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from app.live import Credential, LiveBus
from app.services.accounts import live_sessions
from app.services.keys import live_keys

log = logging.getLogger("phospho.live")

RECHECK_SECONDS = 2.0
CHUNK = 500  # ids per query: far below SQLite's and PostgreSQL's parameter limits

Checker = Callable[[list[int]], Awaitable[set[int]]]
CHECKERS: dict[Literal["key", "login"], Checker] = {"key": live_keys, "login": live_sessions}


async def ended_credentials(credentials: list[Credential]) -> list[Credential]:
    """Those of `credentials` that are no longer valid (revoked, expired, deleted)."""
    ended: list[Credential] = []
    for kind, check in CHECKERS.items():
        ids = [credential.id for credential in credentials if credential.kind == kind]
        alive: set[int] = set()
        for start in range(0, len(ids), CHUNK):
            alive |= await check(ids[start : start + CHUNK])
        ended += [Credential(kind, held) for held in ids if held not in alive]
    return ended


class CredentialWatcher:
    """Re-checks the credentials of open subscriptions and revokes the ended ones."""

    def __init__(self, bus: LiveBus, interval: float = RECHECK_SECONDS) -> None:
        self._bus = bus
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start checking in the background."""
        self._task = asyncio.create_task(self._run(), name="phospho-credential-watch")

    async def stop(self) -> None:
        """Stop checking."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def sweep(self) -> int:
        """One check: revoke the subscriptions whose credential ended; how many."""
        held = self._bus.credentials()
        if not held:
            return 0
        return self._bus.revoke(await ended_credentials(held))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.sweep()
            except Exception:  # the database out of reach: streams stay open until it is back
                log.warning("could not re-check live credentials", exc_info=True)
