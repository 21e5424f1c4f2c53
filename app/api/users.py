"""`DELETE /api/v1/users/{user_id}`: erase one end user of the key's project (GDPR).

`user_id` is the rest of the path, percent-decoded: `/` (as `%2F` or as it is), `%`, `?`, `#`
and any Unicode character work once encoded as a URL path requires. The service validates
it as the ingest does (1-256 characters, no NUL) and runs the erasure through the write path
(app/services/erasure.py). The key is checked against the database, not the app's key cache:
a key revoked a second ago erases nothing. Described by hand in app/api/openapi_erasure.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.api.auth import fresh_api_key
from app.api.responses import json_response
from app.services.erasure import forget_end_user
from app.services.keys import Principal

router = APIRouter(tags=["users"])


@router.delete("/users/{user_id:path}", include_in_schema=False)
async def delete_end_user(
    request: Request, user_id: str, principal: Annotated[Principal, Depends(fresh_api_key)]
) -> Response:
    """Delete every row of the end user `user_id` and subtract it from the rollups; 200 with
    the counts of what was deleted (zeros when there was nothing: a repeat)."""
    erased = await forget_end_user(
        request.app.state.ingestor, principal.project_id, user_id, ("path", "user_id")
    )
    return json_response({"user_id": user_id, **erased.as_dict()})
