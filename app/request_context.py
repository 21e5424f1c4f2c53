"""What the observing middleware (app/api/observe.py) learns about a request from the layers
inside it, and the request id the log lines carry. A leaf module: the routes write here
without importing the middleware.

- `ROUTE_KEY`: the route's template, set in the ASGI scope by the routes answered ahead of
  the router (`IngestRoutes`, `OtlpRoutes`); the router's own routes leave `scope["route"]`.
- `PROJECT_KEY`: the project of the API key (or login) that authenticated the request.
- `REQUEST_ID`: the current request's id, for every log line written while it runs
  (app/logs.py adds it to JSON lines).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

ROUTE_KEY = "phospho.route"
PROJECT_KEY = "phospho.project"
REQUEST_ID: ContextVar[str | None] = ContextVar("phospho_request_id", default=None)


def note_project(scope: Any, project_id: int) -> None:
    """Remember which project the request acts for (its access log line says so)."""
    scope[PROJECT_KEY] = project_id
