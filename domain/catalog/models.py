"""The catalog: features, flags with their rules, plans and plan entitlements."""

from tortoise import fields

from domain import ids
from domain.base import TimestampedModel, environment_fk

FEATURE_TYPES = ("boolean", "event", "trait")
PLAN_TYPES = ("plan", "add_on")
CLIENT_RULE_TYPES = ("standard", "default", "global_override")
CONDITION_TYPES = (
    "base_plan", "billing_product", "company", "credit", "metric", "plan", "plan_version", "trait", "user",
)
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "is_empty", "not_empty")


class Feature(TimestampedModel):
    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_feature_id)
    environment = environment_fk()
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    feature_type = fields.CharField(max_length=10)
    event_subtype = fields.CharField(max_length=200, null=True)
    trait_definition = fields.ForeignKeyField(
        "models.TraitDefinition", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    icon = fields.CharField(max_length=200, null=True)
    lifecycle_phase = fields.CharField(max_length=40, null=True)
    plural_name = fields.CharField(max_length=200, null=True)
    singular_name = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "feature"


class Flag(TimestampedModel):
    """The flag of a feature shares the key of its feature, standalone flags have no feature."""

    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_flag_id)
    environment = environment_fk()
    key = fields.CharField(max_length=200)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    flag_type = fields.CharField(max_length=20, default="boolean")
    feature: fields.OneToOneNullableRelation[Feature] = fields.OneToOneField(
        "models.Feature", related_name="flag", null=True, on_delete=fields.CASCADE
    )
    default_value = fields.BooleanField(default=False)
    last_checked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "flag"
        unique_together = (("environment", "key"),)


class Rule(TimestampedModel):
    """A client-managed rule (standard, default, global_override). Entitlement and override rules
    are not stored: they are compiled from plan entitlements and company overrides."""

    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_rule_id)
    environment = environment_fk()
    flag: fields.ForeignKeyRelation[Flag] = fields.ForeignKeyField(
        "models.Flag", related_name="rules", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    priority = fields.IntField(default=0)
    rule_type = fields.CharField(max_length=40)
    value = fields.BooleanField()
    rollout_percentage = fields.SmallIntField(null=True)
    rollout_salt = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "rule"


class ConditionGroup(TimestampedModel):
    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_condition_group_id)
    environment = environment_fk()
    rule: fields.ForeignKeyRelation[Rule] = fields.ForeignKeyField(
        "models.Rule", related_name="condition_groups", on_delete=fields.CASCADE
    )
    position = fields.IntField(default=0)

    class Meta:
        table = "condition_group"


class Condition(TimestampedModel):
    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_condition_id)
    environment = environment_fk()
    rule: fields.ForeignKeyRelation[Rule] = fields.ForeignKeyField(
        "models.Rule", related_name="conditions", on_delete=fields.CASCADE
    )
    group: fields.ForeignKeyNullableRelation[ConditionGroup] = fields.ForeignKeyField(
        "models.ConditionGroup", related_name="conditions", null=True, on_delete=fields.CASCADE
    )
    position = fields.IntField(default=0)
    condition_type = fields.CharField(max_length=20)
    operator = fields.CharField(max_length=10)
    resource_ids: list = fields.JSONField(default=list)
    trait_definition = fields.ForeignKeyField(
        "models.TraitDefinition", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    trait_value = fields.TextField(default="")
    comparison_trait_definition = fields.ForeignKeyField(
        "models.TraitDefinition", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    event_subtype = fields.CharField(max_length=200, null=True)
    metric_value = fields.BigIntField(null=True)
    metric_period = fields.CharField(max_length=20, null=True)
    metric_period_month_reset = fields.CharField(max_length=20, null=True)
    credit_id = fields.CharField(max_length=40, null=True)
    consumption_rate = fields.CharField(max_length=40, null=True)

    class Meta:
        table = "condition"


class Plan(TimestampedModel):
    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_plan_id)
    environment = environment_fk()
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    icon = fields.CharField(max_length=200, null=True)
    plan_type = fields.CharField(max_length=10)
    is_default = fields.BooleanField(default=False)
    is_trialable = fields.BooleanField(default=False)
    trial_days = fields.IntField(null=True)
    charge_type = fields.CharField(max_length=20, default="free")
    currency = fields.CharField(max_length=3, default="usd")
    # Prices in integer minor units (cents).
    monthly_price = fields.BigIntField(null=True)
    quarterly_price = fields.BigIntField(null=True)
    yearly_price = fields.BigIntField(null=True)
    one_time_price = fields.BigIntField(null=True)

    class Meta:
        table = "plan"
        # Promotion upserts plans by name, so the name is a lookup key.
        unique_together = (("environment", "name"),)


class GrantValueFields(TimestampedModel):
    """The value model shared by plan entitlements and company overrides."""

    environment = environment_fk()
    value_type = fields.CharField(max_length=20)
    value_bool = fields.BooleanField(null=True)
    value_numeric = fields.BigIntField(null=True)
    value_trait = fields.ForeignKeyField(
        "models.TraitDefinition", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    value_credit_id = fields.CharField(max_length=40, null=True)
    # Credits per unit as a decimal string (never float).
    consumption_rate = fields.CharField(max_length=40, null=True)
    metric_period = fields.CharField(max_length=20, null=True)
    metric_period_month_reset = fields.CharField(max_length=20, null=True)
    # Ids of the compiled allow and usage-exceeded rules, stable across recompilation.
    rule_id = fields.CharField(max_length=40, default=ids.new_rule_id)
    rule_id_usage_exceeded = fields.CharField(max_length=40, default=ids.new_rule_id)

    class Meta:
        abstract = True


class PlanEntitlement(GrantValueFields):
    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_plan_entitlement_id)
    plan: fields.ForeignKeyRelation[Plan] = fields.ForeignKeyField(
        "models.Plan", related_name="entitlements", on_delete=fields.CASCADE
    )
    feature: fields.ForeignKeyRelation[Feature] = fields.ForeignKeyField(
        "models.Feature", related_name="plan_entitlements", on_delete=fields.CASCADE
    )
    # Billing (price behaviours) builds on these; absent = included, unpriced.
    price_behavior = fields.CharField(max_length=20, null=True)
    soft_limit = fields.BigIntField(null=True)
    warning_tiers: list = fields.JSONField(default=list)

    class Meta:
        table = "plan_entitlement"
        unique_together = (("plan", "feature"),)
