import pytest

from domain.catalog import features, plans
from domain.catalog.entitlements import create_plan_entitlement
from domain.catalog.models import Plan, PlanEntitlement
from domain.entitlements.service import set_company_plans
from domain.errors import InUse, InvalidInput, NotFound
from domain.scope import Scope
from tests.domain.test_catalog_support import catalog_changes, make_company, row_counts, staging_scope


async def test_create_and_update_a_plan(scope: Scope) -> None:
    plan = await plans.create_plan(
        scope, name="Pro", description="For teams", charge_type="recurring", is_trialable=True, trial_days=14,
        currency="EUR", monthly_price=4900, yearly_price=49_000,
    )
    assert (plan.plan_type, plan.currency, plan.monthly_price, plan.trial_days) == ("plan", "eur", 4900, 14)
    updated = await plans.update_plan(scope, plan.id, name="Pro+", is_trialable=False, monthly_price=None, icon="star")
    assert (updated.name, updated.is_trialable, updated.monthly_price, updated.yearly_price, updated.icon) == (
        "Pro+", False, None, 49_000, "star"
    )
    add_on = await plans.create_plan(scope, name="Extra seats", plan_type="add_on", one_time_price=500)
    assert add_on.plan_type == "add_on"
    assert await catalog_changes(scope) == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "P", "plan_type": "bundle"}, "plan_type"),
        ({"name": "P", "is_trialable": True}, "trial_days"),
        ({"name": "P", "is_trialable": True, "trial_days": 0}, "trial_days"),
        ({"name": "P", "plan_type": "add_on", "is_trialable": True, "trial_days": 7}, "is_trialable"),
        ({"name": "P", "monthly_price": -1}, "monthly_price"),
        ({"name": "P", "yearly_price": 9.99}, "yearly_price"),
        ({"name": "P", "currency": "euro"}, "currency"),
        ({"name": "P", "charge_type": "monthly"}, "charge_type"),
        ({"name": "Taken"}, "name"),
    ],
)
async def test_invalid_plans_write_nothing(scope: Scope, kwargs: dict, field: str) -> None:
    await plans.create_plan(scope, name="Taken")
    before = await row_counts()
    with pytest.raises(InvalidInput) as exc:
        await plans.create_plan(scope, **kwargs)
    assert exc.value.field == field
    assert await row_counts() == before


async def test_invalid_plan_updates_change_nothing(scope: Scope) -> None:
    plan = await plans.create_plan(scope, name="Pro", monthly_price=100)
    await plans.create_plan(scope, name="Team")
    for kwargs in ({"name": "Team"}, {"is_trialable": True}, {"monthly_price": -5, "name": "Renamed"}):
        with pytest.raises(InvalidInput):
            await plans.update_plan(scope, plan.id, **kwargs)
    reloaded = await Plan.get(id=plan.id)
    assert (reloaded.name, reloaded.monthly_price, reloaded.is_trialable) == ("Pro", 100, False)


async def test_same_plan_name_in_other_environment_is_fine(scope: Scope) -> None:
    await plans.create_plan(scope, name="Pro")
    other = await staging_scope()
    assert (await plans.create_plan(other, name="Pro")).name == "Pro"


async def test_delete_plan_in_use_is_refused(scope: Scope) -> None:
    plan = await plans.create_plan(scope, name="Pro")
    company = await make_company(scope)
    await set_company_plans(scope, company.id, plan.id, [])
    with pytest.raises(InUse, match="assigned to 1 company"):
        await plans.delete_plan(scope, plan.id)
    assert await Plan.exists(id=plan.id)
    await set_company_plans(scope, company.id, None, [])
    await plans.delete_plan(scope, plan.id)
    assert not await Plan.exists(id=plan.id)


async def test_delete_plan_deletes_its_entitlements(scope: Scope) -> None:
    plan = await plans.create_plan(scope, name="Pro")
    feature = await features.create_feature(scope, name="Export", feature_type="boolean")
    await create_plan_entitlement(scope, plan_id=plan.id, feature_id=feature.id, value_type="unlimited")
    await plans.delete_plan(scope, plan.id)
    assert await PlanEntitlement.all().count() == 0


async def test_plans_are_isolated(scope: Scope) -> None:
    plan = await plans.create_plan(scope, name="Pro")
    other = await staging_scope()
    with pytest.raises(NotFound):
        await plans.update_plan(other, plan.id, name="Hijack")
    with pytest.raises(NotFound):
        await plans.delete_plan(other, plan.id)
    assert (await Plan.get(id=plan.id)).name == "Pro"
