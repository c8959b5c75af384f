from datetime import datetime

import strawberry

from api.graphql.scalars import BigInt
from domain.checks.entitlement import Usage
from domain.checks.service import CheckResult


@strawberry.type(name="FeatureUsage", description="A company's allocation and usage of one feature.")
class FeatureUsageNode:
    feature_id: str
    feature_key: str
    value_type: str
    entitlement_type: str
    allocation: BigInt | None = strawberry.field(description="Null when unlimited (or credit-based).")
    usage: BigInt | None
    event_name: str | None
    metric_period: str | None
    month_reset: str | None
    metric_reset_at: datetime | None
    soft_limit: BigInt | None

    @classmethod
    def from_usage(cls, usage: Usage) -> "FeatureUsageNode":
        return cls(
            feature_id=usage.feature_id, feature_key=usage.feature_key, value_type=usage.value_type,
            entitlement_type=usage.entitlement_type, allocation=usage.allocation, usage=usage.usage,
            event_name=usage.event_subtype, metric_period=usage.metric_period, month_reset=usage.month_reset,
            metric_reset_at=usage.metric_reset_at, soft_limit=usage.soft_limit,
        )


@strawberry.type(name="FlagCheck", description="The answer to: may this company (and user) use this flag now, and why?")
class FlagCheckNode:
    flag: str
    value: bool
    reason: str
    flag_id: str | None
    rule_id: str | None
    rule_type: str | None
    company_id: str | None
    user_id: str | None
    entitlement: FeatureUsageNode | None

    @classmethod
    def from_result(cls, result: CheckResult) -> "FlagCheckNode":
        return cls(
            flag=result.flag_key, value=result.value, reason=result.reason, flag_id=result.flag_id,
            rule_id=result.rule_id, rule_type=result.rule_type, company_id=result.company_id,
            user_id=result.user_id,
            entitlement=FeatureUsageNode.from_usage(result.entitlement) if result.entitlement else None,
        )


@strawberry.input
class PreflightInput:
    usage: BigInt | None = None
    event_subtype: str | None = None
    event_quantity: BigInt | None = None
