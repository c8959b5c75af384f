"""Client-managed rules of a flag (standard, default, global_override), replaced wholesale.

Entitlement and override rules are never stored: they are compiled from plan entitlements and
company overrides (domain/rules/compile.py)."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.cache import changes
from domain.catalog import repository as repo
from domain.catalog import validation as v
from domain.catalog.models import (
    CLIENT_RULE_TYPES,
    CONDITION_TYPES,
    OPERATORS,
    Condition,
    ConditionGroup,
    Flag,
    Plan,
    Rule,
)
from domain.companies.models import Company, TraitDefinition, User
from domain.errors import InvalidInput
from domain.ids import new_condition_group_id, new_rule_id
from domain.periods import MONTH_RESETS, PERIODS
from domain.rules.types import ENTITLEMENT_RULE_TYPES
from domain.scope import Scope

# Id conditions whose ids must name rows of this environment, and the model they name.
_CHECKED_IDS = {"company": Company, "user": User, "plan": Plan, "base_plan": Plan}
_ID_CONDITIONS = (*_CHECKED_IDS, "plan_version", "billing_product")  # plan versions and billing products: free ids
_TRAIT_COLUMNS = (("trait_id", "trait_definition_id"), ("comparison_trait_id", "comparison_trait_definition_id"))


@dataclass(frozen=True, slots=True)
class ConditionInput:
    """One condition, with the field names of Schematic's CreateOrUpdateConditionRequestBody
    (its `credit_cost` is `consumption_rate` here)."""

    condition_type: str
    operator: str
    resource_ids: Sequence[str] = ()
    trait_id: str | None = None
    trait_value: str = ""
    comparison_trait_id: str | None = None
    event_subtype: str | None = None
    metric_value: int | None = None
    metric_period: str | None = None
    metric_period_month_reset: str | None = None
    credit_id: str | None = None
    consumption_rate: str | None = None


@dataclass(frozen=True, slots=True)
class RuleInput:
    """One rule: its top-level `conditions` are ANDed; each group is an OR of its conditions."""

    name: str
    value: bool
    priority: int = 0
    rule_type: str = "standard"
    conditions: Sequence[ConditionInput] = ()
    condition_groups: Sequence[Sequence[ConditionInput]] = ()
    rollout_percentage: int | None = None
    rollout_salt: str | None = None
    id: str | None = None  # kept when it names a current rule of the flag, so rule ids stay stable


@dataclass(slots=True)
class _References:
    """Ids the conditions name, with the field that named them, checked in one query per model."""

    ids: dict[type, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, model: type, ids: Sequence[str], where: str) -> None:
        for ref in ids:
            self.ids[model].setdefault(ref, where)

    async def check(self, scope: Scope) -> dict[str, TraitDefinition]:
        """Raise for the first missing id; return the trait definitions named."""
        for model in (Company, User, Plan):
            refs = self.ids.get(model, {})
            missing = await repo.missing_ids(model, scope, refs)
            if missing:
                raise InvalidInput(
                    f"no {model.__name__.lower()} with id {missing[0]!r} in this environment", field=refs[missing[0]]
                )
        refs = self.ids.get(TraitDefinition, {})
        traits = {t.id: t for t in await repo.scoped(TraitDefinition, scope).filter(id__in=list(refs))} if refs else {}
        for trait_id, where in refs.items():
            if trait_id not in traits:
                raise InvalidInput(f"no trait definition with id {trait_id!r} in this environment", field=where)
        return traits


def _absent(cond: ConditionInput, where: str, *names: str) -> None:
    for name in names:
        value = getattr(cond, name)
        if value not in (None, "", (), []):
            raise InvalidInput(f"{name} does not apply to a {cond.condition_type} condition", field=f"{where}.{name}")


def _condition(cond: ConditionInput, where: str, refs: _References) -> dict[str, object]:
    ctype = v.choice(cond.condition_type, CONDITION_TYPES, f"{where}.condition_type")
    row: dict[str, object] = {
        "condition_type": ctype, "operator": v.choice(cond.operator, OPERATORS, f"{where}.operator"),
        "resource_ids": v.id_list(cond.resource_ids, f"{where}.resource_ids"),
    }
    if ctype in _ID_CONDITIONS:
        _absent(cond, where, "trait_id", "comparison_trait_id", "event_subtype", "metric_value", "credit_id")
        if ctype in _CHECKED_IDS:
            refs.add(_CHECKED_IDS[ctype], row["resource_ids"], f"{where}.resource_ids")  # type: ignore[arg-type]
        return row
    _absent(cond, where, "resource_ids")
    if ctype == "trait":
        _absent(cond, where, "event_subtype", "metric_value", "credit_id")
        if not cond.trait_id:
            raise InvalidInput("a trait condition needs trait_id (a trait definition)", field=f"{where}.trait_id")
        row["trait_value"] = v.text(cond.trait_value, f"{where}.trait_value", 1000)
    elif ctype == "metric":
        _absent(cond, where, "trait_id", "credit_id")
        row["event_subtype"] = v.event_name(cond.event_subtype, f"{where}.event_subtype")
        if cond.metric_value is None:
            raise InvalidInput("a metric condition needs metric_value", field=f"{where}.metric_value")
        row["metric_value"] = v.integer(cond.metric_value, f"{where}.metric_value")
        row.update(_period(cond.metric_period, cond.metric_period_month_reset, where))
    else:  # credit
        _absent(cond, where, "trait_id", "comparison_trait_id", "metric_value")
        row["credit_id"] = v.ref_id(cond.credit_id, f"{where}.credit_id") if cond.credit_id else None
        if row["credit_id"] is None:
            raise InvalidInput("a credit condition needs credit_id", field=f"{where}.credit_id")
        if cond.consumption_rate is not None:
            row["consumption_rate"] = v.positive_decimal(cond.consumption_rate, f"{where}.consumption_rate")
        if cond.event_subtype is not None:
            row["event_subtype"] = v.event_name(cond.event_subtype, f"{where}.event_subtype")
    for name, column in _TRAIT_COLUMNS:
        ref = getattr(cond, name)
        if ref:
            row[column] = v.ref_id(ref, f"{where}.{name}")
            refs.add(TraitDefinition, [ref], f"{where}.{name}")
    return row


def _period(period: str | None, month_reset: str | None, where: str) -> dict[str, str | None]:
    if period is not None:
        v.choice(period, PERIODS, f"{where}.metric_period")
    if month_reset is not None:
        v.choice(month_reset, MONTH_RESETS, f"{where}.metric_period_month_reset")
        if period != "current_month":
            raise InvalidInput(
                "metric_period_month_reset only applies to metric_period current_month",
                field=f"{where}.metric_period_month_reset",
            )
    return {"metric_period": period, "metric_period_month_reset": month_reset}


@dataclass(slots=True)
class _RuleRows:
    rule: dict[str, object]
    conditions: list[dict[str, object]]
    groups: list[list[dict[str, object]]]


def _rule(rule: RuleInput, where: str, refs: _References) -> _RuleRows:
    rule_type = rule.rule_type
    if rule_type in ENTITLEMENT_RULE_TYPES:
        raise InvalidInput(
            f"rule_type {rule_type} is generated from plan entitlements and company overrides",
            field=f"{where}.rule_type",
        )
    v.choice(rule_type, CLIENT_RULE_TYPES, f"{where}.rule_type")
    row: dict[str, object] = {
        "name": v.name(rule.name, f"{where}.name"),
        "priority": v.integer(rule.priority, f"{where}.priority", minimum=-(2**31), maximum=2**31 - 1),
        "value": v.boolean(rule.value, f"{where}.value"),
        "rule_type": rule_type,
        "rollout_salt": v.optional_text(rule.rollout_salt, f"{where}.rollout_salt"),
    }
    if rule.rollout_percentage is not None:
        if rule_type != "standard":
            raise InvalidInput("rollout_percentage only applies to standard rules", field=f"{where}.rollout_percentage")
        row["rollout_percentage"] = v.integer(
            rule.rollout_percentage, f"{where}.rollout_percentage", minimum=0, maximum=100
        )
    if rule_type != "standard" and (rule.conditions or rule.condition_groups):
        raise InvalidInput(
            f"a {rule_type} rule matches unconditionally and takes no conditions", field=f"{where}.conditions"
        )
    conditions = [_condition(c, f"{where}.conditions[{i}]", refs) for i, c in enumerate(rule.conditions)]
    groups = []
    for g, group in enumerate(rule.condition_groups):
        if not group:
            raise InvalidInput("a condition group needs at least one condition", field=f"{where}.condition_groups[{g}]")
        groups.append([_condition(c, f"{where}.condition_groups[{g}][{i}]", refs) for i, c in enumerate(group)])
    return _RuleRows(row, conditions, groups)


def _check_metric_comparisons(rows: list[_RuleRows], traits: dict[str, TraitDefinition]) -> None:
    for r, rule in enumerate(rows):
        for cond in [*rule.conditions, *(c for g in rule.groups for c in g)]:
            trait = traits.get(cond.get("comparison_trait_definition_id"))  # type: ignore[arg-type]
            if cond["condition_type"] == "metric" and trait is not None and trait.entity_type != "company":
                raise InvalidInput(
                    f"the comparison trait of a metric condition must be a company trait ({trait.name!r} is not)",
                    field=f"rules[{r}]",
                )


async def set_flag_rules(scope: Scope, flag_id: str, rules: Sequence[RuleInput]) -> list[Rule]:
    """Replace every client-managed rule of the flag. Nothing changes when any rule is invalid."""
    scope.require_write("setting flag rules")
    flag = await repo.get_flag(scope, flag_id)
    refs = _References()
    rows = [_rule(rule, f"rules[{i}]", refs) for i, rule in enumerate(rules)]
    for rule_type in ("default", "global_override"):
        if sum(1 for r in rows if r.rule["rule_type"] == rule_type) > 1:
            raise InvalidInput(f"a flag has at most one {rule_type} rule", field="rules")
    _check_metric_comparisons(rows, await refs.check(scope))
    return await _replace(scope, flag, rows, [rule.id for rule in rules])


async def _replace(scope: Scope, flag: Flag, rows: list[_RuleRows], wanted_ids: list[str | None]) -> list[Rule]:
    current = repo.scoped(Rule, scope).filter(flag_id=flag.id)
    reusable = set(await current.values_list("id", flat=True))
    await current.delete()
    env = scope.environment_id
    rules, groups, conditions = [], [], []
    for rule_rows, wanted in zip(rows, wanted_ids, strict=True):
        rule_id = wanted if wanted in reusable else new_rule_id()
        reusable.discard(rule_id)
        rule = Rule(id=rule_id, environment_id=env, flag_id=flag.id, **rule_rows.rule)
        rules.append(rule)
        conditions += [
            Condition(environment_id=env, rule_id=rule_id, position=i, **c) for i, c in enumerate(rule_rows.conditions)
        ]
        for g, group_rows in enumerate(rule_rows.groups):
            group = ConditionGroup(id=new_condition_group_id(), environment_id=env, rule_id=rule_id, position=g)
            groups.append(group)
            conditions += [
                Condition(environment_id=env, rule_id=rule_id, group_id=group.id, position=i, **c)
                for i, c in enumerate(group_rows)
            ]
    for model, objects in ((Rule, rules), (ConditionGroup, groups), (Condition, conditions)):
        if objects:
            await model.bulk_create(objects)  # type: ignore[attr-defined]
    await changes.record_change(env, changes.ENVIRONMENT, "*")
    return rules
