"""Schematic's response shapes (the pydantic models of the `schematichq` SDK, product model §7.9).

Every function takes already-loaded domain rows and returns plain dicts; the `*_details` functions
batch-load what a page of rows needs (a fixed number of queries per page, not per row). Required
fields are always present, required lists are `[]`, never null; ids are strings and datetimes are
aware UTC (rendered RFC 3339 with `Z` by api.http.JSONResponse)."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.functions import Count

from domain.catalog import repository as catalog_repo
from domain.catalog.models import Condition, ConditionGroup, Feature, Flag, Plan, PlanEntitlement, Rule
from domain.checks.entitlement import Usage
from domain.checks.service import company_usage
from domain.companies import repository as companies_repo
from domain.companies.definitions import stored_of
from domain.companies.models import (
    Company,
    CompanyMembership,
    TraitDefinition,
    User,
)
from domain.companies.repository import COMPANY, USER, EntityKind
from domain.companies.service import member_counts
from domain.companies.traits import render_trait, trait_json
from domain.entitlements.models import BASE_SLOT, CompanyOverride, CompanyPlan
from domain.environments.models import Environment
from domain.metering.usage import window_totals
from domain.metering.windows import WINDOWS, Total, Window
from domain.periods import BillingAnchor, window_start_key
from domain.scope import Scope
from domain.timeutil import utcnow

Json = dict[str, Any]

EVENT_SOURCE = "track"


def _float(value: str | Decimal | None) -> float | None:
    if value is None:
        return None
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


def deleted() -> Json:
    return {"deleted": True}


def count(n: int) -> Json:
    return {"count": n}


# ---------------------------------------------------------------- environments and account


def environment(env: Environment) -> Json:
    return {
        "id": env.id, "name": env.name, "environment_type": env.environment_type,
        "require_context_signature": env.require_context_signature,
        "created_at": env.created_at, "updated_at": env.updated_at,
    }


# ---------------------------------------------------------------- trait definitions


def trait_definition(definition: TraitDefinition) -> Json:
    """EntityTraitDefinitionResponseData. `hierarchy` is the trait name split on dots."""
    return {
        "id": definition.id, "display_name": definition.display_name or definition.name,
        "entity_type": definition.entity_type, "hierarchy": definition.name.split("."),
        "trait_type": definition.trait_type, "name": definition.name,
        "created_at": definition.created_at, "updated_at": definition.updated_at,
    }


def key_definition_id(entity_type: str, key: str) -> str:
    """plangate has no key definition rows; a key name is its own definition."""
    return f"ekeyd_{entity_type}_{key}"


# ---------------------------------------------------------------- companies and users


def company_basic(company: Company) -> Json:
    """CompanyResponseData."""
    return {
        "id": company.id, "name": company.name, "environment_id": company.environment_id,  # type: ignore[attr-defined]
        "logo_url": company.logo_url, "last_seen_at": company.last_seen_at,
        "created_at": company.created_at, "updated_at": company.updated_at,
    }


def user_basic(user: User) -> Json:
    """UserResponseData."""
    return {
        "id": user.id, "name": user.name, "environment_id": user.environment_id,  # type: ignore[attr-defined]
        "last_seen_at": user.last_seen_at, "created_at": user.created_at, "updated_at": user.updated_at,
    }


def membership(row: CompanyMembership, company: Company | None = None) -> Json:
    """CompanyMembershipDetailResponseData."""
    return {
        "id": row.id, "company_id": row.company_id, "user_id": row.user_id,  # type: ignore[attr-defined]
        "created_at": row.created_at, "updated_at": row.updated_at,
        "company": company_basic(company) if company is not None else None,
    }


async def _entity_keys(scope: Scope, kind: EntityKind, ids: Sequence[str]) -> dict[str, list[Json]]:
    result: dict[str, list[Json]] = {i: [] for i in ids}
    rows = await companies_repo.keys(scope, kind).filter(**{f"{kind.owner_field}__in": list(ids)}).order_by(
        "created_at", "key")
    for row in rows:
        owner = getattr(row, kind.owner_field)
        result[owner].append({
            "id": row.id, "definition_id": key_definition_id(kind.name, row.key), "entity_id": owner,
            "entity_type": kind.name, "environment_id": scope.environment_id, "key": row.key,
            "value": row.value, "created_at": row.created_at, "updated_at": row.updated_at,
        })
    return result


async def _entity_traits(
    scope: Scope, kind: EntityKind, ids: Sequence[str]
) -> tuple[dict[str, list[Json]], dict[str, dict[str, object]]]:
    """EntityTraitDetailResponseData lists and the plain `traits` maps of each entity."""
    details: dict[str, list[Json]] = {i: [] for i in ids}
    plain: dict[str, dict[str, object]] = {i: {} for i in ids}
    rows = await companies_repo.trait_values(scope, kind).filter(
        **{f"{kind.owner_field}__in": list(ids)}).select_related("definition").order_by("created_at", "id")
    for row in rows:
        owner = getattr(row, kind.owner_field)
        definition = row.definition
        stored = stored_of(row)
        details[owner].append({
            "id": row.id, "definition_id": definition.id, "environment_id": scope.environment_id,
            "value": render_trait(definition.trait_type, stored), "definition": trait_definition(definition),
            "created_at": row.created_at, "updated_at": row.updated_at,
        })
        plain[owner][definition.name] = trait_json(definition.trait_type, stored)
    return details, plain


def _plan_view(plan: Plan, added_on: datetime | None) -> Json:
    """CompanyPlanWithBillingSubView."""
    price, period = None, None
    for field, label in (("monthly_price", "month"), ("yearly_price", "year"), ("quarterly_price", "quarter"),
                         ("one_time_price", "one-time")):
        if getattr(plan, field) is not None:
            price, period = getattr(plan, field), label
            break
    return {
        "id": plan.id, "name": plan.name, "description": plan.description, "image_url": None,
        "included_credit_grants": [], "added_on": added_on, "plan_price": price, "plan_period": period,
        "billing_product_id": None, "billing_product_external_id": None, "plan_version_id": None,
    }


async def _company_plans(scope: Scope, ids: Sequence[str]) -> dict[str, list[CompanyPlan]]:
    result: dict[str, list[CompanyPlan]] = {i: [] for i in ids}
    rows = await catalog_repo.scoped(CompanyPlan, scope).filter(company_id__in=list(ids)).select_related(
        "plan").order_by("created_at", "id")
    for row in rows:
        result[row.company_id].append(row)  # type: ignore[attr-defined]
    return result


def _metric(scope: Scope, company_id: str, event_name: str, window: Window, total: Total, start: datetime) -> Json:
    """CompanyEventPeriodMetricsResponseData."""
    first = total.first or start
    return {
        "account_id": scope.account_id, "environment_id": scope.environment_id, "company_id": company_id,
        "event_subtype": event_name, "period": window[0], "month_reset": window[1], "value": total.usage,
        "captured_at_min": first, "captured_at_max": total.last or first, "created_at": first, "valid_until": None,
    }


async def _metrics(scope: Scope, companies: Sequence[Company]) -> dict[str, list[Json]]:
    """The usage of each company in the current window of every period, per event name it has sent."""
    now = utcnow()
    anchors = {
        c.id: BillingAnchor.of(c.billing_period_start, c.billing_period_end) for c in companies
    }
    found = await window_totals(scope.environment_id, anchors, now)
    result: dict[str, list[Json]] = {c.id: [] for c in companies}
    for company_id, by_name in found.items():
        for name in sorted(by_name):
            for window in WINDOWS:
                total = by_name[name][window]
                if total.rows:
                    start = window_start_key(*window, now, anchors[company_id])
                    result[company_id].append(_metric(scope, company_id, name, window, total, start))
    return result


async def entitlements_of(scope: Scope, company_id: str) -> list[Usage]:
    return await company_usage(scope, company_id)


async def company_details(scope: Scope, companies: Sequence[Company]) -> list[Json]:
    """CompanyDetailResponseData for each company, in order."""
    ids = [c.id for c in companies]
    if not ids:
        return []
    keys = await _entity_keys(scope, COMPANY, ids)
    traits, plain = await _entity_traits(scope, COMPANY, ids)
    plans = await _company_plans(scope, ids)
    users = await member_counts(scope, ids)
    metrics = await _metrics(scope, companies)
    out = []
    for company in companies:
        base = next((cp for cp in plans[company.id] if cp.slot == BASE_SLOT), None)
        add_ons = [cp for cp in plans[company.id] if cp.slot != BASE_SLOT]
        entitlements = [u.to_wire() for u in await entitlements_of(scope, company.id)]
        out.append({
            **company_basic(company),
            "keys": keys[company.id], "entity_traits": traits[company.id], "traits": plain[company.id],
            "plan": _plan_view(base.plan, base.created_at) if base else None,
            "add_ons": [_plan_view(cp.plan, cp.created_at) for cp in add_ons],
            "plans": [{"id": cp.plan.id, "name": cp.plan.name, "description": cp.plan.description,
                       "image_url": None} for cp in plans[company.id]],
            "trial_end_date": base.trial_ends_at if base else None,
            "entitlements": entitlements, "metrics": metrics[company.id], "rules": [],
            "user_count": users.get(company.id, 0),
            "billing_subscriptions": [], "payment_methods": [], "custom_plan_billings": [],
            "billing_subscription": None, "default_payment_method": None,
        })
    return out


async def company_detail(scope: Scope, company: Company) -> Json:
    return (await company_details(scope, [company]))[0]


async def user_details(scope: Scope, users: Sequence[User]) -> list[Json]:
    """UserDetailResponseData for each user, in order."""
    ids = [u.id for u in users]
    if not ids:
        return []
    keys = await _entity_keys(scope, USER, ids)
    traits, plain = await _entity_traits(scope, USER, ids)
    memberships: dict[str, list[Json]] = defaultdict(list)
    rows = await companies_repo.memberships(scope).filter(user_id__in=ids).select_related("company").order_by(
        "created_at", "id")
    for row in rows:
        memberships[row.user_id].append(membership(row, row.company))  # type: ignore[attr-defined]
    return [{
        **user_basic(user), "keys": keys[user.id], "entity_traits": traits[user.id], "traits": plain[user.id],
        "company_memberships": memberships[user.id],
    } for user in users]


async def user_detail(scope: Scope, user: User) -> Json:
    return (await user_details(scope, [user]))[0]


# ---------------------------------------------------------------- features, flags and rules


def feature_basic(feature: Feature) -> Json:
    """FeatureResponseData."""
    return {
        "id": feature.id, "name": feature.name, "description": feature.description,
        "feature_type": feature.feature_type, "event_source": EVENT_SOURCE, "event_subtype": feature.event_subtype,
        "trait_id": feature.trait_definition_id,  # type: ignore[attr-defined]
        "usage_limit_trait_id": None, "license_id": None, "icon": feature.icon or "",
        "lifecycle_phase": feature.lifecycle_phase, "plural_name": feature.plural_name,
        "singular_name": feature.singular_name, "maintainer_account_member_id": None,
        "created_at": feature.created_at, "updated_at": feature.updated_at,
    }


def flag_basic(flag: Flag) -> Json:
    """FlagResponseData."""
    return {
        "id": flag.id, "key": flag.key, "name": flag.name, "description": flag.description,
        "flag_type": "boolean", "feature_id": flag.feature_id,  # type: ignore[attr-defined]
        "default_value": flag.default_value, "maintainer_account_member_id": None,
        "created_at": flag.created_at, "updated_at": flag.updated_at,
    }


def plan_basic(plan: Plan) -> Json:
    """PlanResponseData."""
    return {
        "id": plan.id, "name": plan.name, "description": plan.description, "icon": plan.icon or "",
        "plan_type": plan.plan_type, "created_at": plan.created_at, "updated_at": plan.updated_at,
    }


async def _names(scope: Scope, conditions: Iterable[Condition]) -> dict[str, str]:
    """Display names of the companies, users and plans that id conditions name (one query per model)."""
    wanted: dict[type, set[str]] = defaultdict(set)
    models = {"company": Company, "user": User, "plan": Plan, "base_plan": Plan}
    for c in conditions:
        model = models.get(c.condition_type)
        if model is not None:
            wanted[model].update(c.resource_ids or [])
    names: dict[str, str] = {}
    for model, ids in wanted.items():
        for row_id, name in await catalog_repo.scoped(model, scope).filter(id__in=list(ids)).values_list("id", "name"):
            names[row_id] = name or row_id
    return names


def _condition(
    c: Condition, flag_id: str, traits: dict[str, TraitDefinition], names: dict[str, str]
) -> Json:
    """RuleConditionDetailResponseData."""
    trait = traits.get(c.trait_definition_id) if c.trait_definition_id else None  # type: ignore[attr-defined]
    comparison = (traits.get(c.comparison_trait_definition_id)  # type: ignore[attr-defined]
                  if c.comparison_trait_definition_id else None)  # type: ignore[attr-defined]
    ids = list(c.resource_ids or [])
    return {
        "id": c.id, "rule_id": c.rule_id, "condition_group_id": c.group_id,  # type: ignore[attr-defined]
        "environment_id": c.environment_id, "flag_id": flag_id,  # type: ignore[attr-defined]
        "condition_type": c.condition_type, "operator": c.operator, "resource_ids": ids,
        "resources": [{"id": i, "name": names.get(i, i)} for i in ids],
        "trait_id": trait.id if trait else None, "trait": trait_definition(trait) if trait else None,
        "trait_entity_type": trait.entity_type if trait else None, "trait_value": c.trait_value or "",
        "comparison_trait_id": comparison.id if comparison else None,
        "comparison_trait": trait_definition(comparison) if comparison else None,
        "event_subtype": c.event_subtype, "metric_value": c.metric_value, "metric_period": c.metric_period,
        "metric_period_month_reset": c.metric_period_month_reset, "credit_id": c.credit_id,
        "consumption_rate": _float(c.consumption_rate), "created_at": c.created_at, "updated_at": c.updated_at,
    }


async def rule_details(scope: Scope, rules: Sequence[Rule]) -> dict[str, list[Json]]:
    """RuleDetailResponseData of each rule, grouped by flag id, in evaluation-friendly order."""
    rule_ids = [r.id for r in rules]
    conditions = await catalog_repo.scoped(Condition, scope).filter(rule_id__in=rule_ids).order_by(
        "position", "id") if rule_ids else []
    groups = await catalog_repo.scoped(ConditionGroup, scope).filter(rule_id__in=rule_ids).order_by(
        "position", "id") if rule_ids else []
    trait_ids = {i for c in conditions for i in (c.trait_definition_id, c.comparison_trait_definition_id) if i}  # type: ignore[attr-defined]
    traits = ({t.id: t for t in await companies_repo.definitions(scope).filter(id__in=list(trait_ids))}
              if trait_ids else {})
    names = await _names(scope, conditions)
    by_rule: dict[str, list[Condition]] = defaultdict(list)
    for c in conditions:
        by_rule[c.rule_id].append(c)  # type: ignore[attr-defined]
    groups_by_rule: dict[str, list[ConditionGroup]] = defaultdict(list)
    for g in groups:
        groups_by_rule[g.rule_id].append(g)  # type: ignore[attr-defined]
    out: dict[str, list[Json]] = defaultdict(list)
    for rule in sorted(rules, key=lambda r: (r.rule_type != "global_override", r.rule_type == "default",
                                             r.priority, r.id)):
        flag_id = rule.flag_id  # type: ignore[attr-defined]
        plain = [c for c in by_rule[rule.id] if c.group_id is None]  # type: ignore[attr-defined]
        out[flag_id].append({
            "id": rule.id, "environment_id": scope.environment_id, "flag_id": flag_id, "name": rule.name,
            "priority": rule.priority, "rule_type": rule.rule_type, "value": rule.value,
            "rollout_percentage": rule.rollout_percentage,
            "conditions": [_condition(c, flag_id, traits, names) for c in plain],
            "condition_groups": [{
                "id": g.id, "rule_id": rule.id, "environment_id": scope.environment_id, "flag_id": flag_id,
                "conditions": [_condition(c, flag_id, traits, names) for c in by_rule[rule.id]
                               if c.group_id == g.id],  # type: ignore[attr-defined]
                "created_at": g.created_at, "updated_at": g.updated_at,
            } for g in groups_by_rule[rule.id]],
            "created_at": rule.created_at, "updated_at": rule.updated_at,
        })
    return out


async def flag_details(scope: Scope, flags: Sequence[Flag]) -> list[Json]:
    """FlagDetailResponseData for each flag: its client-managed rules and its feature."""
    if not flags:
        return []
    rules = await catalog_repo.scoped(Rule, scope).filter(flag_id__in=[f.id for f in flags])
    by_flag = await rule_details(scope, rules)
    feature_ids = [f.feature_id for f in flags if f.feature_id]  # type: ignore[attr-defined]
    features = ({f.id: f for f in await catalog_repo.scoped(Feature, scope).filter(id__in=feature_ids)}
                if feature_ids else {})
    out = []
    for flag in flags:
        feature = features.get(flag.feature_id) if flag.feature_id else None  # type: ignore[attr-defined]
        out.append({
            **flag_basic(flag), "rules": by_flag.get(flag.id, []), "last_checked_at": flag.last_checked_at,
            "feature": feature_basic(feature) if feature else None,
        })
    return out


async def flag_detail(scope: Scope, flag: Flag) -> Json:
    return (await flag_details(scope, [flag]))[0]


async def _plans_by_feature(scope: Scope, feature_ids: Sequence[str]) -> dict[str, list[Json]]:
    result: dict[str, list[Json]] = defaultdict(list)
    if feature_ids:
        rows = await catalog_repo.scoped(PlanEntitlement, scope).filter(feature_id__in=list(feature_ids)).order_by(
            "plan__name").values_list("feature_id", "plan_id", "plan__name")
        for feature_id, plan_id, plan_name in rows:
            result[feature_id].append({"id": plan_id, "name": plan_name})
    return result


async def feature_details(scope: Scope, features: Sequence[Feature]) -> list[Json]:
    """FeatureDetailResponseData: the feature with its flag (as a one-item `flags`), the plans that grant
    it, and its usage trait."""
    if not features:
        return []
    ids = [f.id for f in features]
    flags = await catalog_repo.scoped(Flag, scope).filter(feature_id__in=ids)
    flag_json = {f["feature_id"]: f for f in await flag_details(scope, flags)}
    plans = await _plans_by_feature(scope, ids)
    trait_ids = [f.trait_definition_id for f in features if f.trait_definition_id]  # type: ignore[attr-defined]
    traits = ({t.id: t for t in await companies_repo.definitions(scope).filter(id__in=trait_ids)}
              if trait_ids else {})
    out = []
    for feature in features:
        trait = traits.get(feature.trait_definition_id) if feature.trait_definition_id else None  # type: ignore[attr-defined]
        flag = flag_json.get(feature.id)
        out.append({
            **feature_basic(feature), "flags": [flag] if flag else [], "plans": plans.get(feature.id, []),
            "trait": trait_definition(trait) if trait else None, "maintainer": None,
        })
    return out


async def feature_detail(scope: Scope, feature: Feature) -> Json:
    return (await feature_details(scope, [feature]))[0]


def _feature_in_plan(feature: Feature, flag: Flag | None, plans: list[Json]) -> Json:
    """FeatureInPlanResponseData."""
    return {
        **feature_basic(feature), "plans": plans,
        "flags": [{**flag_basic(flag), "rules": [], "last_checked_at": flag.last_checked_at}] if flag else [],
    }


# ---------------------------------------------------------------- plans, entitlements, overrides


def _warning_tiers(tiers: list | None) -> list[Json]:
    out = []
    for i, tier in enumerate(tiers or []):
        if isinstance(tier, dict):
            out.append({"id": str(tier.get("id") or f"wtier_{i}"), "key": str(tier.get("key", "")),
                        "value": int(tier.get("value") or 0)})
    return out


def _grant_fields(row: PlanEntitlement | CompanyOverride, traits: dict[str, TraitDefinition]) -> Json:
    trait = traits.get(row.value_trait_id) if row.value_trait_id else None  # type: ignore[attr-defined]
    return {
        "id": row.id, "environment_id": row.environment_id,  # type: ignore[attr-defined]
        "feature_id": row.feature_id,  # type: ignore[attr-defined]
        "value_type": row.value_type, "value_bool": row.value_bool, "value_numeric": row.value_numeric,
        "value_trait_id": row.value_trait_id,  # type: ignore[attr-defined]
        "value_trait": trait_definition(trait) if trait else None, "value_credit_id": row.value_credit_id,
        "value_credit": None, "consumption_rate": _float(row.consumption_rate), "quantity_rates": None,
        "metric_period": row.metric_period, "metric_period_month_reset": row.metric_period_month_reset,
        "rule_id": row.rule_id, "rule_id_usage_exceeded": row.rule_id_usage_exceeded,
        "created_at": row.created_at, "updated_at": row.updated_at,
    }


async def _traits_of(scope: Scope, rows: Iterable[PlanEntitlement | CompanyOverride]) -> dict[str, TraitDefinition]:
    ids = {r.value_trait_id for r in rows if r.value_trait_id}  # type: ignore[attr-defined]
    return {t.id: t for t in await companies_repo.definitions(scope).filter(id__in=list(ids))} if ids else {}


async def _features_of(scope: Scope, ids: Iterable[str]) -> dict[str, Feature]:
    wanted = list(set(ids))
    return {f.id: f for f in await catalog_repo.scoped(Feature, scope).filter(id__in=wanted)} if wanted else {}


async def plan_entitlement_details(scope: Scope, rows: Sequence[PlanEntitlement]) -> list[Json]:
    """PlanEntitlementResponseData with its feature and plan."""
    if not rows:
        return []
    traits = await _traits_of(scope, rows)
    features = await _features_of(scope, (r.feature_id for r in rows))  # type: ignore[attr-defined]
    plan_ids = list({r.plan_id for r in rows})  # type: ignore[attr-defined]
    plans = {p.id: p for p in await catalog_repo.scoped(Plan, scope).filter(id__in=plan_ids)}
    out = []
    for row in rows:
        feature = features.get(row.feature_id)  # type: ignore[attr-defined]
        plan = plans.get(row.plan_id)  # type: ignore[attr-defined]
        out.append({
            **_grant_fields(row, traits), "plan_id": row.plan_id,  # type: ignore[attr-defined]
            "price_behavior": row.price_behavior, "soft_limit": row.soft_limit,
            "warning_tiers": _warning_tiers(row.warning_tiers), "currency_prices": [],
            "feature": feature_basic(feature) if feature else None, "plan": plan_basic(plan) if plan else None,
            "billing_threshold": None, "usage_quantity": None,
        })
    return out


async def plan_entitlement_detail(scope: Scope, row: PlanEntitlement) -> Json:
    return (await plan_entitlement_details(scope, [row]))[0]


async def override_details(scope: Scope, rows: Sequence[CompanyOverride]) -> list[Json]:
    """CompanyOverrideResponseData with its feature."""
    if not rows:
        return []
    traits = await _traits_of(scope, rows)
    features = await _features_of(scope, (r.feature_id for r in rows))  # type: ignore[attr-defined]
    out = []
    for row in rows:
        feature = features.get(row.feature_id)  # type: ignore[attr-defined]
        out.append({
            **_grant_fields(row, traits), "company_id": row.company_id,  # type: ignore[attr-defined]
            "expiration_date": row.expires_at, "notes": list(row.notes or []),
            "feature": feature_basic(feature) if feature else None,
        })
    return out


async def override_detail(scope: Scope, row: CompanyOverride) -> Json:
    return (await override_details(scope, [row]))[0]


def _price(plan: Plan, field: str, interval: str) -> Json | None:
    """BillingPriceResponseData for a price plangate stores as an integer on the plan."""
    amount = getattr(plan, field)
    if amount is None:
        return None
    return {
        "id": f"bilpp_{plan.id}_{interval}", "currency": plan.currency, "external_price_id": "",
        "interval": interval, "interval_count": 3 if field == "quarterly_price" else 1, "price": amount,
        "price_decimal": None, "provider_type": "schematic", "scheme": "per_unit",
    }


async def plan_details(scope: Scope, plans: Sequence[Plan], *, with_entitlements: bool = True) -> list[Json]:
    """PlanDetailResponseData: the plan, its company count, the features it grants and its entitlements."""
    if not plans:
        return []
    ids = [p.id for p in plans]
    counts = dict(await catalog_repo.scoped(CompanyPlan, scope).filter(plan_id__in=ids).annotate(
        n=Count("id")).group_by("plan_id").values_list("plan_id", "n"))
    entitlements = await catalog_repo.scoped(PlanEntitlement, scope).filter(plan_id__in=ids).order_by(
        "created_at", "id")
    ent_json = await plan_entitlement_details(scope, entitlements) if with_entitlements else []
    by_plan: dict[str, list[Json]] = defaultdict(list)
    for data in ent_json:
        by_plan[data["plan_id"]].append(data)
    feature_ids = list({e.feature_id for e in entitlements})  # type: ignore[attr-defined]
    features = await _features_of(scope, feature_ids)
    flags = ({f.feature_id: f for f in await catalog_repo.scoped(Flag, scope).filter(feature_id__in=feature_ids)}  # type: ignore[attr-defined]
             if feature_ids else {})
    granting = await _plans_by_feature(scope, feature_ids)
    features_by_plan: dict[str, list[Json]] = defaultdict(list)
    for e in entitlements:
        feature = features.get(e.feature_id)  # type: ignore[attr-defined]
        if feature is not None:
            features_by_plan[e.plan_id].append(  # type: ignore[attr-defined]
                _feature_in_plan(feature, flags.get(feature.id), granting.get(feature.id, [])))
    out = []
    for plan in plans:
        free = not any(getattr(plan, f) for f in ("monthly_price", "quarterly_price", "yearly_price", "one_time_price"))
        out.append({
            **plan_basic(plan), "billing_strategy": "no_billing", "controlled_by": "schematic",
            "charge_type": plan.charge_type, "company_count": counts.get(plan.id, 0), "credits": [],
            "currency_prices": [], "features": features_by_plan.get(plan.id, []),
            "entitlements": by_plan.get(plan.id, []) if with_entitlements else None,
            "is_default": plan.is_default, "is_trialable": plan.is_trialable, "trial_days": plan.trial_days,
            "is_free": free, "versions": [], "included_credit_grants": [],
            "monthly_price": _price(plan, "monthly_price", "month"),
            "quarterly_price": _price(plan, "quarterly_price", "month"),
            "yearly_price": _price(plan, "yearly_price", "year"),
            "one_time_price": _price(plan, "one_time_price", "one-time"),
        })
    return out


async def plan_detail(scope: Scope, plan: Plan) -> Json:
    return (await plan_details(scope, [plan]))[0]


def billing_product_plan(scope: Scope, plan: Plan) -> Json:
    """BillingProductPlanResponseData (plangate has no billing provider: prices live on the plan)."""
    return {
        "account_id": scope.account_id, "environment_id": scope.environment_id, "plan_id": plan.id,
        "billing_product_id": "", "billing_strategy": "no_billing", "controlled_by": "schematic",
        "charge_type": plan.charge_type, "is_trialable": plan.is_trialable, "trial_days": plan.trial_days,
        "monthly_price_id": None, "yearly_price_id": None, "one_time_price_id": None,
    }


# ---------------------------------------------------------------- usage


async def feature_usage(scope: Scope, usages: Sequence[Usage]) -> list[Json]:
    """FeatureUsageResponseData for each entitlement of a company."""
    features = await _features_of(scope, (u.feature_id for u in usages))
    flags = ({f.feature_id: f for f in await catalog_repo.scoped(Flag, scope).filter(feature_id__in=list(features))}  # type: ignore[attr-defined]
             if features else {})
    plan_ids = [u.grant.scope_id for u in usages if u.grant is not None and u.grant.source == "plan"]
    plans = ({p.id: p for p in await catalog_repo.scoped(Plan, scope).filter(id__in=plan_ids)} if plan_ids else {})
    out = []
    for usage in usages:
        grant = usage.grant
        unlimited = usage.value_type == "unlimited"
        allocation, used = usage.allocation, usage.usage
        if usage.value_type == "boolean":
            access = bool(grant.value_bool) if grant is not None else False
        elif usage.value_type in ("numeric", "trait"):
            access = allocation is not None and (used or 0) < allocation
        else:
            access = True
        overuse = max((used or 0) - allocation, 0) if allocation is not None else None
        percent = (100.0 * (used or 0) / allocation) if allocation else None
        feature = features.get(usage.feature_id)
        plan = plans.get(grant.scope_id) if grant is not None and grant.source == "plan" else None
        out.append({
            "access": access, "allocation": allocation, "allocation_type": usage.value_type,
            "entitlement_id": grant.id if grant else usage.feature_id,
            "entitlement_type": usage.entitlement_type, "entitlement_source": grant.source if grant else None,
            "entitlement_expiration_date": grant.expires_at if grant else None,
            "usage": used, "period": usage.metric_period, "month_reset": usage.month_reset,
            "metric_reset_at": usage.metric_reset_at, "soft_limit": usage.soft_limit,
            "price_behavior": grant.price_behavior if grant else None, "is_unlimited": unlimited,
            "effective_limit": allocation, "has_valid_allocation": unlimited or allocation is not None,
            "overuse": overuse, "percent_used": percent,
            "credit_consumption_rate": float(grant.consumption_rate) if grant and grant.consumption_rate else None,
            "feature": _feature_in_plan(feature, flags.get(feature.id), []) if feature else None,
            "plan": plan_basic(plan) if plan else None,
        })
    return out
