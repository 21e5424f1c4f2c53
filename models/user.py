"""Dashboard accounts (people who log in), not the end users of a customer's LLM app."""

from tortoise import fields
from tortoise.models import Model


class User(Model):
    """A dashboard account; the password is stored only as an argon2id hash."""

    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    password_hash = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "users"
