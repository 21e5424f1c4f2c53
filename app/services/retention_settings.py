"""A project's retention window as its owner sets it (Settings → Project): read for every
member, changed by owners only (`Action.SET_RETENTION`), validated with messages a person can
act on."""

from __future__ import annotations

import re

from app.errors import Invalid
from app.services.accounts import WebSession
from app.services.retention import MAX_DAYS
from app.services.roles import Action, require
from models import Project

MAX_DIGITS = 12  # longer text is refused before it is parsed
_WHOLE = re.compile(r"-?[0-9]+")


def parse_days(text: str) -> int | None:
    """The window a form field gives: None for an empty field (the server's default), else
    whole days from 0 (forever) to MAX_DAYS; Invalid, saying why, for anything else."""
    value = text.strip()
    if not value:
        return None
    if not _WHOLE.fullmatch(value):
        raise Invalid("enter a whole number of days (0 keeps events forever), or leave it empty")
    if value.startswith("-"):
        raise Invalid("the number of days cannot be negative (0 keeps events forever)")
    if len(value) > MAX_DIGITS or int(value) > MAX_DAYS:
        raise Invalid(f"at most {MAX_DAYS} days (100 years); 0 keeps events forever")
    return int(value)


async def set_project_window(session: WebSession, project_id: int, text: str) -> int | None:
    """Set the window of a project the user owns (NotFound for others' projects, Forbidden
    for a member); the value stored."""
    await require(session.user_id, project_id, Action.SET_RETENTION)
    days = parse_days(text)
    await Project.filter(id=project_id).update(retention_days=days)
    return days
