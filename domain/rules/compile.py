"""Compile plan entitlements and company overrides into rules (§2.8) and pick the reported
entitlement among several grants of one feature ("most generous wins", §2.10)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, NamedTuple

from domain.rules.conditions import parse_int
from domain.rules.types import Condition, Rule, RuleType, TraitRef

GrantSource = Literal["plan", "override"]
_TRAIT_FEATURES = frozenset(("trait", "license"))
_DAYS = {"current_day": 1, "current_week": 7, "current_month": 30}


class CompileError(ValueError):
    """A grant whose value type does not fit its feature (or lacks the limit it needs)."""


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    id: str
    key: str
    feature_type: str  # boolean | event | trait (license is treated as trait)
    event_subtype: str | None = None
    usage_trait: TraitRef | None = None


@dataclass(frozen=True, slots=True)
class GrantSpec:
    """A plan entitlement (source "plan") or a company override (source "override")."""

    id: str
    source: GrantSource
    scope_id: str  # plan id or company id
    scope_name: str  # plan name, or company name for overrides
    feature: FeatureSpec
    value_type: str  # boolean | numeric | unlimited | trait | credit
    rule_id: str
    rule_id_usage_exceeded: str
    value_bool: bool | None = None
    value_numeric: int | None = None
    value_trait: TraitRef | None = None
    credit_id: str | None = None
    consumption_rate: Decimal | None = None
    metric_period: str | None = None
    month_reset: str | None = None
    soft_limit: int | None = None
    expires_at: datetime | None = None
    price_behavior: str | None = None


def _rule_types(g: GrantSpec) -> tuple[RuleType, RuleType]:
    if g.source == "plan":
        return "plan_entitlement", "plan_entitlement_usage_exceeded"
    return "company_override", "company_override_usage_exceeded"


def compile_grant(g: GrantSpec, flag_id: str | None = None) -> tuple[Rule, ...]:
    """The allow rule, plus the usage-exceeded rule for limited value types (§2.8 table)."""
    allow_type, exceeded_type = _rule_types(g)
    name = f"{g.scope_name}: {g.feature.key}"
    expires_at = g.expires_at if g.source == "override" else None

    def rule(rule_id: str, rule_name: str, rule_type: RuleType, value: bool, limit: Condition | None) -> Rule:
        scope = Condition(
            id=f"{rule_id}:scope",
            condition_type="plan" if g.source == "plan" else "company",
            operator="eq",
            resource_ids=(g.scope_id,),
        )
        return Rule(
            id=rule_id,
            name=rule_name,
            rule_type=rule_type,
            priority=0,
            value=value,
            conditions=(scope,) if limit is None else (scope, limit),
            flag_id=flag_id,
            expires_at=expires_at,
            source_id=g.id,
        )

    if g.value_type == "boolean":
        return (rule(g.rule_id, name, allow_type, bool(g.value_bool), None),)
    if g.value_type == "unlimited":
        return (rule(g.rule_id, name, allow_type, True, None),)
    exceeded_id = g.rule_id_usage_exceeded
    return (
        rule(g.rule_id, name, allow_type, True, limit_condition(g, "lt", f"{g.rule_id}:limit")),
        rule(
            exceeded_id,
            f"{name} (usage exceeded)",
            exceeded_type,
            False,
            limit_condition(g, "gte", f"{exceeded_id}:limit"),
        ),
    )


def limit_condition(g: GrantSpec, operator: str, condition_id: str) -> Condition:
    """The metric, trait or credit condition of a limited grant (``lt`` allows, ``gte`` denies)."""
    feature, vt = g.feature, g.value_type
    is_event, is_trait = feature.feature_type == "event", feature.feature_type in _TRAIT_FEATURES
    if vt == "credit":
        if g.credit_id is None:
            raise CompileError(f"grant {g.id}: credit value type needs credit_id")
        return Condition(
            id=condition_id,
            condition_type="credit",
            operator=operator,
            credit_id=g.credit_id,
            consumption_rate=g.consumption_rate,
            event_subtype=feature.event_subtype,
        )
    if vt == "numeric" and g.value_numeric is None:
        raise CompileError(f"grant {g.id}: numeric value type needs value_numeric")
    if vt == "trait" and g.value_trait is None:
        raise CompileError(f"grant {g.id}: trait value type needs value_trait")
    if vt not in ("numeric", "trait") or not (is_event or is_trait):
        raise CompileError(f"grant {g.id}: value type {vt!r} unsupported on a {feature.feature_type} feature")
    if is_event:
        if feature.event_subtype is None:
            raise CompileError(f"grant {g.id}: event feature {feature.key} has no event_subtype")
        return Condition(
            id=condition_id,
            condition_type="metric",
            operator=operator,
            event_subtype=feature.event_subtype,
            metric_value=g.value_numeric if vt == "numeric" else 0,
            metric_period=g.metric_period or "all_time",
            month_reset=g.month_reset or "first_of_month",
            comparison_trait=g.value_trait if vt == "trait" else None,
        )
    if feature.usage_trait is None:
        raise CompileError(f"grant {g.id}: trait feature {feature.key} has no usage trait")
    if vt == "numeric":
        return Condition(
            id=condition_id,
            condition_type="trait",
            operator=operator,
            trait=feature.usage_trait,
            trait_value=str(g.value_numeric),
        )
    return Condition(
        id=condition_id,
        condition_type="trait",
        operator=operator,
        trait=feature.usage_trait,
        comparison_trait=g.value_trait,
    )


# ---------------------------------------------------------------- most generous (§2.10)


class _Allocation(NamedTuple):
    rank: int  # 2 unlimited-like, 1 limited, 0 boolean off
    amount: int = 0
    period: str | None = None  # None: no metric period (trait features)


def _allocation(g: GrantSpec, traits: Mapping[str, str] | None) -> _Allocation:
    vt = g.value_type
    if vt == "boolean":
        return _Allocation(2 if g.value_bool else 0)
    if vt not in ("numeric", "trait"):
        return _Allocation(2)  # unlimited, and credit (its allocation is null, as unlimited)
    if vt == "numeric":
        amount = g.value_numeric or 0
    else:
        name = g.value_trait.name if g.value_trait is not None else ""
        amount = parse_int((traits or {}).get(name, ""))
    period = (g.metric_period or "all_time") if g.feature.feature_type == "event" else None
    return _Allocation(1, amount, period)


def _more_generous(a: _Allocation, b: _Allocation) -> bool:
    """Whether ``a`` is strictly more generous than ``b``."""
    if a.rank != b.rank or a.rank != 1:
        return a.rank > b.rank
    if a.period is None or b.period is None:
        # Two period-less limits compare raw; a periodic limit beats a period-less one.
        return a.amount > b.amount if a.period == b.period else a.period is not None
    if "all_time" in (a.period, b.period) or a.period not in _DAYS or b.period not in _DAYS:
        return a.amount > b.amount
    # Daily rates compared exactly: a/da > b/db  <=>  a*db > b*da.
    return a.amount * _DAYS[b.period] > b.amount * _DAYS[a.period]


def is_expired(g: GrantSpec, now: datetime) -> bool:
    return g.source == "override" and g.expires_at is not None and now >= g.expires_at


def most_generous(
    grants: Sequence[GrantSpec], now: datetime, traits: Mapping[str, str] | None = None
) -> GrantSpec | None:
    """The grant reported as the company's entitlement for one feature.

    Expired overrides are ignored; a boolean override replaces every plan grant. Otherwise the
    most generous grant wins; ties go to overrides (their rules are evaluated first), then to
    the earlier grant. ``traits`` (company trait name → value) resolves trait-valued limits.
    """
    live = [g for g in grants if not is_expired(g, now)]
    for g in live:
        if g.source == "override" and g.value_type == "boolean":
            return g
    best: GrantSpec | None = None
    best_alloc = _Allocation(-1)
    for g in sorted(live, key=lambda g: g.source != "override"):
        alloc = _allocation(g, traits)
        if best is None or _more_generous(alloc, best_alloc):
            best, best_alloc = g, alloc
    return best
