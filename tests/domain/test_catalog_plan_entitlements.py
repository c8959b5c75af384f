from decimal import Decimal

import pytest

from domain.catalog import features, plans
from domain.catalog.entitlements import create_plan_entitlement, delete_plan_entitlement, update_plan_entitlement
from domain.catalog.models import Feature, Plan, PlanEntitlement
from domain.errors import InvalidInput, NotFound
from domain.scope import Scope
from tests.domain.test_catalog_support import catalog_changes, make_trait, row_counts, staging_scope


async def _setup(scope: Scope) -> tuple[Plan, dict[str, Feature]]:
    plan = await plans.create_plan(scope, name="Pro")
    catalog = {
        "boolean": await features.create_feature(scope, name="Export", feature_type="boolean"),
        "event": await features.create_feature(scope, name="Calls", feature_type="event", event_subtype="api.call"),
        "trait": await features.create_feature(scope, name="Seats", feature_type="trait", trait_name="seats_used"),
    }
    return plan, catalog


async def _grant(scope: Scope, plan: Plan, feature: Feature, **kwargs: object) -> PlanEntitlement:
    return await create_plan_entitlement(scope, plan_id=plan.id, feature_id=feature.id, **kwargs)  # type: ignore[arg-type]


async def test_value_types(scope: Scope) -> None:
    plan, f = await _setup(scope)
    limit = await make_trait(scope, "seats_allocated")
    on = await _grant(scope, plan, f["boolean"], value_type="boolean", value_bool=True)
    assert (on.value_type, on.value_bool, on.metric_period) == ("boolean", True, None)
    calls = await _grant(scope, plan, f["event"], value_type="numeric", value_numeric=1000)
    assert (calls.value_numeric, calls.metric_period, calls.metric_period_month_reset) == (1000, "all_time", None)
    seats = await _grant(scope, plan, f["trait"], value_type="trait", value_trait_id=limit.id, soft_limit=5)
    assert (seats.value_trait_id, seats.metric_period, seats.soft_limit) == (limit.id, None, 5)  # type: ignore[attr-defined]
    assert seats.rule_id.startswith("rule_") and seats.rule_id != seats.rule_id_usage_exceeded
    assert await catalog_changes(scope) == 1


async def test_credit_rate_is_an_exact_decimal_string(scope: Scope) -> None:
    plan, f = await _setup(scope)
    ent = await _grant(scope, plan, f["event"], value_type="credit", value_credit_id="bilcr_1",
                       consumption_rate=Decimal("0.0010"))
    assert ent.consumption_rate == "0.001"
    other = await plans.create_plan(scope, name="Team")
    ent2 = await _grant(scope, other, f["event"], value_type="credit", value_credit_id="bilcr_1",
                        consumption_rate="12.50")
    assert ent2.consumption_rate == "12.5"


async def test_metric_periods(scope: Scope) -> None:
    plan, f = await _setup(scope)
    ent = await _grant(scope, plan, f["event"], value_type="numeric", value_numeric=5, metric_period="current_month")
    assert (ent.metric_period, ent.metric_period_month_reset) == ("current_month", "first_of_month")
    updated = await update_plan_entitlement(
        scope, ent.id, value_type="numeric", value_numeric=7, metric_period="current_month",
        metric_period_month_reset="billing_cycle",
    )
    assert (updated.value_numeric, updated.metric_period_month_reset) == (7, "billing_cycle")
    unlimited = await update_plan_entitlement(scope, ent.id, value_type="unlimited")
    assert (unlimited.value_type, unlimited.value_numeric, unlimited.metric_period) == ("unlimited", None, None)
    assert unlimited.rule_id == ent.rule_id


async def test_numeric_on_a_trait_feature_compares_the_usage_trait(scope: Scope) -> None:
    plan, f = await _setup(scope)
    ent = await _grant(scope, plan, f["trait"], value_type="numeric", value_numeric=10)
    assert (ent.value_numeric, ent.metric_period) == (10, None)


BAD = [
    ("boolean", {"value_type": "numeric", "value_numeric": 5}, "value_type"),
    ("boolean", {"value_type": "boolean"}, "value_bool"),
    ("boolean", {"value_type": "boolean", "value_bool": True, "value_numeric": 3}, "value_numeric"),
    ("boolean", {"value_type": "unknown"}, "value_type"),
    ("boolean", {"value_type": "unlimited", "metric_period": "current_day"}, "metric_period"),
    ("event", {"value_type": "numeric"}, "value_numeric"),
    ("event", {"value_type": "numeric", "value_numeric": -1}, "value_numeric"),
    ("event", {"value_type": "numeric", "value_numeric": 2**63}, "value_numeric"),
    ("event", {"value_type": "numeric", "value_numeric": 1, "metric_period": "yearly"}, "metric_period"),
    ("event", {"value_type": "numeric", "value_numeric": 1, "metric_period_month_reset": "billing_cycle"},
     "metric_period_month_reset"),
    ("event", {"value_type": "trait"}, "value_trait_id"),
    ("event", {"value_type": "trait", "value_trait_id": "trait_missing"}, "value_trait_id"),
    ("event", {"value_type": "credit", "consumption_rate": "1"}, "value_credit_id"),
    ("event", {"value_type": "credit", "value_credit_id": "bilcr_1"}, "consumption_rate"),
    ("event", {"value_type": "credit", "value_credit_id": "bilcr_1", "consumption_rate": 0.5}, "consumption_rate"),
    ("event", {"value_type": "credit", "value_credit_id": "bilcr_1", "consumption_rate": "-1"}, "consumption_rate"),
    ("event", {"value_type": "credit", "value_credit_id": "bilcr_1", "consumption_rate": "NaN"}, "consumption_rate"),
    ("event", {"value_type": "credit", "value_credit_id": "bilcr_1", "consumption_rate": "abc"}, "consumption_rate"),
    ("trait", {"value_type": "credit", "value_credit_id": "bilcr_1", "consumption_rate": "1"}, "value_type"),
    ("trait", {"value_type": "numeric", "value_numeric": 1, "metric_period": "all_time"}, "metric_period"),
    ("event", {"value_type": "unlimited", "soft_limit": -1}, "soft_limit"),
    ("event", {"value_type": "unlimited", "price_behavior": "free"}, "price_behavior"),
    ("boolean", {"value_type": "unlimited", "price_behavior": "pay_as_you_go"}, "price_behavior"),
    ("event", {"value_type": "trait", "price_behavior": "pay_in_advance"}, "price_behavior"),
    ("trait", {"value_type": "credit", "price_behavior": "credit_burndown"}, "price_behavior"),
    ("trait", {"value_type": "unlimited", "price_behavior": "overage"}, "price_behavior"),
    ("trait", {"value_type": "trait", "price_behavior": "pay_in_advance"}, "value_trait_id"),
]


@pytest.mark.parametrize(("feature_type", "kwargs", "field"), BAD)
async def test_invalid_entitlements_write_nothing(scope: Scope, feature_type: str, kwargs: dict, field: str) -> None:
    plan, f = await _setup(scope)
    before, changes_before = await row_counts(), await catalog_changes(scope)
    with pytest.raises(InvalidInput) as exc:
        await _grant(scope, plan, f[feature_type], **kwargs)
    assert exc.value.field == field
    assert await row_counts() == before
    assert await catalog_changes(scope) == changes_before


async def test_value_trait_must_be_a_numeric_company_trait(scope: Scope) -> None:
    plan, f = await _setup(scope)
    for trait in (await make_trait(scope, "t1", entity_type="user"), await make_trait(scope, "t2", trait_type="date")):
        with pytest.raises(InvalidInput):
            await _grant(scope, plan, f["event"], value_type="trait", value_trait_id=trait.id)
    assert await PlanEntitlement.all().count() == 0


async def test_price_behavior_forces_the_value_type(scope: Scope) -> None:
    plan, f = await _setup(scope)
    limit = await make_trait(scope, "seats_purchased")
    other = await plans.create_plan(scope, name="Team")
    payg = await _grant(scope, plan, f["event"], value_type="boolean", price_behavior="pay_as_you_go")
    assert (payg.value_type, payg.price_behavior) == ("unlimited", "pay_as_you_go")
    capped = await _grant(scope, other, f["event"], value_type="unlimited", value_numeric=500, price_behavior="overage",
                          soft_limit=100)
    assert (capped.value_type, capped.value_numeric, capped.soft_limit) == ("numeric", 500, 100)
    seats = await _grant(scope, plan, f["trait"], value_type="numeric", value_trait_id=limit.id,
                         price_behavior="pay_in_advance")
    assert seats.value_type == "trait"
    burn = await update_plan_entitlement(scope, payg.id, value_type="numeric", value_credit_id="bilcr_9",
                                         consumption_rate="2", price_behavior="credit_burndown")
    assert (burn.value_type, burn.value_credit_id, burn.price_behavior) == ("credit", "bilcr_9", "credit_burndown")
    tier = await update_plan_entitlement(scope, seats.id, value_type="unlimited", price_behavior="tier")
    assert (tier.value_type, tier.value_trait_id) == ("unlimited", None)  # type: ignore[attr-defined]


async def test_one_entitlement_per_plan_and_feature(scope: Scope) -> None:
    plan, f = await _setup(scope)
    await _grant(scope, plan, f["boolean"], value_type="boolean", value_bool=True)
    before = await row_counts()
    with pytest.raises(InvalidInput, match="already has an entitlement"):
        await _grant(scope, plan, f["boolean"], value_type="unlimited")
    assert await row_counts() == before


async def test_bad_update_keeps_the_old_value(scope: Scope) -> None:
    plan, f = await _setup(scope)
    ent = await _grant(scope, plan, f["event"], value_type="numeric", value_numeric=10)
    with pytest.raises(InvalidInput):
        await update_plan_entitlement(scope, ent.id, value_type="numeric", value_numeric=-5)
    assert (await PlanEntitlement.get(id=ent.id)).value_numeric == 10


async def test_delete_and_isolation(scope: Scope) -> None:
    plan, f = await _setup(scope)
    ent = await _grant(scope, plan, f["boolean"], value_type="unlimited")
    other = await staging_scope()
    with pytest.raises(NotFound):
        await update_plan_entitlement(other, ent.id, value_type="boolean", value_bool=False)
    with pytest.raises(NotFound):
        await delete_plan_entitlement(other, ent.id)
    with pytest.raises(NotFound):
        await create_plan_entitlement(other, plan_id=plan.id, feature_id=f["boolean"].id, value_type="unlimited")
    assert await PlanEntitlement.exists(id=ent.id)
    await delete_plan_entitlement(scope, ent.id)
    assert not await PlanEntitlement.exists(id=ent.id)
