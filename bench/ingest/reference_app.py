"""Reference app: phospho's ingest API shape (body, Bearer check, 201 response) storing nothing.

It is what the benchmark compares phospho with: an idiomatic FastAPI endpoint that parses and
validates the same body with pydantic and answers the same JSON, without touching a database.
Run it as `python bench/ingest/reference_app.py --port P`; it accepts one fixed key, read from
BENCH_REFERENCE_KEY at start (the benchmark passes phospho's key so both get identical requests).
"""

from __future__ import annotations

import argparse
import hmac
import os
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import uvicorn
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, Field

DEFAULT_KEY = "ph_reference-benchmark-key"


class EventIn(BaseModel):
    """One event, as phospho's POST /api/v1/events takes it."""

    input: str
    output: str
    session_id: str | None = None
    user_id: str | None = None
    metadata: dict[str, Any] | None = None
    event_id: uuid.UUID | None = None


class BatchIn(BaseModel):
    """The batch body: up to 1000 events."""

    events: list[EventIn] = Field(min_length=1, max_length=1000)


class EventOut(BaseModel):
    """The answer for one event."""

    event_id: str
    session_id: str
    created_at: str


class BatchOut(BaseModel):
    """The answer for a batch, in input order."""

    results: list[EventOut]


def _acknowledge(event: EventIn) -> EventOut:
    return EventOut(
        event_id=str(event.event_id or uuid.uuid4()),
        session_id=event.session_id or uuid.uuid4().hex,
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    )


def create_app(key: str) -> FastAPI:
    """The reference application accepting `key` as its only Bearer key."""
    expected = key.encode()
    app = FastAPI(title="phospho-bench-reference")

    def check(authorization: str | None) -> None:
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), expected):
            raise HTTPException(401, "missing or invalid API key")

    @app.post("/api/v1/events", status_code=201)
    async def log_event(
        event: EventIn, authorization: Annotated[str | None, Header()] = None
    ) -> EventOut:
        check(authorization)
        return _acknowledge(event)

    @app.post("/api/v1/events/batch", status_code=201)
    async def log_events(
        batch: BatchIn, authorization: Annotated[str | None, Header()] = None
    ) -> BatchOut:
        check(authorization)
        return BatchOut(results=[_acknowledge(event) for event in batch.events])

    @app.get("/api/v1/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    """Serve with the same uvicorn settings as `phospho serve` (one worker, no access log)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    key = os.environ.get("BENCH_REFERENCE_KEY", DEFAULT_KEY)
    uvicorn.run(
        create_app(key),
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=False,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
