"""REST API (`/api/v1`): thin routes over `app.services`, and the one place errors map to HTTP."""

from fastapi import APIRouter

from app.api import export, health, ready, users
from app.api.events import IngestRoutes
from app.api.otlp import OtlpRoutes

PREFIX = "/api/v1"

router = APIRouter(prefix=PREFIX)
router.include_router(health.router)
router.include_router(ready.router)
router.include_router(users.router)
router.include_router(export.router)

__all__ = ["PREFIX", "IngestRoutes", "OtlpRoutes", "router"]
