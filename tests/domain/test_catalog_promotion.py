import pytest

from domain.catalog import features, flags, plans
from domain.catalog.entitlements import create_plan_entitlement
from domain.catalog.flag_rules import ConditionInput, RuleInput, set_flag_rules
from domain.catalog.models import Condition, ConditionGroup, Feature, Flag, Plan, PlanEntitlement, Rule
from domain.catalog.promotion import copy_catalog
from domain.companies.models import TraitDefinition
from domain.errors import Forbidden, InvalidInput
from domain.scope import Scope
from tests.domain.test_catalog_support import make_company, make_trait, readonly, row_counts, staging_scope


async def _source_catalog(scope: Scope) -> dict[str, str]:
    pro = await plans.create_plan(scope, name="Pro", is_trialable=True, trial_days=7, monthly_price=900)
    addon = await plans.create_plan(scope, name="Boost", plan_type="add_on")
    calls = await features.create_feature(scope, name="Calls", feature_type="event", event_subtype="api.call")
    seats = await features.create_feature(scope, name="Seats", feature_type="trait", trait_name="seats_used")
    limit = await make_trait(scope, "seats_allowed")
    tier = await make_trait(scope, "tier", entity_type="user", trait_type="string")
    await create_plan_entitlement(scope, plan_id=pro.id, feature_id=calls.id, value_type="numeric", value_numeric=100,
                                  metric_period="current_day")
    await create_plan_entitlement(scope, plan_id=pro.id, feature_id=seats.id, value_type="trait",
                                  value_trait_id=limit.id)
    await create_plan_entitlement(scope, plan_id=addon.id, feature_id=calls.id, value_type="unlimited")
    beta = await flags.create_flag(scope, key="beta", name="Beta", default_value=True)
    company = await make_company(scope)
    await set_flag_rules(scope, beta.id, [
        RuleInput(name="pro users", value=True, priority=1,
                  conditions=[ConditionInput("trait", "eq", trait_id=tier.id, trait_value="gold")],
                  condition_groups=[[ConditionInput("plan", "eq", [pro.id, addon.id]),
                                     ConditionInput("base_plan", "is_empty")]]),
        RuleInput(name="acme only", value=True, conditions=[ConditionInput("company", "eq", [company.id])]),
        RuleInput(name="default", value=False, rule_type="default"),
    ])
    return {"pro": pro.id, "addon": addon.id, "calls": calls.id, "beta": beta.id}


async def test_copy_into_an_empty_environment(scope: Scope) -> None:
    await _source_catalog(scope)
    target = await staging_scope()
    summary = await copy_catalog(scope, target)
    assert (summary.features_created, summary.flags_created, summary.plans_created, summary.entitlements_created,
            summary.trait_definitions_created, summary.rules_copied) == (2, 3, 2, 3, 3, 2)
    assert summary.skipped_rules == ["beta: acme only"]

    env = target.environment_id
    pro = await Plan.get(environment_id=env, name="Pro")
    addon = await Plan.get(environment_id=env, name="Boost")
    assert (pro.is_trialable, pro.trial_days, pro.monthly_price) == (True, 7, 900)
    calls_flag = await Flag.get(environment_id=env, key="calls")
    calls = await Feature.get(id=calls_flag.feature_id)  # type: ignore[attr-defined]
    assert calls.event_subtype == "api.call"
    seats = await Feature.get(environment_id=env, name="Seats")
    usage_trait = await TraitDefinition.get(id=seats.trait_definition_id)  # type: ignore[attr-defined]
    assert (usage_trait.environment_id, usage_trait.name) == (env, "seats_used")  # type: ignore[attr-defined]
    seat_grant = await PlanEntitlement.get(plan_id=pro.id, feature_id=seats.id)
    limit = await TraitDefinition.get(id=seat_grant.value_trait_id)  # type: ignore[attr-defined]
    assert (limit.environment_id, limit.name) == (env, "seats_allowed")  # type: ignore[attr-defined]
    day = await PlanEntitlement.get(plan_id=pro.id, feature_id=calls.id)
    assert (day.value_numeric, day.metric_period) == (100, "current_day")

    beta = await Flag.get(environment_id=env, key="beta")
    assert beta.default_value is True
    rules = {r.name: r for r in await Rule.filter(flag_id=beta.id)}
    assert set(rules) == {"pro users", "default"}
    trait_cond = await Condition.get(rule_id=rules["pro users"].id, group_id__isnull=True)
    tier = await TraitDefinition.get(id=trait_cond.trait_definition_id)  # type: ignore[attr-defined]
    assert (tier.environment_id, tier.entity_type, tier.name) == (env, "user", "tier")  # type: ignore[attr-defined]
    group = await ConditionGroup.get(rule_id=rules["pro users"].id)
    plan_cond = await Condition.get(group_id=group.id, condition_type="plan")
    assert plan_cond.resource_ids == [pro.id, addon.id]
    assert all(c.environment_id == env for c in await Condition.filter(rule_id__in=[r.id for r in rules.values()]))  # type: ignore[attr-defined]


async def test_promotion_is_idempotent_and_updates_in_place(scope: Scope) -> None:
    ids = await _source_catalog(scope)
    target = await staging_scope()
    await copy_catalog(scope, target)
    after_first = await row_counts()
    again = await copy_catalog(scope, target)
    assert await row_counts() == after_first
    assert (again.features_created, again.flags_created, again.plans_created, again.entitlements_created,
            again.trait_definitions_created, again.features_updated, again.plans_updated,
            again.entitlements_updated) == (0,) * 8

    pro_target = await Plan.get(environment_id=target.environment_id, name="Pro")
    rule_ids_before = await PlanEntitlement.filter(plan_id=pro_target.id).values_list("rule_id", flat=True)
    await plans.update_plan(scope, ids["pro"], monthly_price=1900)
    await features.update_feature(scope, ids["calls"], description="metered")
    third = await copy_catalog(scope, target)
    assert (third.plans_updated, third.features_updated, third.flags_updated) == (1, 1, 1)
    assert (await Plan.get(id=pro_target.id)).monthly_price == 1900
    assert await PlanEntitlement.filter(plan_id=pro_target.id).values_list("rule_id", flat=True) == rule_ids_before
    assert await row_counts() == after_first


async def test_target_rules_naming_companies_are_kept(scope: Scope) -> None:
    ids = await _source_catalog(scope)
    target = await staging_scope()
    await copy_catalog(scope, target)
    beta = await Flag.get(environment_id=target.environment_id, key="beta")
    customer = await make_company(target, "Prod customer")
    await set_flag_rules(target, beta.id, [
        RuleInput(name="vip", value=True, conditions=[ConditionInput("company", "eq", [customer.id])]),
        RuleInput(name="stale", value=True),
    ])
    await set_flag_rules(scope, ids["beta"], [RuleInput(name="everyone", value=True)])
    summary = await copy_catalog(scope, target)
    assert summary.skipped_rules == []
    assert sorted(await Rule.filter(flag_id=beta.id).values_list("name", flat=True)) == ["everyone", "vip"]


async def test_conflicts_refuse_the_whole_promotion(scope: Scope) -> None:
    await _source_catalog(scope)
    target = await staging_scope()
    await plans.create_plan(target, name="Boost")  # a base plan there, an add-on in the source
    before = await row_counts()
    with pytest.raises(InvalidInput, match="Boost"):
        await copy_catalog(scope, target)
    assert await row_counts() == before


@pytest.mark.parametrize("conflict", ["feature_type", "standalone", "trait_type"])
async def test_other_conflicts(scope: Scope, conflict: str) -> None:
    await _source_catalog(scope)
    target = await staging_scope()
    if conflict == "feature_type":
        await features.create_feature(target, name="Calls", feature_type="boolean")
    elif conflict == "standalone":
        await flags.create_flag(target, key="calls", name="Calls")
    else:
        await make_trait(target, "tier", entity_type="user", trait_type="number")
    before = await row_counts()
    with pytest.raises(InvalidInput):
        await copy_catalog(scope, target)
    assert await row_counts() == before


async def test_promotion_needs_rights_and_two_environments(scope: Scope) -> None:
    target = await staging_scope()
    with pytest.raises(Forbidden):
        await copy_catalog(scope, readonly(target))
    with pytest.raises(InvalidInput, match="same environment"):
        await copy_catalog(scope, scope)
    assert await copy_catalog(readonly(scope), target) is not None  # reading the source needs no write rights
