"""Field permissions: every root field declares one (a test checks that none is missing)."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from app.services.keys import UNAUTHORIZED_MESSAGE


class ProjectKey(BasePermission):
    """The caller presented a valid API key; everything it sees is that key's project."""

    message = UNAUTHORIZED_MESSAGE

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        """Whether the request (or WebSocket connection) is authenticated."""
        return bool(info.context.is_authenticated)
