"""Projects (the tenant) and the memberships that give dashboard users access to them."""

from tortoise import fields
from tortoise.models import Model


class Project(Model):
    """A tenant: every event, session, key and feedback belongs to exactly one project."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=128)
    created_at = fields.DatetimeField(auto_now_add=True)
    # Days of events kept (app/services/retention.py): NULL follows PHOSPHO_RETENTION_DAYS,
    # 0 keeps them forever.
    retention_days = fields.IntField(null=True)

    class Meta:
        table = "projects"


class Membership(Model):
    """A dashboard user's access to a project, with a role (`owner` or `member`)."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="memberships", on_delete=fields.CASCADE
    )
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="memberships", on_delete=fields.CASCADE
    )
    role = fields.CharField(max_length=16, default="member")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "memberships"
        unique_together = (("user", "project"),)


from models.user import User  # noqa: E402  (forward reference for the type annotation)
