"""What a company holds: its plan assignments and its per-feature overrides."""

from tortoise import fields

from domain import ids
from domain.base import TimestampedModel
from domain.catalog.models import GrantValueFields

BASE_SLOT = "base"


class CompanyPlan(TimestampedModel):
    """A plan a company is on. `slot` is "base" for the base plan and the plan id for an add-on,
    so a unique (company, slot) guarantees one base plan and no duplicate add-on, race-free."""

    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_company_plan_id)
    environment = fields.ForeignKeyField("models.Environment", related_name=False, on_delete=fields.CASCADE)
    company = fields.ForeignKeyField("models.Company", related_name="plan_assignments", on_delete=fields.CASCADE)
    plan = fields.ForeignKeyField("models.Plan", related_name="assignments", on_delete=fields.RESTRICT)
    slot = fields.CharField(max_length=40)
    trial_ends_at = fields.DatetimeField(null=True)

    class Meta:
        table = "company_plan"
        unique_together = (("company", "slot"),)


class CompanyOverride(GrantValueFields):
    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_company_override_id)
    company = fields.ForeignKeyField("models.Company", related_name="overrides", on_delete=fields.CASCADE)
    feature = fields.ForeignKeyField("models.Feature", related_name="company_overrides", on_delete=fields.CASCADE)
    expires_at = fields.DatetimeField(null=True)
    notes: list = fields.JSONField(default=list)

    class Meta:
        table = "company_override"
        unique_together = (("company", "feature"),)


class CompanyTrial(TimestampedModel):
    """A trial a company received. It outlives the plan assignment: a company gets the trial of a
    plan only once, so re-assigning the plan later finds this row and grants no second trial."""

    id = fields.BigIntField(primary_key=True)
    environment = fields.ForeignKeyField("models.Environment", related_name=False, on_delete=fields.CASCADE)
    company = fields.ForeignKeyField("models.Company", related_name="trials", on_delete=fields.CASCADE)
    plan = fields.ForeignKeyField("models.Plan", related_name="trials", on_delete=fields.CASCADE)
    trial_ends_at = fields.DatetimeField()

    class Meta:
        table = "company_trial"
        unique_together = (("company", "plan"),)
