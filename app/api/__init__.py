"""REST API (`/api/v1`): thin routes over `app.services`, and the one place errors map to HTTP."""

from fastapi import APIRouter
from starlette.routing import Route

from app.api import events, health

PREFIX = "/api/v1"

router = APIRouter(prefix=PREFIX)
router.include_router(health.router)


def ingest_routes() -> list[Route]:
    """The ingest routes with their full paths, to be matched before anything else."""
    return [
        Route(PREFIX + route.path, route.endpoint, methods=sorted(route.methods or ()))
        for route in events.routes
    ]


__all__ = ["PREFIX", "ingest_routes", "router"]
