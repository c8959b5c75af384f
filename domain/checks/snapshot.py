"""Snapshots the flag check reads: everything it needs, loaded in a few queries and held in memory.

`EnvironmentSnapshot` holds the catalog (flags, client rules, features, plans and their compiled
entitlement rules); `CompanySnapshot` holds one company (plans, traits, overrides, current-window usage);
`UserSnapshot` one user. Usage is read for the current windows only (the all-time rows and the rows of
the days of the current month), so loading cost does not grow with event history."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from domain.catalog.models import Condition as ConditionRow
from domain.catalog.models import Feature, Flag, Plan, PlanEntitlement
from domain.catalog.models import Rule as RuleRow
from domain.companies.models import Company, CompanyKey, CompanyTrait, TraitDefinition, User, UserTrait
from domain.companies.traits import StoredTrait, render_trait
from domain.entitlements.models import BASE_SLOT, CompanyOverride, CompanyPlan
from domain.metering.usage import window_totals
from domain.metering.windows import FIRST_OF_MONTH
from domain.periods import BillingAnchor, reset_at, window_start_key
from domain.rules import (
    CompanyContext,
    Condition,
    FeatureSpec,
    GrantSpec,
    PreparedRules,
    Rule,
    TraitRef,
    UserContext,
    compile_grant,
    most_generous,
    prepare_rules,
)
from domain.timeutil import utcnow

COMPARABLE = {
    "boolean": "bool", "number": "int", "currency": "int", "date": "date", "string": "string", "url": "string",
}


def normal_reset(period: str | None, month_reset: str | None) -> str:
    return (month_reset or FIRST_OF_MONTH) if period == "current_month" else FIRST_OF_MONTH


def trait_ref(definition: TraitDefinition) -> TraitRef:
    return TraitRef(
        id=definition.id, name=definition.name, entity_type=definition.entity_type,  # type: ignore[arg-type]
        comparable_type=COMPARABLE.get(definition.trait_type, "string"),  # type: ignore[arg-type]
    )


def _decimal(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


@dataclass(frozen=True, slots=True)
class FlagEntry:
    id: str
    key: str
    default_value: bool
    feature: FeatureSpec | None
    client_rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class PlanInfo:
    id: str
    name: str
    plan_type: str


@dataclass(slots=True)
class EnvironmentSnapshot:
    environment_id: str
    flags_by_key: dict[str, FlagEntry]
    flags_by_feature: dict[str, FlagEntry]
    plans: dict[str, PlanInfo]
    plan_grants: dict[str, dict[str, GrantSpec]]  # plan id -> feature id -> grant
    plan_rules: dict[tuple[str, str], tuple[Rule, ...]]  # (plan id, flag id) -> compiled rules
    traits: dict[str, TraitRef]
    features: dict[str, FeatureSpec]


def grant_spec(row: PlanEntitlement | CompanyOverride, source: str, scope_id: str, scope_name: str,
               feature: FeatureSpec, traits: dict[str, TraitRef]) -> GrantSpec:
    return GrantSpec(
        id=row.id, source=source, scope_id=scope_id, scope_name=scope_name,  # type: ignore[arg-type]
        feature=feature, value_type=row.value_type, rule_id=row.rule_id,
        rule_id_usage_exceeded=row.rule_id_usage_exceeded, value_bool=row.value_bool,
        value_numeric=row.value_numeric,
        value_trait=traits.get(row.value_trait_id) if row.value_trait_id else None,  # type: ignore[attr-defined]
        credit_id=row.value_credit_id, consumption_rate=_decimal(row.consumption_rate),
        metric_period=row.metric_period, month_reset=row.metric_period_month_reset,
        soft_limit=getattr(row, "soft_limit", None), expires_at=getattr(row, "expires_at", None),
        price_behavior=getattr(row, "price_behavior", None),
    )


def _condition(row: ConditionRow, traits: dict[str, TraitRef]) -> Condition:
    return Condition(
        id=row.id, condition_type=row.condition_type, operator=row.operator,
        resource_ids=tuple(row.resource_ids or ()),
        trait=traits.get(row.trait_definition_id) if row.trait_definition_id else None,  # type: ignore[attr-defined]
        trait_value=row.trait_value or "",
        comparison_trait=(
            traits.get(row.comparison_trait_definition_id)  # type: ignore[attr-defined]
            if row.comparison_trait_definition_id else None  # type: ignore[attr-defined]
        ),
        event_subtype=row.event_subtype, metric_value=row.metric_value, metric_period=row.metric_period,
        month_reset=row.metric_period_month_reset, credit_id=row.credit_id,
        consumption_rate=_decimal(row.consumption_rate),
    )


async def load_environment(environment_id: str) -> EnvironmentSnapshot:
    traits = {d.id: trait_ref(d) for d in await TraitDefinition.filter(environment_id=environment_id)}
    features = {
        f.id: FeatureSpec(
            id=f.id, key="", feature_type=f.feature_type, event_subtype=f.event_subtype,
            usage_trait=traits.get(f.trait_definition_id) if f.trait_definition_id else None,  # type: ignore[attr-defined]
        )
        for f in await Feature.filter(environment_id=environment_id)
    }
    flags = await Flag.filter(environment_id=environment_id)
    rule_rows = await RuleRow.filter(environment_id=environment_id)
    condition_rows = await ConditionRow.filter(environment_id=environment_id).order_by("position", "id")
    by_rule: dict[str, list[ConditionRow]] = defaultdict(list)
    for c in condition_rows:
        by_rule[c.rule_id].append(c)  # type: ignore[attr-defined]
    rules_by_flag: dict[str, list[Rule]] = defaultdict(list)
    for r in rule_rows:
        plain = tuple(_condition(c, traits) for c in by_rule[r.id] if c.group_id is None)  # type: ignore[attr-defined]
        groups: dict[str, list[Condition]] = defaultdict(list)
        for c in by_rule[r.id]:
            if c.group_id is not None:  # type: ignore[attr-defined]
                groups[c.group_id].append(_condition(c, traits))  # type: ignore[attr-defined]
        rules_by_flag[r.flag_id].append(Rule(  # type: ignore[attr-defined]
            id=r.id, name=r.name, rule_type=r.rule_type, priority=r.priority, value=r.value,  # type: ignore[arg-type]
            conditions=plain, condition_groups=tuple(tuple(g) for _, g in sorted(groups.items())),
            flag_id=r.flag_id, rollout_percentage=r.rollout_percentage, rollout_salt=r.rollout_salt,  # type: ignore[attr-defined]
        ))
    flags_by_key: dict[str, FlagEntry] = {}
    flags_by_feature: dict[str, FlagEntry] = {}
    for flag in flags:
        feature = features.get(flag.feature_id) if flag.feature_id else None  # type: ignore[attr-defined]
        if feature is not None:
            feature = FeatureSpec(
                feature.id, flag.key, feature.feature_type, feature.event_subtype, feature.usage_trait
            )
            features[feature.id] = feature
        entry = FlagEntry(flag.id, flag.key, flag.default_value, feature, tuple(rules_by_flag[flag.id]))
        flags_by_key[flag.key] = entry
        if feature is not None:
            flags_by_feature[feature.id] = entry
    plans = {p.id: PlanInfo(p.id, p.name, p.plan_type) for p in await Plan.filter(environment_id=environment_id)}
    plan_grants: dict[str, dict[str, GrantSpec]] = defaultdict(dict)
    plan_rules: dict[tuple[str, str], tuple[Rule, ...]] = {}
    for ent in await PlanEntitlement.filter(environment_id=environment_id):
        feature = features.get(ent.feature_id)  # type: ignore[attr-defined]
        plan = plans.get(ent.plan_id)  # type: ignore[attr-defined]
        flag = flags_by_feature.get(ent.feature_id)  # type: ignore[attr-defined]
        if feature is None or plan is None or flag is None:
            continue
        spec = grant_spec(ent, "plan", plan.id, plan.name, feature, traits)
        plan_grants[plan.id][feature.id] = spec
        plan_rules[(plan.id, flag.id)] = compile_grant(spec, flag.id)
    return EnvironmentSnapshot(
        environment_id, flags_by_key, flags_by_feature, plans, dict(plan_grants), plan_rules, traits, features
    )


@dataclass(slots=True)
class CompanySnapshot:
    id: str
    name: str
    keys: dict[str, str]
    base_plan_id: str | None
    add_on_ids: tuple[str, ...]
    trial_ends_at: datetime | None
    traits: dict[str, str]
    anchor: BillingAnchor | None
    counters: dict[tuple[str, str, str, datetime], int]  # (event name, period, month_reset, start) -> usage
    override_grants: dict[str, GrantSpec]  # feature id -> grant
    override_rules: dict[str, tuple[Rule, ...]]  # flag id -> compiled rules
    env: EnvironmentSnapshot
    context: CompanyContext = field(init=False)
    _prepared: dict[str, PreparedRules] = field(default_factory=dict)
    # (period, month_reset) -> the window [start, end) last computed; reused until `end`.
    _windows: dict[tuple[str, str], tuple[datetime, datetime | None]] = field(default_factory=dict)
    _grants: dict[str, tuple[GrantSpec | None, datetime | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.context = CompanyContext(
            id=self.id, base_plan_id=self.base_plan_id,
            plan_ids=frozenset((self.base_plan_id,) if self.base_plan_id else ()) | frozenset(self.add_on_ids),
            traits=self.traits, metric=self.metric,
        )

    def window(self, period: str, month_reset: str, at: datetime) -> tuple[datetime, datetime | None]:
        """The counter window containing `at`, memoised until it ends (period maths is the costly part of a check)."""
        cached = self._windows.get((period, month_reset))
        if cached is not None and cached[0] <= at and (cached[1] is None or at < cached[1]):
            return cached
        start = window_start_key(period, month_reset, at, self.anchor)
        window = (start, reset_at(period, month_reset, at, self.anchor))
        self._windows[(period, month_reset)] = window
        return window

    def metric(self, event_subtype: str, period: str, month_reset: str, at: datetime | None = None) -> int:
        period = period or "all_time"
        reset = normal_reset(period, month_reset)
        at = at or utcnow()
        start, _ = self.window(period, reset, at)
        return self.counters.get((event_subtype, period, reset, start), 0)

    def reset_at(self, period: str, month_reset: str, at: datetime) -> datetime | None:
        return self.window(period, normal_reset(period, month_reset), at)[1]

    def rules_for(self, flag: FlagEntry) -> PreparedRules:
        prepared = self._prepared.get(flag.id)
        if prepared is None:
            rules = list(flag.client_rules)
            for plan_id in self.context.plan_ids:
                rules.extend(self.env.plan_rules.get((plan_id, flag.id), ()))
            rules.extend(self.override_rules.get(flag.id, ()))
            prepared = self._prepared[flag.id] = prepare_rules(rules, flag.id)
        return prepared

    def grant_for(self, feature_id: str, now: datetime) -> GrantSpec | None:
        """The most generous grant of a feature (§2.10), memoised until the next override expiry."""
        memo = self._grants.get(feature_id)
        if memo is not None and (memo[1] is None or now < memo[1]):
            return memo[0]
        grants = self.grants_for(feature_id)
        expiries = [g.expires_at for g in grants if g.expires_at is not None and g.expires_at > now]
        grant = most_generous(grants, now, self.traits)
        self._grants[feature_id] = (grant, min(expiries) if expiries else None)
        return grant

    def grants_for(self, feature_id: str) -> list[GrantSpec]:
        grants = [self.env.plan_grants.get(p, {}).get(feature_id) for p in self.context.plan_ids]
        found = [g for g in grants if g is not None]
        override = self.override_grants.get(feature_id)
        if override is not None:
            found.append(override)
        return found


def _stored(row: CompanyTrait | UserTrait) -> StoredTrait:
    return StoredTrait(row.value_text, row.value_number, row.value_bool, row.value_date)


async def load_company(env: EnvironmentSnapshot, company_id: str) -> CompanySnapshot | None:
    company = await Company.get_or_none(id=company_id, environment_id=env.environment_id)
    if company is None:
        return None
    keys = dict(await CompanyKey.filter(company_id=company_id).values_list("key", "value"))
    definitions = {
        d.id: d for d in await TraitDefinition.filter(environment_id=env.environment_id, entity_type="company")
    }
    traits: dict[str, str] = {}
    for row in await CompanyTrait.filter(company_id=company_id):
        definition = definitions.get(row.definition_id)  # type: ignore[attr-defined]
        if definition is not None:
            traits[definition.name] = render_trait(definition.trait_type, _stored(row))
    base_plan_id: str | None = None
    add_ons: list[str] = []
    trial_ends_at = None
    for assignment in await CompanyPlan.filter(company_id=company_id):
        if assignment.slot == BASE_SLOT:
            base_plan_id, trial_ends_at = assignment.plan_id, assignment.trial_ends_at  # type: ignore[attr-defined]
        else:
            add_ons.append(assignment.plan_id)  # type: ignore[attr-defined]
    anchor = BillingAnchor.of(company.billing_period_start, company.billing_period_end)
    now = utcnow()
    usage = (await window_totals(env.environment_id, {company_id: anchor}, now)).get(company_id, {})
    counters = {
        (name, period, reset, window_start_key(period, reset, now, anchor)): total.usage
        for name, by_window in usage.items()
        for (period, reset), total in by_window.items()
    }
    override_grants: dict[str, GrantSpec] = {}
    override_rules: dict[str, tuple[Rule, ...]] = {}
    for override in await CompanyOverride.filter(company_id=company_id):
        feature = env.features.get(override.feature_id)  # type: ignore[attr-defined]
        flag = env.flags_by_feature.get(override.feature_id)  # type: ignore[attr-defined]
        if feature is None or flag is None:
            continue
        spec = grant_spec(override, "override", company.id, company.name or company.id, feature, env.traits)
        override_grants[feature.id] = spec
        override_rules[flag.id] = compile_grant(spec, flag.id)
    return CompanySnapshot(
        id=company.id, name=company.name, keys=keys, base_plan_id=base_plan_id, add_on_ids=tuple(add_ons),
        trial_ends_at=trial_ends_at, traits=traits, anchor=anchor, counters=counters,
        override_grants=override_grants, override_rules=override_rules, env=env,
    )


@dataclass(frozen=True, slots=True)
class UserSnapshot:
    id: str
    context: UserContext


async def load_user(environment_id: str, user_id: str) -> UserSnapshot | None:
    user = await User.get_or_none(id=user_id, environment_id=environment_id)
    if user is None:
        return None
    definitions = {d.id: d for d in await TraitDefinition.filter(environment_id=environment_id, entity_type="user")}
    traits: dict[str, str] = {}
    for row in await UserTrait.filter(user_id=user_id):
        definition = definitions.get(row.definition_id)  # type: ignore[attr-defined]
        if definition is not None:
            traits[definition.name] = render_trait(definition.trait_type, _stored(row))
    return UserSnapshot(user.id, UserContext(user.id, traits))
