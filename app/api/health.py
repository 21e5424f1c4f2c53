"""`/api/v1/health`: liveness for load balancers and the test harness."""

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel

from app.api.responses import json_response

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The health answer's body."""

    status: Literal["ok"]


@router.get(
    "/health",
    summary="Liveness check",
    operation_id="health",
    response_model=None,
    responses={200: {"model": Health, "description": "The server is up"}},
)
async def health() -> Response:
    """Answer 200 once the server has started (database opened, migrations applied)."""
    return json_response({"status": "ok"})
