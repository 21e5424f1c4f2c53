"""Dashboard login sessions (server-side) and login attempts (for throttling)."""

from tortoise import fields
from tortoise.models import Model

from models.project import Project
from models.user import User


class LoginSession(Model):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="login_sessions", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    csrf_token = fields.CharField(max_length=64)
    # The project the dashboard shows; null until the user picks one.
    project: fields.ForeignKeyNullableRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()

    class Meta:
        table = "login_sessions"


class LoginAttempt(Model):
    """A password check recorded before it runs: a failure unless the password matched.

    Rows live for the throttle's window (see app/services/login_throttle.py).
    """

    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254)
    # The client's address as the throttle keys it (IPv6: its /64 network).
    address = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "login_attempts"
        indexes = (("email", "created_at"), ("address", "created_at"), ("created_at",))
