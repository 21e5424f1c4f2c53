"""The Prometheus instruments every part of the server records into (`GET /metrics` renders
them: app/api/prometheus.py). A leaf module: it imports nothing of phospho's, so the protocol,
the live bus and the write path can all import it.

They live in a registry of their own (`REGISTRY`), not prometheus-client's global one, so that
importing phospho registers nothing in a host application's registry. With
`PROMETHEUS_MULTIPROC_DIR` set before prometheus-client is imported (`phospho serve --workers
N` sets it before any worker starts), every value is kept in that directory's memory-mapped
files, one per process, and a scrape sums them (`MultiProcessCollector`). The gauges say how:
`livesum` (the sum over the processes still running) for what each process holds right now.

Cost (measured in-process, single process): a counter's `inc` ~0.3 µs, a histogram's `observe`
~1 µs; per request the middleware does one of each (app/api/observe.py), against ~250 µs for
one stored event. Children are looked up once and kept (`labels()` costs ~1.5 µs).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

# Requests answered by the application (app/api/observe.py). `route` is the route's template
# (`/api/v1/events/{event_id}/feedback`), "other" for a path no route matches: the series stay
# bounded whatever paths clients send.
HTTP_REQUESTS = Counter(
    "phospho_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ("route", "method", "status"),
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "phospho_http_request_duration_seconds",
    "Time from a request's start to the end of its answer, by route template.",
    ("route",),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
# Answered by the protocol before any ASGI task exists (app/http_protocol.py, app/admission.py).
REFUSED = Counter(
    "phospho_admission_refused",
    "Requests refused with 503 by admission control, by reason: in_flight (the in-flight "
    "bound), in_flight_bytes (the bound on announced body bytes), pipelined (a pipelined "
    "request behind its connection's running one found no room).",
    ("reason",),
    registry=REGISTRY,
)
READ_TIMEOUTS = Counter(
    "phospho_http_read_timeouts",
    "Connections closed because a request's headers or body did not arrive in time.",
    ("part",),
    registry=REGISTRY,
)
HEALTH_CHECKS = Counter(
    "phospho_health_checks",
    "GET /api/v1/health answered by the protocol (not counted in phospho_http_requests).",
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "phospho_rate_limited",
    "Requests refused with 429 by a rate limit: api_key (PHOSPHO_RATE_LIMIT), login (the "
    "login throttle), feedback_token or feedback_address (POST /api/v1/feedback).",
    ("limit",),
    registry=REGISTRY,
)

# The write path (app/services/writer.py, app/services/ingest.py): counted after COMMIT, by
# what was stored (an idempotent retry of a stored event_id stores nothing and counts nothing).
EVENTS_STORED = Counter(
    "phospho_events_stored", "Events durably stored (after COMMIT).", registry=REGISTRY
)
FEEDBACK_STORED = Counter(
    "phospho_feedback_stored", "Feedback durably stored (after COMMIT).", registry=REGISTRY
)
COMMIT_SIZE = Histogram(
    "phospho_commit_jobs",
    "Jobs (requests' writes) per group-commit transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
    registry=REGISTRY,
)
COMMIT_LATENCY = Histogram(
    "phospho_commit_duration_seconds",
    "Time to run and commit one group-commit transaction.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
WRITE_QUEUE = Gauge(
    "phospho_write_queue_events",
    "Events queued for the writer or being committed (set at each group commit).",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)

# The live bus (app/live.py).
LIVE_SUBSCRIBERS = Gauge(
    "phospho_live_subscribers",
    "Open live subscriptions (GraphQL eventLogged, the dashboard's streams).",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
LIVE_DROPPED = Counter(
    "phospho_live_messages_dropped",
    "Live messages a subscriber lost because its queue was full.",
    registry=REGISTRY,
)
LIVE_RESYNCS = Counter(
    "phospho_live_resyncs",
    "Times a subscriber that fell behind was told to resynchronise from the database.",
    registry=REGISTRY,
)

# Alerts (app/services/alerts/): one count per delivery when it ends, by outcome.
ALERT_DELIVERIES = Counter(
    "phospho_alert_deliveries",
    "Alert messages whose delivery ended, by status: delivered, or failed after three tries.",
    ("status",),
    registry=REGISTRY,
)
ALERT_TRANSITIONS = Counter(
    "phospho_alert_transitions",
    "Alert rule state changes this process recorded (and so sent), by the new state.",
    ("state",),
    registry=REGISTRY,
)
