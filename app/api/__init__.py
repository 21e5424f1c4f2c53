"""REST API (`/api/v1`): thin routes over `app.services`, and the one place errors map to HTTP."""

from fastapi import APIRouter

from app.api import events, health

router = APIRouter(prefix="/api/v1")
router.include_router(events.router)
router.include_router(health.router)

__all__ = ["router"]
