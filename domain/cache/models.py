from tortoise import fields
from tortoise.models import Model

from domain.base import environment_fk


class CacheChange(Model):
    """Change feed that keeps every process in-memory caches fresh: writers upsert one row per
    changed thing (scope + ref) in their transaction, each process polls rows changed recently."""

    id = fields.BigIntField(primary_key=True)
    environment = environment_fk()
    scope = fields.CharField(max_length=20)
    ref_id = fields.CharField(max_length=64)
    changed_at = fields.DatetimeField()

    class Meta:
        table = "cache_change"
        unique_together = (("environment", "scope", "ref_id"),)
        indexes = (("changed_at",),)


class CacheChangeBatch(Model):
    """Change feed rows for writers that change many refs of one scope per transaction (usage counters:
    hundreds of companies per ingestion transaction): one row lists them all, where `cache_change`
    would take a row per ref. Pollers read the rows they have not seen within their lookback;
    rows are pruned after a minute."""

    id = fields.BigIntField(primary_key=True)
    environment = environment_fk(db_index=False)  # small table, pruned
    scope = fields.CharField(max_length=20)
    ref_ids: list = fields.JSONField()
    changed_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "cache_change_batch"
