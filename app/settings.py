"""Configuration: one pydantic-settings class, every field read from a `PHOSPHO_` variable."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FILE_NAME = "secret_key"  # noqa: S105 (a file name, not a secret)
PRIVATE_DIR_MODE = 0o700  # the data directory: its owner only
PRIVATE_FILE_MODE = 0o600  # the database, its -wal/-shm, the .lock file, secret_key

log = logging.getLogger("phospho.settings")


def private_dir(path: Path) -> None:
    """Create `path` 0700, or tighten it when this user owns it.

    A directory with the sticky bit (such as /tmp) is shared by design: it is left alone, with
    a warning, rather than made unusable for everyone else.
    """
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_mode & 0o077 == 0:
        return
    if info.st_uid != os.geteuid() or info.st_mode & stat.S_ISVTX:
        log.warning("%s is readable by other users; make it private (chmod 700)", path)
        return
    path.chmod(PRIVATE_DIR_MODE)


def private_file(path: Path) -> None:
    """Tighten an existing file to 0600 (nothing happens when it does not exist)."""
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(PRIVATE_FILE_MODE)
    except FileNotFoundError:
        return
    except PermissionError:  # another user's file: say so rather than refuse to start
        log.warning("%s is readable by other users; make it private (chmod 600)", path)


RATE_PATTERN = r"^(\s*|\s*[1-9][0-9]*\s*/\s*(second|minute|hour)\s*)$"
# One web origin: scheme, host and optional port, nothing after (what a browser's Origin says).
_ORIGIN = r"\s*https?://[A-Za-z0-9.\-\[\]:]+\s*"
ORIGINS_PATTERN = rf"^(\s*|{_ORIGIN}(,{_ORIGIN})*)$"


def _at_least_one(default: int, description: str) -> Any:
    """A count or limit that must be 1 or more."""
    return Field(default=default, ge=1, description=description)


class Settings(BaseSettings):
    """Server settings; each field is documented in the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="PHOSPHO_", extra="ignore")

    data_dir: Path = Field(
        default=Path("./data"),
        description=(
            "Directory for the embedded SQLite database and the generated secret key; "
            "created 0700, its files 0600."
        ),
    )
    database_url: str = Field(
        default="",
        description=(
            "Database URL: `sqlite://PATH` or `postgres://USER:PASSWORD@HOST:PORT/DB`. "
            "Empty means the embedded SQLite file `DATA_DIR/phospho.sqlite3`."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Address `phospho serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `phospho serve` listens on.")
    secret_key: str = Field(
        default="",
        description=(
            "Signs feedback tokens (through a key derived from it; changing it ends every "
            "token given out); generated and kept in `DATA_DIR/secret_key` when empty. Every "
            "server process of one database needs the same one."
        ),
    )
    signup_enabled: bool = Field(
        default=True,
        description="Whether anyone may create a dashboard account at /signup.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body accepted (bytes); larger bodies get 413.",
    )
    max_batch_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description=(
            "Largest body accepted by POST /api/v1/events/batch (bytes), and by OTLP's "
            "/v1/traces, /v1/metrics and /v1/logs on the wire and once decompressed."
        ),
    )
    commit_batch_max: int = _at_least_one(
        512,
        "Most requests committed together in one group-commit transaction.",
    )
    forwarded_allow_ips: str = Field(
        default="",
        description=(
            "Proxies whose X-Forwarded-For and X-Forwarded-Proto `phospho serve` believes: "
            "comma-separated addresses or networks, `*` for any. Empty: none, the client's "
            "address is the socket's."
        ),
    )
    login_failures_per_account_address: int = _at_least_one(
        5,
        (
            "Failed logins one client address may make on one account within the login "
            "window; the next attempts get 429 with Retry-After."
        ),
    )
    login_failures_per_address: int = _at_least_one(
        30,
        "Failed logins one client address may make on all accounts within the window.",
    )
    login_failures_per_account: int = _at_least_one(
        100,
        (
            "Failed logins on one account from all addresses within the window; past it, an "
            "address that already failed on that account gets 429."
        ),
    )
    login_window_seconds: int = _at_least_one(
        900,
        "The window (seconds) over which failed logins are counted.",
    )
    credential_recheck_seconds: float = Field(
        default=2.0,
        gt=0,
        le=3600,
        description=(
            "How often each server process re-checks the API keys and login sessions of its "
            "open live streams: a revoked key's subscriptions and an ended session's streams "
            "close within about this time (WebSocket code 4403)."
        ),
    )
    graphql_max_cost: int = _at_least_one(
        25_000,
        (
            "Largest estimated cost of a GraphQL operation (every object in the answer counts "
            "1, lists multiply their contents by their length); above it the operation is "
            "refused before it runs (error code `query_too_costly`)."
        ),
    )
    graphql_max_response_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description=(
            "Largest GraphQL answer (bytes); a larger one is refused before its text is loaded "
            "(error code `response_too_large`)."
        ),
    )
    max_in_flight: int = _at_least_one(
        64,
        (
            "Most requests the server works on at once (from their headers until their answer; "
            "health checks and live streams excluded). Past it a request gets 503 with "
            "Retry-After at once."
        ),
    )
    max_in_flight_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description=(
            "Most body bytes (as announced by Content-Length) of the requests in flight; a "
            "body counts for at most a quarter of it. Past it, 503 with Retry-After at once."
        ),
    )
    write_queue_max: int = _at_least_one(
        20_000,
        (
            "Most events waiting for their group commit (a batch counts each event). Past it a "
            "write gets 503 with Retry-After; a job is always taken when the queue is empty."
        ),
    )
    rate_limit: str = Field(
        default="",
        description=(
            "Requests each API key may make, as `N/second`, `N/minute` or `N/hour` (a token "
            "bucket of N that refills at that rate); past it, 429 with Retry-After. Empty: off."
        ),
        pattern=RATE_PATTERN,
    )
    # Feedback from the browser (app/api/feedback_tokens.py).
    feedback_token_ttl_seconds: int = Field(
        default=86_400,
        ge=1,
        le=366 * 86_400,
        description=(
            "How long after an event is logged its `feedback_token` (in every log answer) "
            "lets anyone holding it rate that event through POST /api/v1/feedback."
        ),
    )
    feedback_rate_limit_per_token: str = Field(
        default="10/minute",
        description=(
            "Requests one feedback token may make to POST /api/v1/feedback, as `N/second`, "
            "`N/minute` or `N/hour`; past it, 429 with Retry-After. Empty: off."
        ),
        pattern=RATE_PATTERN,
    )
    feedback_rate_limit_per_address: str = Field(
        default="120/minute",
        description=(
            "Requests one client address (an IPv6 client by its /64) may make to "
            "POST /api/v1/feedback, whatever the token; past it, 429 with Retry-After. "
            "Empty: off."
        ),
        pattern=RATE_PATTERN,
    )
    cors_origins: str = Field(
        default="",
        description=(
            "Web origins whose pages may send feedback with POST /api/v1/feedback, "
            "comma-separated (`https://app.example.com,http://localhost:3000`); only that "
            "route answers CORS, and a request from any other origin is refused (403). Empty: "
            "none."
        ),
        pattern=ORIGINS_PATTERN,
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a request's headers may take to arrive; then 408 and the "
        "connection is closed.",
    )
    body_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a request's body may take to arrive after its headers; then 408, "
        "the connection is closed and nothing of the request is stored.",
    )
    idle_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds a connection may stay open without starting a request (a new "
        "one, or kept alive after an answer) before the server closes it.",
    )
    retention_days: int = Field(
        default=0,
        ge=0,
        le=36_500,
        description=(
            "Days of events kept: older events are deleted with their feedback and tags, and "
            "sessions and end users left without events (the rollups behind the Overview stay). "
            "A project's own setting (Settings → Project) overrides it. 0: forever."
        ),
    )
    rollup_retention_days: int = Field(
        default=0,
        ge=0,
        le=36_500,
        description=(
            "Days of rollups (the Overview's charts and totals) kept, in whole UTC days; "
            "older rollup rows are deleted. 0: forever."
        ),
    )
    retention_sweep_seconds: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description=(
            "How often the server applies the retention windows (the first time a little "
            "after it starts: at most 30 seconds)."
        ),
    )
    retention_chunk_events: int = Field(
        default=40,
        ge=10,
        le=20_000,
        description=(
            "Expired events deleted per chunk (one share of a write transaction) by a sweep."
        ),
    )
    retention_pause_factor: float = Field(
        default=5.0,
        ge=0,
        le=100,
        description=(
            "After each chunk the server's sweeper waits this many times the chunk's own "
            "time, so that ingest keeps the writer (0: no pause)."
        ),
    )
    log_level: str = Field(default="info", description="Log level of the server.")
    access_log: bool = Field(default=False, description="Log one line per HTTP request.")

    # /metrics and the log format (app/api/observe.py, app/logs.py).
    metrics_token: str = Field(
        default="",
        description=(
            "Bearer token GET /metrics requires (`Authorization: Bearer <token>`). Empty: "
            "/metrics is open (keep it off the public network then)."
        ),
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description=(
            "`text` (uvicorn's lines) or `json`: one JSON object per line for every log line, "
            "with the request id, route, status, duration and project of request lines."
        ),
    )

    # Alerts and webhooks (app/services/alerts/).
    alert_evaluate_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How often the server evaluates every project's alert rules.",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description=(
            "Allow alert destinations on loopback, private, link-local and other non-public "
            "addresses (off: a project owner cannot make the server probe its network)."
        ),
    )
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="How long one delivery attempt of an alert message may take.",
    )
    webhook_backoff_seconds: float = Field(
        default=2.0,
        ge=0,
        le=600,
        description=(
            "Wait before the second try of a failed delivery (the third waits twice as long); "
            "after three tries it is marked failed."
        ),
    )

    # `phospho serve --workers N` (app/workers.py).
    workers: int = Field(
        default=1,
        ge=1,
        le=64,  # app/workers.py's MAX_WORKERS
        description=(
            "Server processes `phospho serve` runs on its port (PostgreSQL only: SQLite has "
            "one writer). `--workers` overrides it."
        ),
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite://{self.data_dir / 'phospho.sqlite3'}"

    @property
    def cors_origin_list(self) -> frozenset[str]:
        """The origins of `cors_origins`, lower-case without a trailing slash."""
        return frozenset(
            origin.strip().lower() for origin in self.cors_origins.split(",") if origin.strip()
        )

    @property
    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite file."""
        return self.resolved_database_url.startswith("sqlite:")

    def ensure_secret_key(self) -> str:
        """Return the secret key, generating and storing one in the data directory if unset.

        Also makes the data directory private (it runs at every start).
        """
        if self.secret_key:
            if self.data_dir.is_dir():
                private_dir(self.data_dir)
            return self.secret_key
        private_dir(self.data_dir)
        path = self.data_dir / SECRET_FILE_NAME
        if path.exists():
            private_file(path)
            self.secret_key = path.read_text().strip()
            return self.secret_key
        key = secrets.token_urlsafe(48)
        # O_EXCL: two processes starting at once must not each write a different key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            self.secret_key = path.read_text().strip()
            return self.secret_key
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        self.secret_key = key
        return key
