"""DataLoader batch functions of the catalog area: one query per relation and request, scoped to the
caller's environment. Values come back in the order of the keys."""

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import TypeVar

from tortoise.models import Model

from domain.catalog.models import Condition, ConditionGroup, Feature, Flag, Plan, PlanEntitlement, Rule
from domain.catalog.repository import scoped
from domain.entitlements.models import CompanyPlan
from domain.rules.types import RULE_TYPE_ORDER
from domain.scope import Scope

M = TypeVar("M", bound=Model)


async def _by_id(model: type[M], scope: Scope, ids: Sequence[str]) -> list[M | None]:
    rows = {row.pk: row for row in await scoped(model, scope).filter(id__in=list(ids))}
    return [rows.get(i) for i in ids]


async def _grouped(model: type[M], scope: Scope, column: str, keys: Sequence[str], *order: str) -> list[list[M]]:
    groups: dict[str, list[M]] = defaultdict(list)
    for row in await scoped(model, scope).filter(**{f"{column}__in": list(keys)}).order_by(*order):
        groups[getattr(row, column)].append(row)
    return [groups.get(k, []) for k in keys]


async def load_features(scope: Scope, ids: Sequence[str]) -> list[Feature | None]:
    return await _by_id(Feature, scope, ids)


async def load_flags(scope: Scope, ids: Sequence[str]) -> list[Flag | None]:
    return await _by_id(Flag, scope, ids)


async def load_plans(scope: Scope, ids: Sequence[str]) -> list[Plan | None]:
    return await _by_id(Plan, scope, ids)


async def load_flag_of_feature(scope: Scope, feature_ids: Sequence[str]) -> list[Flag | None]:
    flags = {f.feature_id: f for f in await scoped(Flag, scope).filter(feature_id__in=list(feature_ids))}  # type: ignore[attr-defined]
    return [flags.get(i) for i in feature_ids]


async def load_entitlements_of_plan(scope: Scope, plan_ids: Sequence[str]) -> list[list[PlanEntitlement]]:
    return await _grouped(PlanEntitlement, scope, "plan_id", plan_ids, "id")


async def load_entitlements_of_feature(scope: Scope, feature_ids: Sequence[str]) -> list[list[PlanEntitlement]]:
    return await _grouped(PlanEntitlement, scope, "feature_id", feature_ids, "id")


async def load_rules_of_flag(scope: Scope, flag_ids: Sequence[str]) -> list[list[Rule]]:
    """Rules in evaluation order: by rule type group, then priority, then id."""
    groups = await _grouped(Rule, scope, "flag_id", flag_ids, "priority", "id")
    rank = {rule_type: i for i, rule_type in enumerate(RULE_TYPE_ORDER)}
    return [sorted(rules, key=lambda r: rank.get(r.rule_type, len(rank))) for rules in groups]  # type: ignore[arg-type]


async def load_groups_of_rule(scope: Scope, rule_ids: Sequence[str]) -> list[list[ConditionGroup]]:
    return await _grouped(ConditionGroup, scope, "rule_id", rule_ids, "position", "id")


async def load_conditions_of_rule(scope: Scope, rule_ids: Sequence[str]) -> list[list[Condition]]:
    """Every condition of each rule, top-level and grouped (callers split them by `group_id`)."""
    return await _grouped(Condition, scope, "rule_id", rule_ids, "position", "id")


async def load_company_counts(scope: Scope, plan_ids: Sequence[str]) -> list[int]:
    rows = scoped(CompanyPlan, scope).filter(plan_id__in=list(plan_ids))
    counts = Counter(await rows.values_list("plan_id", flat=True))
    return [counts.get(i, 0) for i in plan_ids]

