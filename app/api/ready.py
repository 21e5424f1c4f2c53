"""`GET /api/v1/ready`: readiness for load balancers (app/services/readiness.py).

200 `{"status": "ready"}`, or 503 with `Retry-After` and every check's state. No
authentication (load balancers call it) and nothing sensitive in the answer. Admission
control lets it through like the live streams (app/admission.py): a process at capacity
still says whether its database, writer and LISTEN link work, so that a load balancer does
not take every busy server out at once. Described by FastAPI from the models below.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from app.api.responses import json_response
from app.services.readiness import OK

router = APIRouter(tags=["health"])
RETRY_AFTER = "5"


class Ready(BaseModel):
    """The answer when every check passes."""

    status: Literal["ready"]


class Checks(BaseModel):
    """Each check's state: `ok`, or why it fails."""

    database: str = Field(
        description="The reader and the writer's connection each answer a query within 1 s"
    )
    migrations: str = Field(description="No migration of this release is missing")
    writer: str = Field(description="The group-commit writer runs")
    live: str | None = Field(
        default=None, description="PostgreSQL only: the LISTEN connection is up"
    )


class NotReady(BaseModel):
    """The answer when a check fails."""

    status: Literal["not ready"]
    checks: Checks


@router.get(
    "/ready",
    summary="Readiness check",
    operation_id="ready",
    response_model=None,
    responses={
        200: {"model": Ready, "description": "Ready: send traffic"},
        503: {
            "model": NotReady,
            "description": "Not ready: a check failed (named in `checks`); send traffic elsewhere",
            "headers": {
                "Retry-After": {
                    "description": "Seconds before asking again",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0},
                }
            },
        },
    },
)
async def ready(request: Request) -> Response:
    """200 when the database answers within 1 s, no migration is pending, the writer runs and
    (PostgreSQL) the LISTEN link is up; else 503 naming each check's state."""
    checks = await request.app.state.readiness.check()
    if all(state == OK for state in checks.values()):
        return json_response({"status": "ready"})
    body = {"status": "not ready", "checks": checks}
    return json_response(body, 503, {"Retry-After": RETRY_AFTER})
