"""GraphQL types of the catalog: features, flags with their rules, plans, plan entitlements, and what
companies hold (plan assignments, overrides). Relations resolve through the area's DataLoaders."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from api.graphql.catalog import loaders
from api.graphql.catalog.inputs import (
    ChargeType,
    ConditionType,
    FeatureType,
    Operator,
    PlanType,
    PriceBehavior,
    RuleType,
    ValueType,
)
from api.graphql.context import Info
from api.graphql.metering.types import MetricPeriod, MonthReset
from api.graphql.scalars import BigInt
from domain.catalog import models
from domain.catalog.promotion import PromotionSummary
from domain.entitlements.models import CompanyOverride, CompanyPlan
from domain.timeutil import parse_timestamp

if TYPE_CHECKING:
    from api.graphql.companies.types import CompanyNode

# The companies area imports this module lazily too; neither imports the other at import time.
_COMPANIES = "api.graphql.companies.types"


def _enum(enum: type, value: str | None) -> Any:
    return enum(value) if value is not None else None


@strawberry.type(name="Feature")
class FeatureNode:
    id: str
    name: str
    description: str
    feature_type: FeatureType
    event_subtype: str | None = strawberry.field(description="Event name metered by an event feature.")
    trait_id: str | None = strawberry.field(description="Usage trait of a trait feature (a company trait).")
    icon: str | None
    lifecycle_phase: str | None
    plural_name: str | None
    singular_name: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, model: models.Feature) -> "FeatureNode":
        return cls(
            id=model.id, name=model.name, description=model.description,
            feature_type=FeatureType(model.feature_type), event_subtype=model.event_subtype,
            trait_id=model.trait_definition_id,  # type: ignore[attr-defined]
            icon=model.icon, lifecycle_phase=model.lifecycle_phase, plural_name=model.plural_name,
            singular_name=model.singular_name, created_at=model.created_at, updated_at=model.updated_at,
        )

    @strawberry.field(description="The key of the feature's flag, used in checks.")
    async def key(self, info: Info) -> str:
        flag = await info.context.loader(loaders.load_flag_of_feature).load(self.id)
        return flag.key if flag else ""

    @strawberry.field
    async def flag(self, info: Info) -> "FlagNode | None":
        flag = await info.context.loader(loaders.load_flag_of_feature).load(self.id)
        return FlagNode.from_model(flag) if flag else None

    @strawberry.field(description="What each plan grants of this feature.")
    async def plan_entitlements(self, info: Info) -> list["PlanEntitlementNode"]:
        rows = await info.context.loader(loaders.load_entitlements_of_feature).load(self.id)
        return [PlanEntitlementNode.from_model(row) for row in rows]


@strawberry.type(name="Condition")
class ConditionNode:
    id: str
    condition_type: ConditionType
    operator: Operator
    resource_ids: list[str]
    trait_id: str | None
    trait_value: str
    comparison_trait_id: str | None
    event_subtype: str | None
    metric_value: BigInt | None
    metric_period: MetricPeriod | None
    metric_period_month_reset: MonthReset | None
    credit_id: str | None
    consumption_rate: str | None

    @classmethod
    def from_model(cls, model: models.Condition) -> "ConditionNode":
        return cls(
            id=model.id, condition_type=ConditionType(model.condition_type), operator=Operator(model.operator),
            resource_ids=list(model.resource_ids or []),
            trait_id=model.trait_definition_id,  # type: ignore[attr-defined]
            trait_value=model.trait_value,
            comparison_trait_id=model.comparison_trait_definition_id,  # type: ignore[attr-defined]
            event_subtype=model.event_subtype, metric_value=model.metric_value,
            metric_period=_enum(MetricPeriod, model.metric_period),
            metric_period_month_reset=_enum(MonthReset, model.metric_period_month_reset),
            credit_id=model.credit_id, consumption_rate=model.consumption_rate,
        )


@strawberry.type(name="ConditionGroup", description="Matches when any of its conditions matches.")
class ConditionGroupNode:
    id: str
    rule_id: str
    position: int

    @strawberry.field
    async def conditions(self, info: Info) -> list[ConditionNode]:
        rows = await info.context.loader(loaders.load_conditions_of_rule).load(self.rule_id)
        return [ConditionNode.from_model(c) for c in rows if c.group_id == self.id]  # type: ignore[attr-defined]


@strawberry.type(name="Rule")
class RuleNode:
    id: str
    flag_id: str
    name: str
    priority: int
    rule_type: RuleType
    value: bool
    rollout_percentage: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, model: models.Rule) -> "RuleNode":
        return cls(
            id=model.id, flag_id=model.flag_id,  # type: ignore[attr-defined]
            name=model.name, priority=model.priority, rule_type=RuleType(model.rule_type), value=model.value,
            rollout_percentage=model.rollout_percentage, created_at=model.created_at, updated_at=model.updated_at,
        )

    @strawberry.field(description="Top-level conditions; all must match.")
    async def conditions(self, info: Info) -> list[ConditionNode]:
        rows = await info.context.loader(loaders.load_conditions_of_rule).load(self.id)
        return [ConditionNode.from_model(c) for c in rows if c.group_id is None]  # type: ignore[attr-defined]

    @strawberry.field(description="Every group must match (each by any one of its conditions).")
    async def condition_groups(self, info: Info) -> list[ConditionGroupNode]:
        rows = await info.context.loader(loaders.load_groups_of_rule).load(self.id)
        return [ConditionGroupNode(id=g.id, rule_id=self.id, position=g.position) for g in rows]


@strawberry.type(name="Flag")
class FlagNode:
    id: str
    key: str
    name: str
    description: str
    flag_type: str
    feature_id: str | None
    default_value: bool
    last_checked_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, model: models.Flag) -> "FlagNode":
        return cls(
            id=model.id, key=model.key, name=model.name, description=model.description, flag_type=model.flag_type,
            feature_id=model.feature_id,  # type: ignore[attr-defined]
            default_value=model.default_value, last_checked_at=model.last_checked_at,
            created_at=model.created_at, updated_at=model.updated_at,
        )

    @strawberry.field
    async def feature(self, info: Info) -> FeatureNode | None:
        if self.feature_id is None:
            return None
        feature = await info.context.loader(loaders.load_features).load(self.feature_id)
        return FeatureNode.from_model(feature) if feature else None

    @strawberry.field(description="Client-managed rules in evaluation order (entitlement rules are compiled, "
                      "not listed).")
    async def rules(self, info: Info) -> list[RuleNode]:
        return [RuleNode.from_model(r) for r in await info.context.loader(loaders.load_rules_of_flag).load(self.id)]


@strawberry.type(name="Plan", description="A base plan or an add-on. Prices are in minor units (cents).")
class PlanNode:
    id: str
    name: str
    description: str
    icon: str | None
    plan_type: PlanType
    is_default: bool
    is_trialable: bool
    trial_days: int | None
    charge_type: ChargeType
    currency: str
    monthly_price: BigInt | None
    quarterly_price: BigInt | None
    yearly_price: BigInt | None
    one_time_price: BigInt | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, model: models.Plan) -> "PlanNode":
        return cls(
            id=model.id, name=model.name, description=model.description, icon=model.icon,
            plan_type=PlanType(model.plan_type), is_default=model.is_default, is_trialable=model.is_trialable,
            trial_days=model.trial_days, charge_type=ChargeType(model.charge_type), currency=model.currency,
            monthly_price=model.monthly_price, quarterly_price=model.quarterly_price,
            yearly_price=model.yearly_price, one_time_price=model.one_time_price,
            created_at=model.created_at, updated_at=model.updated_at,
        )

    @strawberry.field
    async def entitlements(self, info: Info) -> list["PlanEntitlementNode"]:
        rows = await info.context.loader(loaders.load_entitlements_of_plan).load(self.id)
        return [PlanEntitlementNode.from_model(row) for row in rows]

    @strawberry.field(description="Companies on this plan (as base plan or add-on).")
    async def company_count(self, info: Info) -> int:
        return await info.context.loader(loaders.load_company_counts).load(self.id)


def _grant_fields(model: models.GrantValueFields) -> dict[str, Any]:
    return {
        "id": model.id, "feature_id": model.feature_id,  # type: ignore[attr-defined]
        "value_type": ValueType(model.value_type), "value_bool": model.value_bool,
        "value_numeric": model.value_numeric,
        "value_trait_id": model.value_trait_id,  # type: ignore[attr-defined]
        "value_credit_id": model.value_credit_id, "consumption_rate": model.consumption_rate,
        "metric_period": _enum(MetricPeriod, model.metric_period),
        "metric_period_month_reset": _enum(MonthReset, model.metric_period_month_reset),
        "rule_id": model.rule_id, "rule_id_usage_exceeded": model.rule_id_usage_exceeded,
        "created_at": model.created_at, "updated_at": model.updated_at,
    }


@strawberry.type
class GrantValue:
    id: str
    feature_id: str
    value_type: ValueType
    value_bool: bool | None
    value_numeric: BigInt | None
    value_trait_id: str | None
    value_credit_id: str | None
    consumption_rate: str | None = strawberry.field(description="Credits per unit, a decimal string.")
    metric_period: MetricPeriod | None
    metric_period_month_reset: MonthReset | None
    rule_id: str = strawberry.field(description="Id of the compiled allow rule.")
    rule_id_usage_exceeded: str = strawberry.field(description="Id of the compiled usage-exceeded rule.")
    created_at: datetime
    updated_at: datetime

    @strawberry.field
    async def feature(self, info: Info) -> FeatureNode | None:
        feature = await info.context.loader(loaders.load_features).load(self.feature_id)
        return FeatureNode.from_model(feature) if feature else None


@strawberry.type(name="PlanEntitlement", description="What a plan or add-on grants of one feature.")
class PlanEntitlementNode(GrantValue):
    plan_id: str
    price_behavior: PriceBehavior | None
    soft_limit: BigInt | None

    @classmethod
    def from_model(cls, model: models.PlanEntitlement) -> "PlanEntitlementNode":
        return cls(
            **_grant_fields(model), plan_id=model.plan_id,  # type: ignore[attr-defined]
            price_behavior=_enum(PriceBehavior, model.price_behavior), soft_limit=model.soft_limit,
        )

    @strawberry.field
    async def plan(self, info: Info) -> PlanNode | None:
        plan = await info.context.loader(loaders.load_plans).load(self.plan_id)
        return PlanNode.from_model(plan) if plan else None


@strawberry.type(name="CompanyOverrideNote")
class CompanyOverrideNoteNode:
    id: str
    note: str
    created_at: datetime


@strawberry.type(name="CompanyOverride", description="What one company gets of one feature, whatever its plans.")
class CompanyOverrideNode(GrantValue):
    company_id: str
    expires_at: datetime | None
    notes: list[CompanyOverrideNoteNode]

    @classmethod
    def from_model(cls, model: CompanyOverride) -> "CompanyOverrideNode":
        notes = [
            CompanyOverrideNoteNode(id=n["id"], note=n["note"], created_at=parse_timestamp(n["created_at"], "note"))
            for n in model.notes
        ]
        return cls(
            **_grant_fields(model), company_id=model.company_id,  # type: ignore[attr-defined]
            expires_at=model.expires_at, notes=notes,
        )

    @strawberry.field
    async def company(self, info: Info) -> Annotated["CompanyNode", strawberry.lazy(_COMPANIES)] | None:
        from api.graphql.companies import loaders as company_loaders
        from api.graphql.companies.types import CompanyNode

        company = await info.context.loader(company_loaders.load_companies).load(self.company_id)
        return CompanyNode.from_model(company) if company else None


@strawberry.type(name="CompanyPlan", description="A plan a company is on.")
class CompanyPlanNode:
    plan_id: str
    is_base_plan: bool
    trial_ends_at: datetime | None

    @classmethod
    def from_model(cls, model: CompanyPlan) -> "CompanyPlanNode":
        return cls(
            plan_id=model.plan_id,  # type: ignore[attr-defined]
            is_base_plan=model.slot == "base", trial_ends_at=model.trial_ends_at,
        )

    @strawberry.field
    async def plan(self, info: Info) -> PlanNode | None:
        plan = await info.context.loader(loaders.load_plans).load(self.plan_id)
        return PlanNode.from_model(plan) if plan else None


@strawberry.type(name="PromotionSummary", description="What a catalog promotion created and updated.")
class PromotionSummaryNode:
    features_created: int
    features_updated: int
    flags_created: int
    flags_updated: int
    plans_created: int
    plans_updated: int
    entitlements_created: int
    entitlements_updated: int
    trait_definitions_created: int
    rules_copied: int
    skipped_rules: list[str] = strawberry.field(
        description="Rules naming companies or users (\"<flag key>: <rule name>\"), which cannot be copied."
    )

    @classmethod
    def from_summary(cls, summary: PromotionSummary) -> "PromotionSummaryNode":
        return cls(**{name: getattr(summary, name) for name in PromotionSummary.__dataclass_fields__})
