from tortoise import fields

from domain import ids
from domain.base import TimestampedModel, environment_fk

ENVIRONMENT_TYPES = ("development", "staging", "production")
KEY_KINDS = ("secret", "publishable", "segment")


class Account(TimestampedModel):
    """One account per installation, whose id appears in rule payloads and webhook envelopes."""

    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_account_id)
    name = fields.CharField(max_length=200)

    class Meta:
        table = "account"


class Environment(TimestampedModel):
    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_environment_id)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="environments", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=100, unique=True)
    environment_type = fields.CharField(max_length=20)
    require_context_signature = fields.BooleanField(default=False)

    class Meta:
        table = "environment"


class ApiKey(TimestampedModel):
    """An API key (secret or publishable) or a Segment write key. Only a SHA-256 hash of the key is
    stored: keys are 32 random bytes, so a fast hash is enough and lookups stay O(1)."""

    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_api_key_id)
    environment = environment_fk()
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    kind = fields.CharField(max_length=20)
    readonly = fields.BooleanField(default=False)
    key_hash = fields.CharField(max_length=64, unique=True)
    display_prefix = fields.CharField(max_length=40)
    settings: dict = fields.JSONField(default=dict)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_key"
