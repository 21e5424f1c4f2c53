"""Projects: lookup and creation by name (the CLI's way of naming a tenant)."""

from __future__ import annotations

from app.db import reader
from app.errors import Invalid, NotFound
from models import Project


async def find_project(name: str) -> Project:
    """The single project called `name`; NotFound or Invalid when there is none or several."""
    matches = await Project.filter(name=name).using_db(reader()).limit(2)
    if not matches:
        raise NotFound(f"no project named {name!r}")
    if len(matches) > 1:
        raise Invalid(f"several projects are named {name!r}; rename one in the dashboard")
    return matches[0]


async def get_or_create_project(name: str) -> Project:
    """The project called `name`, created when missing."""
    name = name.strip()
    if not name or len(name) > 128:
        raise Invalid("a project name must have 1 to 128 characters")
    try:
        return await find_project(name)
    except NotFound:
        return await Project.create(name=name)
