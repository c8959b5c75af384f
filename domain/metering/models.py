"""Stored events, idempotency keys and the per-window usage counters checks read."""

from tortoise import fields
from tortoise.models import Model

from domain import ids
from domain.base import environment_fk

EVENT_TYPES = ("identify", "track", "flag_check")
EVENT_STATUSES = ("processed", "failed")


class Event(Model):
    """Append-only record of every accepted event and how its processing ended.
    `company_id`/`user_id` are plain columns, not foreign keys: events are history (they outlive a
    deleted company or user) and the foreign-key checks cost ~10 % of ingestion throughput."""

    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_event_id)
    environment = environment_fk(db_index=False)  # covered by (environment_id, captured_at)
    event_type = fields.CharField(max_length=20)
    event_name = fields.CharField(max_length=200, null=True)
    raw_event_name = fields.CharField(max_length=500, null=True)
    company_id = fields.CharField(max_length=40, null=True)
    user_id = fields.CharField(max_length=40, null=True)
    quantity = fields.BigIntField(default=1)
    body: dict = fields.JSONField(default=dict)
    idempotency_key = fields.CharField(max_length=200)
    source = fields.CharField(max_length=20)
    status = fields.CharField(max_length=20)
    error = fields.TextField(null=True)
    backfill = fields.BooleanField(default=False)
    captured_at = fields.DatetimeField()
    received_at = fields.DatetimeField()

    class Meta:
        table = "event"
        # the events list pages newest first by id, per environment or per company (ids grow with time)
        indexes = (("environment_id", "id"), ("company_id", "id"))


class IdempotencyKey(Model):
    """Seen idempotency keys, the primary key is what makes ingestion exactly-once. It is the
    environment id and the key joined by a colon (`scoped_key`), so one index serves deduplication.
    Pruned after the configured retention."""

    id = fields.CharField(primary_key=True, max_length=250)
    created_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "idempotency_key"


def scoped_key(environment_id: str, key: str) -> str:
    """The primary key of an idempotency key: environment ids hold no colon, so the split is unique."""
    return f"{environment_id}:{key}"


class UsageCounter(Model):
    """Usage of one event name by one company or user in one stored window (all time, a UTC day, a
    billing month that is not the calendar month, see domain.metering.windows). Raw sums, incremented
    by set-based upserts at ingestion. Readers floor window totals at zero."""

    id = fields.BigIntField(primary_key=True)
    environment = environment_fk()
    entity_id = fields.CharField(max_length=40)
    event_name = fields.CharField(max_length=200)
    period = fields.CharField(max_length=20)
    month_reset = fields.CharField(max_length=20)
    window_start = fields.DatetimeField()
    value = fields.BigIntField(default=0)
    captured_at_min = fields.DatetimeField(null=True)
    captured_at_max = fields.DatetimeField(null=True)

    class Meta:
        table = "usage_counter"
        # entity first, then the window: a range of days of one entity is one index range
        unique_together = (("entity_id", "period", "month_reset", "window_start", "event_name"),)
