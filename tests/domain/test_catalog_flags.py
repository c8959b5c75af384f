import pytest

from domain.catalog import features, flags, plans
from domain.catalog.flag_rules import ConditionInput, RuleInput, set_flag_rules
from domain.catalog.models import Condition, ConditionGroup, Flag, Rule
from domain.errors import InUse, InvalidInput, KeyConflict, NotFound
from domain.scope import Scope
from tests.domain.test_catalog_support import (
    catalog_changes,
    make_company,
    make_trait,
    make_user,
    row_counts,
    staging_scope,
)


async def test_standalone_flag_lifecycle(scope: Scope) -> None:
    flag = await flags.create_flag(scope, key="new-checkout", name="New checkout", default_value=True)
    assert (flag.flag_type, flag.default_value, flag.feature_id) == ("boolean", True, None)  # type: ignore[attr-defined]
    updated = await flags.update_flag(scope, flag.id, name="Checkout v2", default_value=False, key="checkout-v2")
    assert (updated.key, updated.name, updated.default_value) == ("checkout-v2", "Checkout v2", False)
    await flags.delete_flag(scope, flag.id)
    assert not await Flag.exists(id=flag.id)
    assert await catalog_changes(scope) == 1  # one row per environment, upserted


async def test_flag_validation_writes_nothing(scope: Scope) -> None:
    await flags.create_flag(scope, key="taken", name="Taken")
    before = await row_counts()
    with pytest.raises(KeyConflict):
        await flags.create_flag(scope, key="taken", name="Again")
    with pytest.raises(InvalidInput):
        await flags.create_flag(scope, key="bad key", name="Bad")
    with pytest.raises(InvalidInput):
        await flags.create_flag(scope, key="config", name="Config", flag_type="string")
    with pytest.raises(InvalidInput):
        await flags.create_flag(scope, key="x", name="X", default_value="yes")  # type: ignore[arg-type]
    assert await row_counts() == before


async def test_a_features_flag_is_deleted_with_its_feature_only(scope: Scope) -> None:
    feature = await features.create_feature(scope, name="Export", feature_type="boolean")
    flag = await Flag.get(feature_id=feature.id)
    with pytest.raises(InUse):
        await flags.delete_flag(scope, flag.id)
    assert await Flag.exists(id=flag.id)


async def test_flags_are_isolated_by_environment(scope: Scope) -> None:
    flag = await flags.create_flag(scope, key="beta", name="Beta")
    other = await staging_scope()
    with pytest.raises(NotFound):
        await flags.update_flag(other, flag.id, name="Hijack")
    with pytest.raises(NotFound):
        await flags.delete_flag(other, flag.id)
    with pytest.raises(NotFound):
        await set_flag_rules(other, flag.id, [])
    assert (await flags.create_flag(other, key="beta", name="Beta")).key == "beta"


# ---------------------------------------------------------------- rules


async def _flag(scope: Scope) -> Flag:
    return await flags.create_flag(scope, key="beta", name="Beta")


async def test_set_flag_rules_stores_conditions_and_groups(scope: Scope) -> None:
    flag = await _flag(scope)
    company, user = await make_company(scope), await make_user(scope)
    plan = await plans.create_plan(scope, name="Pro")
    tier = await make_trait(scope, "tier", trait_type="string")
    limit = await make_trait(scope, "limit")
    rules = await set_flag_rules(scope, flag.id, [
        RuleInput(
            name="targeted", value=True, priority=2, rollout_percentage=50, rollout_salt="s",
            conditions=[ConditionInput("trait", "eq", trait_id=tier.id, trait_value="gold")],
            condition_groups=[
                [ConditionInput("company", "eq", [company.id]), ConditionInput("user", "eq", [user.id])],
                [ConditionInput("plan", "eq", [plan.id]), ConditionInput("base_plan", "is_empty")],
                [ConditionInput("metric", "lt", event_subtype="api.call", metric_value=10,
                                metric_period="current_month", metric_period_month_reset="billing_cycle",
                                comparison_trait_id=limit.id)],
                [ConditionInput("credit", "lt", credit_id="bilcr_1", consumption_rate="0.25")],
            ],
        ),
        RuleInput(name="kill", value=False, rule_type="global_override"),
        RuleInput(name="fallback", value=False, rule_type="default"),
    ])
    assert [r.rule_type for r in rules] == ["standard", "global_override", "default"]
    stored = await Rule.get(id=rules[0].id)
    assert (stored.priority, stored.rollout_percentage, stored.rollout_salt) == (2, 50, "s")
    top = await Condition.filter(rule_id=stored.id, group_id__isnull=True)
    assert [(c.condition_type, c.trait_definition_id, c.trait_value) for c in top] == [  # type: ignore[attr-defined]
        ("trait", tier.id, "gold")
    ]
    groups = await ConditionGroup.filter(rule_id=stored.id).order_by("position")
    assert len(groups) == 4
    first = await Condition.filter(group_id=groups[0].id).order_by("position")
    assert [(c.condition_type, c.resource_ids) for c in first] == [("company", [company.id]), ("user", [user.id])]
    metric = await Condition.get(group_id=groups[2].id)
    assert (metric.event_subtype, metric.metric_value, metric.metric_period, metric.metric_period_month_reset,
            metric.comparison_trait_definition_id) == ("api.call", 10, "current_month", "billing_cycle", limit.id)  # type: ignore[attr-defined]
    credit = await Condition.get(group_id=groups[3].id)
    assert (credit.credit_id, credit.consumption_rate) == ("bilcr_1", "0.25")


async def test_set_flag_rules_replaces_wholesale_and_keeps_known_rule_ids(scope: Scope) -> None:
    flag = await _flag(scope)
    first = await set_flag_rules(scope, flag.id, [
        RuleInput(name="a", value=True, conditions=[ConditionInput("plan_version", "eq", ["pv_1"])]),
        RuleInput(name="b", value=True),
    ])
    second = await set_flag_rules(scope, flag.id, [
        RuleInput(name="a2", value=False, id=first[0].id),
        RuleInput(name="c", value=True, id="rule_not_mine"),
    ])
    assert second[0].id == first[0].id and second[1].id != "rule_not_mine"
    assert sorted(await Rule.filter(flag_id=flag.id).values_list("name", flat=True)) == ["a2", "c"]
    assert await Condition.all().count() == 0
    assert await set_flag_rules(scope, flag.id, []) == []
    assert await Rule.all().count() == 0


BAD_RULES = [
    (RuleInput(name="x", value=True, rule_type="plan_entitlement"), "rule_type plan_entitlement is generated"),
    (RuleInput(name="x", value=True, rule_type="company_override_usage_exceeded"), "is generated"),
    (RuleInput(name="x", value=True, rule_type="bogus"), "rule_type must be one of"),
    (RuleInput(name="", value=True), "name is required"),
    (RuleInput(name="x", value="yes"), "must be true or false"),  # type: ignore[arg-type]
    (RuleInput(name="x", value=True, priority="1"), "priority must be an integer"),  # type: ignore[arg-type]
    (RuleInput(name="x", value=True, rollout_percentage=101), "at most 100"),
    (RuleInput(name="x", value=True, rollout_percentage=-1), "at least 0"),
    (RuleInput(name="x", value=True, rule_type="default", rollout_percentage=5), "only applies to standard"),
    (RuleInput(name="x", value=True, rule_type="default", conditions=[ConditionInput("plan_version", "eq", ["v"])]),
     "takes no conditions"),
    (RuleInput(name="x", value=True, condition_groups=[[]]), "at least one condition"),
    (RuleInput(name="x", value=True, conditions=[ConditionInput("segment", "eq")]), "condition_type must be one of"),
    (RuleInput(name="x", value=True, conditions=[ConditionInput("plan", "in", [])]), "operator must be one of"),
    (RuleInput(name="x", value=True, conditions=[ConditionInput("trait", "eq", trait_value="1")]), "needs trait_id"),
    (RuleInput(name="x", value=True, conditions=[ConditionInput("metric", "lt", metric_value=1)]), "event_subtype"),
    (RuleInput(name="x", value=True, conditions=[ConditionInput("metric", "lt", event_subtype="e")]),
     "needs metric_value"),
    (RuleInput(name="x", value=True, conditions=[
        ConditionInput("metric", "lt", event_subtype="e", metric_value=1, metric_period_month_reset="billing_cycle")
    ]), "only applies to metric_period current_month"),
    (RuleInput(name="x", value=True, conditions=[ConditionInput("metric", "lt", event_subtype="e", metric_value=1,
                                                                metric_period="yearly")]), "metric_period"),
    (RuleInput(name="x", value=True, conditions=[ConditionInput("credit", "lt")]), "needs credit_id"),
    (RuleInput(name="x", value=True, conditions=[ConditionInput("credit", "lt", credit_id="c", consumption_rate="0")]),
     "greater than 0"),
    (RuleInput(name="x", value=True, conditions=[ConditionInput("company", "eq", ["comp_missing"])]),
     "no company with id 'comp_missing'"),
    (RuleInput(name="x", value=True, conditions=[ConditionInput("user", "eq", ["user_missing"])]),
     "no user with id 'user_missing'"),
    (RuleInput(name="x", value=True, conditions=[ConditionInput("base_plan", "eq", ["plan_missing"])]),
     "no plan with id 'plan_missing'"),
    (RuleInput(name="x", value=True, conditions=[ConditionInput("trait", "eq", trait_id="trait_missing")]),
     "no trait definition with id 'trait_missing'"),
    (RuleInput(name="x", value=True, conditions=[ConditionInput("company", "eq", ["c"], trait_id="t")]),
     "trait_id does not apply"),
    (RuleInput(name="x", value=True, conditions=[ConditionInput("trait", "eq", ["c"], trait_id="t")]),
     "resource_ids does not apply"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_RULES)
async def test_one_bad_rule_leaves_the_old_rules_intact(scope: Scope, bad: RuleInput, message: str) -> None:
    flag = await _flag(scope)
    company = await make_company(scope)
    good = RuleInput(name="good", value=True, conditions=[ConditionInput("company", "eq", [company.id])])
    await set_flag_rules(scope, flag.id, [good])
    before, changes_before = await row_counts(), await catalog_changes(scope)
    with pytest.raises(InvalidInput, match=message) as exc:
        await set_flag_rules(scope, flag.id, [good, bad, good])
    assert exc.value.field and exc.value.field.startswith("rules[1]")
    assert await row_counts() == before
    assert await Rule.filter(flag_id=flag.id).values_list("name", flat=True) == ["good"]
    assert await catalog_changes(scope) == changes_before


async def test_references_must_be_in_this_environment(scope: Scope) -> None:
    other = await staging_scope()
    foreign_company = await make_company(other)
    foreign_plan = await plans.create_plan(other, name="Pro")
    foreign_trait = await make_trait(other, "tier")
    flag = await _flag(scope)
    for cond in (
        ConditionInput("company", "eq", [foreign_company.id]),
        ConditionInput("plan", "ne", [foreign_plan.id]),
        ConditionInput("trait", "eq", trait_id=foreign_trait.id),
    ):
        with pytest.raises(InvalidInput, match="in this environment") as exc:
            await set_flag_rules(scope, flag.id, [RuleInput(name="x", value=True, conditions=[cond])])
        assert exc.value.field == "rules[0].conditions[0]." + ("trait_id" if cond.trait_id else "resource_ids")
    assert await Rule.filter(flag_id=flag.id).count() == 0


async def test_one_default_and_one_global_override_at_most(scope: Scope) -> None:
    flag = await _flag(scope)
    with pytest.raises(InvalidInput, match="at most one default"):
        await set_flag_rules(scope, flag.id, [
            RuleInput(name="d1", value=True, rule_type="default"),
            RuleInput(name="d2", value=False, rule_type="default"),
        ])


async def test_metric_comparison_trait_must_be_a_company_trait(scope: Scope) -> None:
    flag = await _flag(scope)
    user_trait = await make_trait(scope, "quota", entity_type="user")
    cond = ConditionInput("metric", "lt", event_subtype="e", metric_value=0, comparison_trait_id=user_trait.id)
    with pytest.raises(InvalidInput, match="company trait"):
        await set_flag_rules(scope, flag.id, [RuleInput(name="x", value=True, conditions=[cond])])
