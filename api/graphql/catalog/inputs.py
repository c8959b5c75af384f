"""Enums and input types of the catalog area. Enum values are the domain's strings."""

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from api.graphql.metering.types import MetricPeriod, MonthReset
from api.graphql.scalars import BigInt
from domain.catalog.flag_rules import ConditionInput as DomainCondition
from domain.catalog.flag_rules import RuleInput as DomainRule
from domain.catalog.validation import UNSET


@strawberry.enum
class FeatureType(Enum):
    BOOLEAN = "boolean"
    EVENT = "event"
    TRAIT = "trait"


@strawberry.enum
class PlanType(Enum):
    PLAN = "plan"
    ADD_ON = "add_on"


@strawberry.enum
class ChargeType(Enum):
    FREE = "free"
    NONE = "none"
    ONE_TIME = "one_time"
    RECURRING = "recurring"


@strawberry.enum
class ValueType(Enum):
    BOOLEAN = "boolean"
    NUMERIC = "numeric"
    UNLIMITED = "unlimited"
    TRAIT = "trait"
    CREDIT = "credit"


@strawberry.enum
class PriceBehavior(Enum):
    PAY_AS_YOU_GO = "pay_as_you_go"
    PAY_IN_ADVANCE = "pay_in_advance"
    OVERAGE = "overage"
    TIER = "tier"
    CREDIT_BURNDOWN = "credit_burndown"


@strawberry.enum
class RuleType(Enum):
    """All seven types are listed; only standard, default and global_override can be written."""

    GLOBAL_OVERRIDE = "global_override"
    COMPANY_OVERRIDE = "company_override"
    PLAN_ENTITLEMENT = "plan_entitlement"
    COMPANY_OVERRIDE_USAGE_EXCEEDED = "company_override_usage_exceeded"
    PLAN_ENTITLEMENT_USAGE_EXCEEDED = "plan_entitlement_usage_exceeded"
    STANDARD = "standard"
    DEFAULT = "default"


@strawberry.enum
class ConditionType(Enum):
    BASE_PLAN = "base_plan"
    BILLING_PRODUCT = "billing_product"
    COMPANY = "company"
    CREDIT = "credit"
    METRIC = "metric"
    PLAN = "plan"
    PLAN_VERSION = "plan_version"
    TRAIT = "trait"
    USER = "user"


@strawberry.enum
class Operator(Enum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IS_EMPTY = "is_empty"
    NOT_EMPTY = "not_empty"


def sent(source: object, *names: str) -> dict[str, Any]:
    """The fields of an input the client sent, enums as their values, as keyword arguments for an update
    service (fields left out stay unchanged)."""
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(source, name)
        if value is strawberry.UNSET:
            continue
        out[name] = value.value if isinstance(value, Enum) else value
    return out


def value_of(value: Enum | None) -> Any:
    return value.value if value is not None else None


@strawberry.input
class CreateFeatureInput:
    name: str
    feature_type: FeatureType
    description: str = ""
    key: str | None = strawberry.field(default=None, description="The flag key; defaults to the slugified name.")
    event_subtype: str | None = strawberry.field(default=None, description="Event name an event feature meters.")
    trait_id: str | None = strawberry.field(default=None, description="Usage trait of a trait feature.")
    trait_name: str | None = strawberry.field(
        default=None, description="Usage trait by name (created as a company number trait when missing)."
    )
    icon: str | None = None
    lifecycle_phase: str | None = None
    plural_name: str | None = None
    singular_name: str | None = None


@strawberry.input(description="Fields left out stay unchanged. featureType may be sent but not changed.")
class UpdateFeatureInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    key: str | None = strawberry.UNSET
    feature_type: FeatureType | None = strawberry.UNSET
    event_subtype: str | None = strawberry.UNSET
    trait_id: str | None = strawberry.UNSET
    trait_name: str | None = strawberry.UNSET
    icon: str | None = strawberry.UNSET
    lifecycle_phase: str | None = strawberry.UNSET
    plural_name: str | None = strawberry.UNSET
    singular_name: str | None = strawberry.UNSET


@strawberry.input
class CreateFlagInput:
    key: str
    name: str
    description: str = ""
    default_value: bool = False


@strawberry.input(description="Fields left out stay unchanged.")
class UpdateFlagInput:
    key: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    default_value: bool | None = strawberry.UNSET


@strawberry.input
class ConditionInput:
    condition_type: ConditionType
    operator: Operator
    resource_ids: list[str] = strawberry.field(default_factory=list)
    trait_id: str | None = None
    trait_value: str = ""
    comparison_trait_id: str | None = None
    event_subtype: str | None = None
    metric_value: BigInt | None = None
    metric_period: MetricPeriod | None = None
    metric_period_month_reset: MonthReset | None = None
    credit_id: str | None = None
    consumption_rate: str | None = strawberry.field(default=None, description="Credits per unit, a decimal string.")

    def to_domain(self) -> DomainCondition:
        return DomainCondition(
            condition_type=self.condition_type.value, operator=self.operator.value, resource_ids=self.resource_ids,
            trait_id=self.trait_id, trait_value=self.trait_value, comparison_trait_id=self.comparison_trait_id,
            event_subtype=self.event_subtype, metric_value=self.metric_value,
            metric_period=value_of(self.metric_period),
            metric_period_month_reset=value_of(self.metric_period_month_reset),
            credit_id=self.credit_id, consumption_rate=self.consumption_rate,
        )


@strawberry.input(description="Top-level conditions are ANDed; each group is an OR of its conditions.")
class ConditionGroupInput:
    conditions: list[ConditionInput]


@strawberry.input
class RuleInput:
    name: str
    value: bool
    priority: int = 0
    rule_type: RuleType = RuleType.STANDARD
    conditions: list[ConditionInput] = strawberry.field(default_factory=list)
    condition_groups: list[ConditionGroupInput] = strawberry.field(default_factory=list)
    rollout_percentage: int | None = None
    id: str | None = strawberry.field(default=None, description="Keep the id of a current rule of the flag.")

    def to_domain(self) -> DomainRule:
        return DomainRule(
            name=self.name, value=self.value, priority=self.priority, rule_type=self.rule_type.value,
            conditions=[c.to_domain() for c in self.conditions],
            condition_groups=[[c.to_domain() for c in g.conditions] for g in self.condition_groups],
            rollout_percentage=self.rollout_percentage, id=self.id,
        )


@strawberry.input
class CreatePlanInput:
    name: str
    plan_type: PlanType = PlanType.PLAN
    description: str = ""
    icon: str | None = None
    is_default: bool = False
    charge_type: ChargeType = ChargeType.FREE
    is_trialable: bool = False
    trial_days: int | None = None
    currency: str = "usd"
    monthly_price: BigInt | None = strawberry.field(default=None, description="Minor units (cents).")
    quarterly_price: BigInt | None = None
    yearly_price: BigInt | None = None
    one_time_price: BigInt | None = None


@strawberry.input(description="Fields left out stay unchanged; planType cannot change.")
class UpdatePlanInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    icon: str | None = strawberry.UNSET
    is_default: bool | None = strawberry.UNSET
    charge_type: ChargeType | None = strawberry.UNSET
    is_trialable: bool | None = strawberry.UNSET
    trial_days: int | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    monthly_price: BigInt | None = strawberry.UNSET
    quarterly_price: BigInt | None = strawberry.UNSET
    yearly_price: BigInt | None = strawberry.UNSET
    one_time_price: BigInt | None = strawberry.UNSET


@strawberry.input(description="What is granted of a feature. Replaces the whole value on update.")
class GrantValueInput:
    value_type: ValueType
    value_bool: bool | None = None
    value_numeric: BigInt | None = None
    value_trait_id: str | None = None
    value_credit_id: str | None = None
    consumption_rate: str | None = strawberry.field(default=None, description="Credits per unit, a decimal string.")
    metric_period: MetricPeriod | None = None
    metric_period_month_reset: MonthReset | None = None

    def to_kwargs(self) -> dict[str, Any]:
        return {
            "value_type": self.value_type.value, "value_bool": self.value_bool, "value_numeric": self.value_numeric,
            "value_trait_id": self.value_trait_id, "value_credit_id": self.value_credit_id,
            "consumption_rate": self.consumption_rate, "metric_period": value_of(self.metric_period),
            "metric_period_month_reset": value_of(self.metric_period_month_reset),
        }


@strawberry.input
class PlanEntitlementInput(GrantValueInput):
    price_behavior: PriceBehavior | None = strawberry.field(
        default=None, description="Forces the value type (pay_in_advance: trait, credit_burndown: credit, ...)."
    )
    soft_limit: BigInt | None = None

    def to_kwargs(self) -> dict[str, Any]:
        return {**super().to_kwargs(), "price_behavior": value_of(self.price_behavior), "soft_limit": self.soft_limit}


@strawberry.input
class CompanyOverrideInput(GrantValueInput):
    expires_at: datetime | None = strawberry.UNSET
    note: str | None = strawberry.field(default=None, description="Appended to the override's notes.")

    def to_kwargs(self) -> dict[str, Any]:
        expires = UNSET if self.expires_at is strawberry.UNSET else self.expires_at
        return {**super().to_kwargs(), "expires_at": expires, "note": self.note}
