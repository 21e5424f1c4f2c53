"""Dashboard accounts: sign-up, log in and out, server-side login sessions, current project.

A login session is a random token in an HttpOnly cookie; only its SHA-256 is stored, with a
per-session CSRF token and the project the dashboard shows. Logging in always makes a new
session (rotation); logging out deletes it. Passwords are argon2id, checked off the event loop,
each check reserved first by the throttle (login_throttle.py).

Nothing here tells whether an e-mail address has an account: sign-up answers the same for a
new and a taken address (its owner logs in instead), and a login fails with one message,
after an argon2 check of the same cost, whether the address is unknown or the password wrong.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.db import reader
from app.errors import Conflict, Invalid, NotFound, Unauthorized
from app.live import Credential
from app.services import login_throttle
from app.services.login_throttle import LoginLimits
from app.services.roles import Action, require
from app.services.users import create_user
from models import LoginSession, Membership, Project, User

SESSION_COOKIE = "phospho_session"  # the dashboard's login cookie (GraphQL accepts it too)
SESSION_LIFETIME = timedelta(days=14)
BAD_LOGIN = "wrong email or password"

_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class WebSession:
    """Who is signed in, which project they look at, and their CSRF token."""

    session_id: int
    user_id: int
    email: str
    project_id: int | None
    csrf_token: str

    @property
    def credential(self) -> Credential:
        """What the dashboard's live streams last as long as: this login session."""
        return Credential("login", self.session_id)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def sign_up(email: str, password: str) -> None:
    """Create an account owning its first project, unless the address has one already.

    Both cases hash the password and answer nothing: the caller then asks the person to log
    in, which works for the new account and for the owner of the taken address alike.
    """
    try:
        await create_user(email, password)
    except Conflict:
        return


async def log_in(
    email: str, password: str, address: str | None = None, limits: LoginLimits | None = None
) -> str:
    """Check the password and open a new session; returns the cookie token.

    `address` is the client's (the throttle keeps budgets per address); past a budget,
    TooManyRequests before any check.
    """
    email = email.strip().lower()
    limits = limits or LoginLimits()
    now = datetime.now(UTC)
    attempt = await login_throttle.reserve(email, login_throttle.address_key(address), limits, now)
    user = await User.filter(email=email).first()
    if not await _password_matches(user.password_hash if user else None, password) or not user:
        await login_throttle.forget_expired(limits, now)
        raise Unauthorized(BAD_LOGIN)
    await login_throttle.release(attempt)
    return await _open_session(user, now)


async def _password_matches(password_hash: str | None, password: str) -> bool:
    """Verify off the event loop; an unknown address (None) is checked against a dummy hash,
    so that both cases take the same time."""
    return await asyncio.to_thread(_verify, password_hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    """Made on first use, not at import: hashing costs ~150 ms, which every server start, CLI
    call and test subprocess paid. (Only a process's first unknown-address login pays it.)"""
    return _hasher.hash(secrets.token_urlsafe(16))


async def _open_session(user: User, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    first = await Membership.filter(user_id=user.id).order_by("id").first()
    await LoginSession.create(
        user=user,
        token_hash=_digest(token),
        csrf_token=secrets.token_urlsafe(32),
        project_id=first.project_id if first else None,  # type: ignore[attr-defined]
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    return token


async def session_for(token: str | None) -> WebSession | None:
    """The live session behind a cookie token, or None."""
    if not token or len(token) > 200:
        return None
    row = (
        await LoginSession.filter(token_hash=_digest(token), expires_at__gt=datetime.now(UTC))
        .select_related("user")
        .first()
    )
    if row is None:
        return None
    return WebSession(row.id, row.user.id, row.user.email, row.project_id, row.csrf_token)  # type: ignore[attr-defined]


async def log_out(token: str | None) -> None:
    """Delete the session behind a cookie token (nothing happens when there is none)."""
    if token:
        await LoginSession.filter(token_hash=_digest(token)).delete()


async def live_sessions(session_ids: list[int]) -> set[int]:
    """Which of these login sessions still exist and have not expired (one query)."""
    if not session_ids:
        return set()
    now = datetime.now(UTC)
    alive = LoginSession.filter(id__in=session_ids, expires_at__gt=now).using_db(reader())
    return {int(row["id"]) for row in await alive.values("id")}


def csrf_ok(session: WebSession, submitted: str | None) -> bool:
    """Whether a submitted CSRF token is this session's (compared in constant time)."""
    return bool(submitted) and hmac.compare_digest(session.csrf_token, submitted or "")


async def user_projects(user_id: int) -> list[Project]:
    """The projects a user belongs to, oldest first."""
    projects: list[Project] = await Project.filter(memberships__user_id=user_id).order_by("id")
    return projects


async def require_membership(user_id: int, project_id: int) -> Project:
    """The project, if the user belongs to it; NotFound otherwise (as if it did not exist)."""
    project = await Project.filter(id=project_id, memberships__user_id=user_id).first()
    if project is None:
        raise NotFound("project not found")
    return project


async def switch_project(session: WebSession, project_id: int) -> Project:
    """Make the dashboard show another of the user's projects."""
    project = await require_membership(session.user_id, project_id)
    await LoginSession.filter(id=session.session_id).update(project_id=project.id)
    return project


async def create_project(session: WebSession, name: str) -> Project:
    """A new project owned by the user, which the dashboard then shows."""
    project = await Project.create(name=_project_name(name))
    await Membership.create(user_id=session.user_id, project=project, role="owner")
    await LoginSession.filter(id=session.session_id).update(project_id=project.id)
    return project


async def rename_project(session: WebSession, project_id: int, name: str) -> Project:
    """Rename a project the user owns."""
    await require(session.user_id, project_id, Action.RENAME_PROJECT)
    await Project.filter(id=project_id).update(name=_project_name(name))
    return await require_membership(session.user_id, project_id)


async def add_member(session: WebSession, project_id: int, email: str) -> User:
    """Give an existing account access to a project the user owns."""
    await require(session.user_id, project_id, Action.ADD_MEMBER)
    user = await User.filter(email=email.strip().lower()).first()
    if user is None:
        raise Invalid(f"no account uses {email.strip()}: they must sign up first")
    if await Membership.filter(user_id=user.id, project_id=project_id).exists():
        raise Conflict(f"{user.email} is already a member")
    await Membership.create(user_id=user.id, project_id=project_id, role="member")
    return user


async def project_members(user_id: int, project_id: int) -> list[tuple[str, str]]:
    """(email, role) of a project's members, for one of its members."""
    await require(user_id, project_id, Action.READ)
    rows = await Membership.filter(project_id=project_id).select_related("user").order_by("id")
    return [(row.user.email, row.role) for row in rows]


def _project_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 128:
        raise Invalid("a project name must have 1 to 128 characters")
    return name
