"""What each role may do in a project: the table the README shows, checked by every service.

A project has one or more owners (whoever created it) and members (added by an owner).
Members read everything an owner reads; only owners change the project or its credentials.
Services call `require` before acting, so a hidden button is never the only guard.
"""

from __future__ import annotations

from enum import StrEnum

from app.errors import Forbidden, NotFound
from models import Membership


class Action(StrEnum):
    """Something a signed-in user may do in a project (the README's roles table)."""

    READ = "read events, sessions, users, the overview and live streams; list the API keys"
    CREATE_KEY = "create an API key"
    REVOKE_KEY = "revoke an API key"
    RENAME_PROJECT = "rename the project"
    ADD_MEMBER = "add a member"
    ERASE_END_USER = "erase an end user's data"
    SET_RETENTION = "change how long the project keeps its events"
    MANAGE_ALERTS = "change the project's alert rules and destinations"


OWNER = "owner"
MEMBER = "member"
ALLOWED: dict[str, frozenset[Action]] = {
    OWNER: frozenset(Action),
    MEMBER: frozenset({Action.READ}),
}


def may(role: str, action: Action) -> bool:
    """Whether `role` allows `action` (an unknown role allows nothing)."""
    return action in ALLOWED.get(role, frozenset())


async def role_of(user_id: int, project_id: int) -> str:
    """The user's role in a project; NotFound (as if it did not exist) when they have none."""
    found = await Membership.filter(user_id=user_id, project_id=project_id).first()
    if found is None:
        raise NotFound("project not found")
    return found.role


async def require(user_id: int, project_id: int, action: Action) -> str:
    """The user's role, if it allows `action`; NotFound for a non-member, Forbidden otherwise."""
    role = await role_of(user_id, project_id)
    if not may(role, action):
        raise Forbidden(f"only the project's owner can {action.value}")
    return role
