"""Dashboard accounts: creation with an argon2id password hash."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.db import WRITER
from app.errors import Conflict, Invalid
from app.services.projects import get_or_create_project
from models import Membership, Project, User

# argon2-cffi's defaults are argon2id, t=3, m=64 MiB: above OWASP's minimum.
_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 8


async def hash_password(password: str) -> str:
    """Hash off the event loop: argon2 is deliberately slow."""
    return await asyncio.to_thread(_hasher.hash, password)


async def create_user(email: str, password: str, project_name: str | None = None) -> User:
    """Create a dashboard account owning a project: the one named `project_name` (created when
    missing: the CLI's way), or a new `<email>'s project`.

    A taken address is a Conflict after the same work as a new one (the hash, an insert the
    unique index refuses), so its answer comes no faster. The default project is always a new
    one: reusing a project found by that name would hand its data to whoever named it so.
    """
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise Invalid("enter a valid email address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    password_hash = await hash_password(password)
    try:
        async with in_transaction(WRITER):
            user = await User.create(email=email, password_hash=password_hash)
            if project_name:
                project = await get_or_create_project(project_name)
            else:
                project = await Project.create(name=f"{email}'s project"[:128])
            await Membership.create(user=user, project=project, role="owner")
    except IntegrityError:
        raise Conflict(f"an account already exists for {email}") from None
    return user
