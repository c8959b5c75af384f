"""Promotion: copy the catalog of one environment into another (e.g. staging → production).

Upserts by natural key — features and flags by flag key, plans by name, trait definitions by
(entity type, name) — so running it twice creates nothing new. Nothing only the target has is deleted.

Rules: a flag's client rules in the target are replaced by the source's, except that company and
user ids mean nothing in another environment. So source rules with a `company` or `user` condition
are skipped (listed in `skipped_rules`), and target rules with such conditions are kept."""

from collections import defaultdict
from dataclasses import dataclass, field

from domain.cache import changes
from domain.catalog import repository as repo
from domain.catalog.models import Condition, ConditionGroup, Feature, Flag, Plan, PlanEntitlement, Rule
from domain.companies.models import TraitDefinition
from domain.environments.service import authenticator
from domain.errors import Forbidden, InvalidInput
from domain.ids import new_condition_group_id, new_condition_id, new_rule_id
from domain.scope import Scope

_FEATURE_FIELDS = ("name", "description", "event_subtype", "icon", "lifecycle_phase", "plural_name", "singular_name")
_FLAG_FIELDS = ("name", "description", "default_value", "flag_type")
_PLAN_FIELDS = (
    "description", "icon", "is_default", "is_trialable", "trial_days", "charge_type", "currency",
    "monthly_price", "quarterly_price", "yearly_price", "one_time_price",
)
_GRANT_FIELDS = (
    "value_type", "value_bool", "value_numeric", "value_credit_id", "consumption_rate", "metric_period",
    "metric_period_month_reset", "price_behavior", "soft_limit", "warning_tiers",
)
_RULE_FIELDS = ("name", "priority", "rule_type", "value", "rollout_percentage", "rollout_salt")
_CONDITION_FIELDS = (
    "position", "condition_type", "operator", "resource_ids", "trait_value", "event_subtype", "metric_value",
    "metric_period", "metric_period_month_reset", "credit_id", "consumption_rate",
)
_ENTITY_CONDITIONS = ("company", "user")


@dataclass(slots=True)
class PromotionSummary:
    features_created: int = 0
    features_updated: int = 0
    flags_created: int = 0
    flags_updated: int = 0
    plans_created: int = 0
    plans_updated: int = 0
    entitlements_created: int = 0
    entitlements_updated: int = 0
    trait_definitions_created: int = 0
    rules_copied: int = 0
    skipped_rules: list[str] = field(default_factory=list)  # "<flag key>: <rule name>"


@dataclass(slots=True)
class _Source:
    features: dict[str, Feature]
    flags: list[Flag]
    plans: list[Plan]
    entitlements: list[PlanEntitlement]
    rules: dict[str, list[Rule]]  # by flag id
    groups: dict[str, list[ConditionGroup]]  # by rule id
    conditions: dict[str, list[Condition]]  # by rule id
    traits: dict[str, TraitDefinition]  # referenced ones, by id


async def _load_source(scope: Scope) -> _Source:
    features = {f.id: f for f in await repo.scoped(Feature, scope)}
    rules: dict[str, list[Rule]] = defaultdict(list)
    for rule in await repo.scoped(Rule, scope).order_by("priority", "id"):
        rules[rule.flag_id].append(rule)  # type: ignore[attr-defined]
    groups: dict[str, list[ConditionGroup]] = defaultdict(list)
    for group in await repo.scoped(ConditionGroup, scope).order_by("position", "id"):
        groups[group.rule_id].append(group)  # type: ignore[attr-defined]
    conditions: dict[str, list[Condition]] = defaultdict(list)
    for cond in await repo.scoped(Condition, scope).order_by("position", "id"):
        conditions[cond.rule_id].append(cond)  # type: ignore[attr-defined]
    entitlements = await repo.scoped(PlanEntitlement, scope)
    trait_ids = {f.trait_definition_id for f in features.values()}  # type: ignore[attr-defined]
    trait_ids |= {e.value_trait_id for e in entitlements}  # type: ignore[attr-defined]
    for conds in conditions.values():
        trait_ids |= {c.trait_definition_id for c in conds} | {c.comparison_trait_definition_id for c in conds}  # type: ignore[attr-defined]
    trait_ids.discard(None)
    traits = {t.id: t for t in await repo.scoped(TraitDefinition, scope).filter(id__in=list(trait_ids))}
    return _Source(
        features=features, flags=list(await repo.scoped(Flag, scope).order_by("id")),
        plans=list(await repo.scoped(Plan, scope).order_by("id")), entitlements=list(entitlements),
        rules=rules, groups=groups, conditions=conditions, traits=traits,
    )


async def _check_conflicts(target: Scope, src: _Source) -> None:
    """Everything that would make the copy ambiguous is refused before anything is written."""
    target_flags = {f.key: f for f in await repo.scoped(Flag, target).filter(key__in=[f.key for f in src.flags])}
    target_features = {
        f.id: f for f in await repo.scoped(Feature, target).filter(
            id__in=[f.feature_id for f in target_flags.values() if f.feature_id]  # type: ignore[attr-defined]
        )
    }
    for flag in src.flags:
        existing = target_flags.get(flag.key)
        if existing is None:
            continue
        source_feature = src.features.get(flag.feature_id)  # type: ignore[attr-defined, arg-type]
        target_feature = target_features.get(existing.feature_id)  # type: ignore[attr-defined, arg-type]
        if (source_feature is None) != (target_feature is None):
            raise InvalidInput(f"flag {flag.key!r} is a feature's flag in one environment and standalone in the other")
        if source_feature and target_feature and source_feature.feature_type != target_feature.feature_type:
            raise InvalidInput(
                f"feature {flag.key!r} is {source_feature.feature_type} in the source and "
                f"{target_feature.feature_type} in the target; feature types cannot change"
            )
    target_plans = {p.name: p for p in await repo.scoped(Plan, target).filter(name__in=[p.name for p in src.plans])}
    for plan in src.plans:
        existing_plan = target_plans.get(plan.name)
        if existing_plan and existing_plan.plan_type != plan.plan_type:
            raise InvalidInput(f"plan {plan.name!r} is a {plan.plan_type} in the source and a "
                               f"{existing_plan.plan_type} in the target")
    for trait in src.traits.values():
        existing_trait = await repo.scoped(TraitDefinition, target).get_or_none(
            entity_type=trait.entity_type, name=trait.name
        )
        if existing_trait and existing_trait.trait_type != trait.trait_type:
            raise InvalidInput(f"{trait.entity_type} trait {trait.name!r} is {trait.trait_type} in the source and "
                               f"{existing_trait.trait_type} in the target")


async def copy_catalog(source_scope: Scope, target_scope: Scope) -> PromotionSummary:
    """Copy features, flags with their rules, plans and plan entitlements from the source
    environment into the target environment."""
    source_scope.require_secret("reading the catalog to promote")
    target_scope.require_write("promoting a catalog")
    if source_scope.environment_id == target_scope.environment_id:
        raise InvalidInput("source and target are the same environment")
    src = await _load_source(source_scope)
    await _check_conflicts(target_scope, src)

    summary = PromotionSummary()
    copier = _Copier(target_scope, src, summary)
    await copier.traits()
    await copier.plans()
    await copier.features_and_flags()
    await copier.entitlements()
    await copier.rules()
    await changes.record_change(target_scope.environment_id, changes.ENVIRONMENT, "*")
    return summary


class _Copier:
    def __init__(self, target: Scope, src: _Source, summary: PromotionSummary) -> None:
        self.target, self.env, self.src, self.summary = target, target.environment_id, src, summary
        self.trait_ids: dict[str, str] = {}  # source id -> target id
        self.plan_ids: dict[str, str] = {}
        self.feature_ids: dict[str, str] = {}
        self.flag_ids: dict[str, str] = {}

    async def traits(self) -> None:
        for trait in self.src.traits.values():
            copied, created = await TraitDefinition.get_or_create(
                environment_id=self.env, entity_type=trait.entity_type, name=trait.name,
                defaults={"trait_type": trait.trait_type, "display_name": trait.display_name},
            )
            self.trait_ids[trait.id] = copied.id
            self.summary.trait_definitions_created += created

    async def plans(self) -> None:
        existing = {p.name: p for p in await repo.scoped(Plan, self.target)}
        for plan in self.src.plans:
            values = {name: getattr(plan, name) for name in _PLAN_FIELDS}
            copy = existing.get(plan.name)
            if copy is None:
                copy = await Plan.create(environment_id=self.env, name=plan.name, plan_type=plan.plan_type, **values)
                self.summary.plans_created += 1
            elif _differs(copy, values):
                await copy.update_from_dict(values).save()
                self.summary.plans_updated += 1
            self.plan_ids[plan.id] = copy.id

    async def features_and_flags(self) -> None:
        existing = {f.key: f for f in await repo.scoped(Flag, self.target)}
        for flag in self.src.flags:
            feature = self.src.features.get(flag.feature_id)  # type: ignore[attr-defined, arg-type]
            target_flag = existing.get(flag.key)
            feature_id = await self._feature(feature, target_flag) if feature else None
            values = {name: getattr(flag, name) for name in _FLAG_FIELDS}
            if target_flag is None:
                target_flag = await Flag.create(environment_id=self.env, key=flag.key, feature_id=feature_id, **values)
                self.summary.flags_created += 1
            elif _differs(target_flag, values):
                await target_flag.update_from_dict(values).save()
                self.summary.flags_updated += 1
            self.flag_ids[flag.id] = target_flag.id

    async def _feature(self, feature: Feature, target_flag: Flag | None) -> str:
        values: dict[str, object] = {name: getattr(feature, name) for name in _FEATURE_FIELDS}
        values["trait_definition_id"] = self.trait_ids.get(feature.trait_definition_id)  # type: ignore[attr-defined, arg-type]
        if target_flag is None:
            copy = await Feature.create(environment_id=self.env, feature_type=feature.feature_type, **values)
            self.summary.features_created += 1
        else:
            copy = await repo.scoped(Feature, self.target).get(id=target_flag.feature_id)  # type: ignore[attr-defined]
            if _differs(copy, values):
                await copy.update_from_dict(values).save()
                self.summary.features_updated += 1
        self.feature_ids[feature.id] = copy.id
        return copy.id

    async def entitlements(self) -> None:
        existing = {
            (e.plan_id, e.feature_id): e  # type: ignore[attr-defined]
            for e in await repo.scoped(PlanEntitlement, self.target).filter(plan_id__in=list(self.plan_ids.values()))
        }
        for ent in self.src.entitlements:
            plan_id, feature_id = self.plan_ids[ent.plan_id], self.feature_ids[ent.feature_id]  # type: ignore[attr-defined]
            values: dict[str, object] = {name: getattr(ent, name) for name in _GRANT_FIELDS}
            values["value_trait_id"] = self.trait_ids.get(ent.value_trait_id)  # type: ignore[attr-defined, arg-type]
            copy = existing.get((plan_id, feature_id))
            if copy is None:
                await PlanEntitlement.create(environment_id=self.env, plan_id=plan_id, feature_id=feature_id, **values)
                self.summary.entitlements_created += 1
            elif _differs(copy, values):
                await copy.update_from_dict(values).save()
                self.summary.entitlements_updated += 1

    async def rules(self) -> None:
        target_rules = repo.scoped(Rule, self.target).filter(flag_id__in=list(self.flag_ids.values()))
        rule_ids = await target_rules.values_list("id", flat=True)
        environment_specific = await repo.scoped(Condition, self.target).filter(
            rule_id__in=rule_ids, condition_type__in=_ENTITY_CONDITIONS
        ).values_list("rule_id", flat=True)
        await target_rules.exclude(id__in=list(environment_specific)).delete()
        rules, groups, conditions = [], [], []
        for flag in self.src.flags:
            for rule in self.src.rules.get(flag.id, []):
                source_conditions = self.src.conditions.get(rule.id, [])
                if any(c.condition_type in _ENTITY_CONDITIONS for c in source_conditions):
                    self.summary.skipped_rules.append(f"{flag.key}: {rule.name}")
                    continue
                copy = Rule(id=new_rule_id(), environment_id=self.env, flag_id=self.flag_ids[flag.id],
                            **{name: getattr(rule, name) for name in _RULE_FIELDS})
                rules.append(copy)
                group_ids = {}
                for group in self.src.groups.get(rule.id, []):
                    group_ids[group.id] = new_condition_group_id()
                    groups.append(ConditionGroup(id=group_ids[group.id], environment_id=self.env, rule_id=copy.id,
                                                 position=group.position))
                conditions += [self._condition(c, copy.id, group_ids) for c in source_conditions]
        for model, objects in ((Rule, rules), (ConditionGroup, groups), (Condition, conditions)):
            if objects:
                await model.bulk_create(objects)  # type: ignore[attr-defined]
        self.summary.rules_copied = len(rules)

    def _condition(self, cond: Condition, rule_id: str, group_ids: dict[str, str]) -> Condition:
        values: dict[str, object] = {name: getattr(cond, name) for name in _CONDITION_FIELDS}
        if cond.condition_type in ("plan", "base_plan"):
            # A plan id the source no longer has matches nothing there; it is dropped.
            values["resource_ids"] = [self.plan_ids[p] for p in cond.resource_ids if p in self.plan_ids]
        return Condition(
            id=new_condition_id(), environment_id=self.env, rule_id=rule_id,
            group_id=group_ids.get(cond.group_id) if cond.group_id else None,  # type: ignore[attr-defined]
            trait_definition_id=self.trait_ids.get(cond.trait_definition_id),  # type: ignore[attr-defined, arg-type]
            comparison_trait_definition_id=self.trait_ids.get(cond.comparison_trait_definition_id),  # type: ignore[attr-defined, arg-type]
            **values,
        )


def _differs(row: object, values: dict[str, object]) -> bool:
    return any(getattr(row, name) != value for name, value in values.items())


async def copy_catalog_from_key(target_scope: Scope, source_key: str) -> PromotionSummary:
    """Promote into the caller's environment from the environment of `source_key`, a secret key of
    that environment: holding it proves the caller may read the source."""
    source = await authenticator.lookup(source_key)  # Unauthenticated when unknown or revoked
    if source.kind != "secret":
        raise Forbidden("sourceKey must be a secret API key of the environment to copy from", field="source_key")
    return await copy_catalog(source.scope, target_scope)
