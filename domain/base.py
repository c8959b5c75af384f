"""Shared model pieces."""

from tortoise import fields
from tortoise.models import Model


class TimestampedModel(Model):
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True


def environment_fk(db_index: bool = True) -> fields.ForeignKeyRelation:
    """Every row belongs to exactly one environment; deleting the environment deletes the row.
    `db_index=False` when a composite index leading with `environment_id` covers it."""
    return fields.ForeignKeyField(
        "models.Environment", related_name=False, on_delete=fields.CASCADE, db_index=db_index
    )
