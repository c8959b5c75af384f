"""What a check reports about the company's entitlement to a feature (product model §2.10, §2.13)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.checks.snapshot import CompanySnapshot, FlagEntry, normal_reset
from domain.rules import ENTITLEMENT_RULE_TYPES, GrantSpec, Rule
from domain.rules.conditions import parse_int


@dataclass(frozen=True, slots=True)
class Usage:
    """Usage and allocation of one feature for one company, as checks and usage views report it."""

    feature_id: str
    feature_key: str
    value_type: str
    grant: GrantSpec | None
    allocation: int | None
    usage: int | None
    event_subtype: str | None
    metric_period: str | None
    month_reset: str | None
    metric_reset_at: datetime | None
    soft_limit: int | None
    entitlement_type: str  # plan_entitlement | company_override | unknown

    def to_wire(self) -> dict[str, Any]:
        return {
            "feature_id": self.feature_id, "feature_key": self.feature_key, "value_type": self.value_type,
            "allocation": self.allocation, "usage": self.usage, "event_name": self.event_subtype,
            "event_subtype": self.event_subtype, "metric_period": self.metric_period,
            "month_reset": self.month_reset, "metric_reset_at": self.metric_reset_at,
            "soft_limit": self.soft_limit, "warning_tiers": [],
            "credit_id": self.grant.credit_id if self.grant else None,
            "consumption_rate": (
                float(self.grant.consumption_rate) if self.grant and self.grant.consumption_rate else None
            ),
        }


def _trait_int(company: CompanySnapshot, name: str | None) -> int:
    return parse_int(company.traits.get(name, "")) if name else 0


def feature_usage(flag: FlagEntry, company: CompanySnapshot, now: datetime) -> Usage | None:
    feature = flag.feature
    if feature is None:
        return None
    grant = company.grant_for(feature.id, now)
    if grant is None:
        return None
    period = month_reset = reset = None
    usage: int | None = None
    if feature.feature_type == "event" and feature.event_subtype:
        period = grant.metric_period or "all_time"
        month_reset = normal_reset(period, grant.month_reset)
        usage = company.metric(feature.event_subtype, period, month_reset, now)
        reset = company.reset_at(period, month_reset, now)
    elif feature.usage_trait is not None:
        usage = _trait_int(company, feature.usage_trait.name)
    allocation: int | None = None
    if grant.value_type == "numeric":
        allocation = grant.value_numeric or 0
    elif grant.value_type == "trait" and grant.value_trait is not None:
        allocation = _trait_int(company, grant.value_trait.name)
    return Usage(
        feature_id=feature.id, feature_key=feature.key, value_type=grant.value_type, grant=grant,
        allocation=allocation, usage=usage, event_subtype=feature.event_subtype if period else None,
        metric_period=period, month_reset=month_reset, metric_reset_at=reset, soft_limit=grant.soft_limit,
        entitlement_type="company_override" if grant.source == "override" else "plan_entitlement",
    )


def deprecated_fields(rule: Rule | None, company: CompanySnapshot | None, now: datetime) -> dict[str, Any]:
    """The flat `feature_*` fields: filled only when an entitlement or override rule with a limit matched."""
    empty = {"feature_allocation": None, "feature_usage": None, "feature_usage_event": None,
             "feature_usage_period": None, "feature_usage_reset_at": None}
    if rule is None or company is None or rule.rule_type not in ENTITLEMENT_RULE_TYPES:
        return empty
    for condition in rule.conditions:
        if condition.condition_type == "metric" and condition.event_subtype:
            period = condition.metric_period or "all_time"
            reset = normal_reset(period, condition.month_reset)
            allocation = condition.metric_value
            if condition.comparison_trait is not None:
                allocation = _trait_int(company, condition.comparison_trait.name)
            return {
                "feature_allocation": allocation,
                "feature_usage": company.metric(condition.event_subtype, period, reset, now),
                "feature_usage_event": condition.event_subtype, "feature_usage_period": period,
                "feature_usage_reset_at": company.reset_at(period, reset, now),
            }
        if condition.condition_type == "trait" and condition.trait is not None:
            allocation = parse_int(condition.trait_value)
            if condition.comparison_trait is not None:
                allocation = _trait_int(company, condition.comparison_trait.name)
            return {**empty, "feature_allocation": allocation,
                    "feature_usage": _trait_int(company, condition.trait.name)}
    return empty
