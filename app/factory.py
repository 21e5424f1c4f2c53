"""`create_app(settings)`: builds the whole application; nothing happens at import time."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import api
from app.api.errors import FaultBarrier, install_error_handlers
from app.api.feedback_tokens import TokenFeedbackRoute, feedback_limiters
from app.api.observe import RequestObserver
from app.api.openapi import document_ingest_routes
from app.api.prometheus import MetricsEndpoint
from app.db import (
    DatabaseConfigError,
    apply_migrations,
    close_orm,
    dialect_of,
    init_orm,
    pending_migrations,
    reader,
)
from app.limits import BodyLimitMiddleware
from app.live import LiveBus
from app.live_pg import PostgresBridge
from app.schema.schema import build_router as build_graphql_router
from app.services import pricing
from app.services.alerts.evaluator import Evaluator, delivery_settings
from app.services.database_size import DatabaseSize
from app.services.feedback_tokens import FeedbackTokens
from app.services.ingest import Ingestor
from app.services.keys import KeyCache
from app.services.ratelimit import KeyRateLimiter, parse_rate
from app.services.readiness import Readiness
from app.services.retention_sweeper import Sweeper, sweep_settings
from app.services.revocation import CredentialWatcher
from app.services.write_backends import write_backend_for
from app.settings import Settings
from web import install_web

log = logging.getLogger("phospho")


async def prepare_database(settings: Settings) -> None:
    """SQLite: apply pending migrations. PostgreSQL: refuse to start until `phospho migrate`."""
    url = settings.resolved_database_url
    if settings.is_sqlite:
        applied = await apply_migrations(url)
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        return
    pending = await pending_migrations(url)
    if pending:
        raise DatabaseConfigError(
            f"the database has {len(pending)} pending migration(s); run `phospho migrate` first"
        )


async def warn_if_rollups_missing() -> None:
    """Events stored before rollups existed (an upgraded database) are not in the metrics until
    `phospho rollups rebuild` runs: say so at start rather than show a silently empty overview."""
    db = reader()
    has_events = await db.execute_query_dict("SELECT 1 AS x FROM events LIMIT 1")
    has_rollups = await db.execute_query_dict("SELECT 1 AS x FROM metric_rollups LIMIT 1")
    if has_events and not has_rollups:
        log.warning(
            "events are stored but the metrics rollups are empty (a database from before "
            "metrics): stop the server and run `phospho rollups rebuild` once"
        )


def tune_gc() -> None:
    """Freeze start-up objects out of the collector and collect the young generation less often.

    Measured under load: default thresholds made the collector run every few requests, costing
    ~18 µs per request and tripling p99 latency (long-lived start-up objects were re-scanned).
    No full collection first: it cost ~80 ms of every start to free ~900 of ~190,000 objects
    (measured), which stay frozen instead.
    """
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    gc.enable()  # `phospho serve` starts with it off (app/cli.py's main)


async def preflight(settings: Settings) -> None:
    """Everything start-up checks, run once before serving so errors print as one clear line."""
    await prepare_database(settings)
    await init_orm(settings)
    await close_orm()
    backend = write_backend_for(settings.resolved_database_url)
    await backend.open()  # e.g. refuses a second server on one SQLite file
    await backend.close()


@asynccontextmanager
async def running(
    settings: Settings,
    ingestor: Ingestor,
    *,
    prepared: bool = False,
    readiness: Readiness | None = None,
) -> AsyncIterator[None]:
    """Everything the server holds while it runs: database, writer, live bridge. `prepared`:
    `preflight` has just checked (and on SQLite migrated) the database; `readiness` is told
    the parts it checks."""
    ingestor.feedback_tokens.use_secret(settings.ensure_secret_key())
    if not prepared:
        await prepare_database(settings)
    await init_orm(settings)
    await warn_if_rollups_missing()
    backend = write_backend_for(settings.resolved_database_url)
    await ingestor.start(backend)
    sweeper = Sweeper(ingestor, sweep_settings(settings))  # retention (app/services/retention.py)
    sweeper.start()
    bridge = None
    if not settings.is_sqlite:
        bridge = PostgresBridge(ingestor.bus, settings.resolved_database_url, ingestor.origin)
        await bridge.start()
    if readiness is not None:  # GET /api/v1/ready (app/services/readiness.py)
        readiness.attach(backend, bridge)
    pricing.load()
    # Ends live streams whose key was revoked or whose login session ended.
    watcher = CredentialWatcher(ingestor.bus, settings.credential_recheck_seconds)
    watcher.start()
    # Alert rules, every PHOSPHO_ALERT_EVALUATE_SECONDS (app/services/alerts/evaluator.py).
    alerts = Evaluator(settings.alert_evaluate_seconds, delivery_settings(settings))
    alerts.start()
    tune_gc()
    try:
        yield
    finally:
        await alerts.stop()
        await watcher.stop()
        await sweeper.stop()
        await ingestor.stop()
        if bridge is not None:
            await bridge.stop()
        await close_orm()


def create_app(settings: Settings | None = None, *, prepared: bool = False) -> FastAPI:
    """The ASGI application for `settings` (read from the environment when omitted).

    `prepared`: `preflight(settings)` has just run (`phospho serve`), so starting does not
    check the migrations a second time (~15 ms of the cold start)."""
    settings = settings or Settings()
    ingestor = Ingestor(max_batch=settings.commit_batch_max, bus=LiveBus())
    ingestor.feedback_tokens = FeedbackTokens(settings.feedback_token_ttl_seconds)
    ingestor.writer.limit_queue(settings.write_queue_max)
    rate = parse_rate(settings.rate_limit)
    limiter = KeyRateLimiter(rate) if rate else None
    keys = KeyCache()
    readiness = Readiness(dialect_of(settings.resolved_database_url), ingestor.writer)
    app = FastAPI(
        title="phospho",
        version="0.1.0",
        lifespan=lambda _app: running(settings, ingestor, prepared=prepared, readiness=readiness),
        docs_url="/api/docs",
        # FastAPI's native OpenTelemetry looks up providers on every request (~12 µs measured
        # under load) even when none is configured; phospho does not export telemetry.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.ingestor = ingestor
    app.state.live = ingestor.bus
    app.state.rate_limiter = limiter  # GraphQL requests by API key (app/schema/context.py)
    app.state.key_cache = keys  # recent API-key lookups (REST ingest and GraphQL)
    app.state.readiness = readiness  # GET /api/v1/ready
    install_error_handlers(app)
    document_ingest_routes(app)
    app.include_router(api.router)
    app.include_router(build_graphql_router(settings.graphql_max_response_bytes), prefix="/graphql")
    install_web(app)
    # Feedback with a log answer's token instead of a key, the only route with CORS
    # (app/api/feedback_tokens.py); inside the ingest routes, so they never pass through it.
    app.add_middleware(
        TokenFeedbackRoute,
        ingestor=ingestor,
        tokens=ingestor.feedback_tokens,
        origins=settings.cors_origin_list,
        limiters=feedback_limiters(
            parse_rate(settings.feedback_rate_limit_per_token),
            parse_rate(settings.feedback_rate_limit_per_address),
        ),
    )
    # The ingest routes take nearly all traffic: answered ahead of the router (app/api/events.py),
    # inside the body limit (the middleware added last is the outer one).
    app.add_middleware(api.IngestRoutes, ingestor=ingestor, keys=keys, limiter=limiter)
    app.add_middleware(
        BodyLimitMiddleware,
        default=settings.max_body_bytes,
        per_path={api.events.BATCH: settings.max_batch_body_bytes},
    )
    # OTLP/HTTP (app/api/otlp.py): outside the body limit, which it applies itself after
    # inflating, so that even its 413 is an OTLP answer.
    app.add_middleware(
        api.OtlpRoutes,
        ingestor=ingestor,
        keys=keys,
        limiter=limiter,
        max_body=settings.max_batch_body_bytes,
    )
    app.add_middleware(FaultBarrier)  # a 500 leaves the connection usable
    # --- observe (issue 22): outermost, so that it sees every answer, the barrier's 500s too:
    # request id, metrics, access line; it answers GET /metrics (app/api/observe.py).
    metrics = MetricsEndpoint(settings.metrics_token, DatabaseSize(settings.resolved_database_url))
    log_requests = settings.access_log and settings.log_format == "json"
    app.add_middleware(RequestObserver, metrics=metrics, log_requests=log_requests)
    # --- end observe
    return app
