"""REST API (`/api/v1`): thin routes over `app.services`, and the one place errors map to HTTP."""

from fastapi import APIRouter

from app.api import events, health

PREFIX = "/api/v1"

router = APIRouter(prefix=PREFIX)
router.include_router(health.router)
for route in events.routes:
    router.add_route(PREFIX + route.path, route.endpoint, methods=sorted(route.methods or ()))

__all__ = ["PREFIX", "router"]
