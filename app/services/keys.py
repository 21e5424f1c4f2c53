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
# A positive lookup is remembered briefly: the ingest path re-checks every key inside its
# commit (see store.verify_keys), so a revoked key never stores anything after revocation.
CACHE_SECONDS = 5.0
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


_cache: dict[str, tuple[Principal, float]] = {}


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
    forget_cached_keys()
    return key


def forget_cached_keys() -> None:
    """Drop remembered lookups (after a revocation in this process)."""
    _cache.clear()


def parse_bearer(header: str | None) -> str:
    """The key from an `Authorization: Bearer ph_…` header, or Unauthorized."""
    if not header:
        raise Unauthorized(UNAUTHORIZED_MESSAGE)
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value.startswith(KEY_PREFIX) or len(value) > 200:
        raise Unauthorized(UNAUTHORIZED_MESSAGE)
    return value


async def authenticate(header: str | None, *, allow_cached: bool = False) -> Principal:
    """Resolve a Bearer header to its project; every failure is the same Unauthorized."""
    now = time.monotonic()
    if allow_cached and header is not None:
        # Keyed by the exact header (only ever stored after a successful check), so a hit
        # costs no hashing; the ingest path re-checks the key inside its commit anyway.
        hit = _cache.get(header)
        if hit is not None and hit[1] > now:
            return hit[0]
    digest = hash_key(parse_bearer(header))
    row = await ApiKey.filter(key_hash=digest, revoked_at=None).using_db(reader()).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        raise Unauthorized(UNAUTHORIZED_MESSAGE)
    principal = Principal(key_id=row.id, project_id=row.project_id)  # type: ignore[attr-defined]
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[header or ""] = (principal, now + CACHE_SECONDS)
    return principal
