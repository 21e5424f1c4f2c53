"""`/api/v1/health`: liveness for load balancers and the test harness."""

from fastapi import APIRouter, Response

from app.api.responses import json_response

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness check")
async def health() -> Response:
    """Answer 200 once the server has started (database opened, migrations applied)."""
    return json_response({"status": "ok"})
