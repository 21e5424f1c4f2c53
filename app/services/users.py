"""Dashboard accounts: creation with an argon2id password hash."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher

from app.errors import Conflict, Invalid
from app.services.projects import get_or_create_project
from models import Membership, User

# argon2-cffi's defaults are argon2id, t=3, m=64 MiB: above OWASP's minimum.
_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 8


async def hash_password(password: str) -> str:
    """Hash off the event loop: argon2 is deliberately slow."""
    return await asyncio.to_thread(_hasher.hash, password)


async def create_user(email: str, password: str, project_name: str | None = None) -> User:
    """Create a dashboard account, owning a project (named, or `<email>'s project`)."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise Invalid("enter a valid email address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if await User.filter(email=email).exists():
        raise Conflict(f"an account already exists for {email}")
    user = await User.create(email=email, password_hash=await hash_password(password))
    project = await get_or_create_project(project_name or f"{email}'s project")
    await Membership.create(user=user, project=project, role="owner")
    return user
