"""API keys: `ph_…` secrets stored only as a SHA-256 hash plus a short display prefix."""

from tortoise import fields
from tortoise.models import Model

from models.project import Project


class ApiKey(Model):
    """A project's ingestion key. The full key is shown once at creation and never stored."""

    id = fields.IntField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="api_keys", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=128, default="default")
    prefix = fields.CharField(max_length=16, unique=True)
    key_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"
