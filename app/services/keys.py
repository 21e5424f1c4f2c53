"""API keys: creation (shown once), listing, revocation and request authentication.

`create_api_key` and `revoke_api_key` are the administrator's (the CLI's); the dashboard goes
through `create_key_as` and `revoke_key_as`, which check the user's role first (roles.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from app.db import reader
from app.errors import NotFound, Unauthorized
from app.live import Credential
from app.services.roles import Action, require
from models import ApiKey

KEY_PREFIX = "ph_"
DISPLAY_LENGTH = 11  # "ph_" + 8 characters: enough to tell keys apart, useless to an attacker
# A positive lookup is remembered briefly (KeyCache): the ingest plan re-checks every key inside
# the commit that stores its events (store.active_key_ids), so a key revoked before that commit
# stores nothing, whatever a cache still believes.
CACHE_SECONDS = 5.0
CACHE_MAX = 10_000  # entries; past it the cache starts afresh
# One message for missing, malformed, unknown and revoked keys: nothing to tell them apart.
UNAUTHORIZED_MESSAGE = "missing or invalid API key: send 'Authorization: Bearer ph_...'"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key (or, for the dashboard's cookie, the login session; key_id 0)
    and the project it reaches."""

    key_id: int
    project_id: int
    session_id: int | None = None

    @property
    def credential(self) -> Credential | None:
        """What live streams opened by this caller last as long as."""
        if self.session_id is not None:
            return Credential("login", self.session_id)
        return Credential("key", self.key_id) if self.key_id else None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A freshly created key; `secret` is the full key, available only now."""

    key: ApiKey
    secret: str


# Revocations made by this process; a KeyCache filled before the latest one starts afresh, so a
# key revoked here (dashboard or CLI) is refused at once, in every app of the process.
_revocations = 0


class KeyCache:
    """Positive lookups by exact `Authorization` header, each for CACHE_SECONDS.

    One per application (create_app keeps it in `app.state.key_cache`): nothing outlives the
    app or leaks between two apps of one process (tests build many)."""

    __slots__ = ("_entries", "_revocations")

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._revocations = _revocations

    def get(self, header: str, now: float) -> Principal | None:
        """The remembered principal for `header`, unless expired or a key was revoked since."""
        if self._revocations != _revocations:
            self.clear()
            return None
        hit = self._entries.get(header)
        return hit[0] if hit is not None and hit[1] > now else None

    def remember(self, header: str, principal: Principal, now: float) -> None:
        """Remember a successful lookup (never a failed one)."""
        if len(self._entries) > CACHE_MAX:
            self._entries.clear()
        self._entries[header] = (principal, now + CACHE_SECONDS)

    def clear(self) -> None:
        """Forget every lookup."""
        self._entries.clear()
        self._revocations = _revocations


def hash_key(secret: str) -> str:
    """SHA-256 hex digest of a key: what the database stores."""
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_api_key(project_id: int, name: str = "default") -> CreatedKey:
    """Create a key for a project; the caller must show `secret` now, it is never stored."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = await ApiKey.create(
        project_id=project_id,
        name=name,
        prefix=secret[:DISPLAY_LENGTH],
        key_hash=hash_key(secret),
    )
    return CreatedKey(key=key, secret=secret)


async def create_key_as(user_id: int, project_id: int, name: str = "default") -> CreatedKey:
    """Create a key for a signed-in user: only a project owner may (Forbidden otherwise)."""
    await require(user_id, project_id, Action.CREATE_KEY)
    return await create_api_key(project_id, name)


async def revoke_key_as(user_id: int, project_id: int, prefix: str) -> ApiKey:
    """Revoke one of a project's keys for a signed-in user: only a project owner may."""
    await require(user_id, project_id, Action.REVOKE_KEY)
    return await revoke_api_key(prefix, project_id=project_id)


async def live_keys(key_ids: list[int]) -> set[int]:
    """Which of these keys exist and are not revoked (one query)."""
    if not key_ids:
        return set()
    alive = ApiKey.filter(id__in=key_ids, revoked_at=None).using_db(reader())
    return {int(row["id"]) for row in await alive.values("id")}


async def list_api_keys(project_id: int) -> list[ApiKey]:
    """A project's keys, newest first, revoked ones included."""
    keys: list[ApiKey] = (
        await ApiKey.filter(project_id=project_id).using_db(reader()).order_by("-id").all()
    )
    return keys


async def revoke_api_key(prefix: str, project_id: int | None = None) -> ApiKey:
    """Revoke the key with this display prefix (optionally only within one project)."""
    query = ApiKey.filter(prefix=prefix, revoked_at=None)
    if project_id is not None:
        query = query.filter(project_id=project_id)
    key = await query.first()
    if key is None:
        raise NotFound(f"no active key with prefix {prefix!r}")
    key.revoked_at = datetime.now(UTC)
    await key.save(update_fields=["revoked_at"])
    global _revocations
    _revocations += 1  # every KeyCache of the process forgets its lookups
    return key


def parse_bearer(header: str | None) -> str:
    """The key from an `Authorization: Bearer ph_…` header, or Unauthorized."""
    if not header:
        raise Unauthorized(UNAUTHORIZED_MESSAGE)
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value.startswith(KEY_PREFIX) or len(value) > 200:
        raise Unauthorized(UNAUTHORIZED_MESSAGE)
    return value


async def authenticate(header: str | None, *, cache: KeyCache | None = None) -> Principal:
    """Resolve a Bearer header to its project; every failure is the same Unauthorized.

    With a `cache`, a recent success for the exact header answers without hashing or a query.
    """
    now = time.monotonic()
    if cache is not None and header is not None:
        hit = cache.get(header, now)
        if hit is not None:
            return hit
    digest = hash_key(parse_bearer(header))
    row = await ApiKey.filter(key_hash=digest, revoked_at=None).using_db(reader()).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        raise Unauthorized(UNAUTHORIZED_MESSAGE)
    principal = Principal(key_id=row.id, project_id=row.project_id)  # type: ignore[attr-defined]
    if cache is not None and header is not None:
        cache.remember(header, principal, now)
    return principal
