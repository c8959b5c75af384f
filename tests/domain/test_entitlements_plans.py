from datetime import timedelta

import pytest

from domain.catalog import plans
from domain.catalog.models import Plan
from domain.entitlements.models import CompanyPlan, CompanyTrial
from domain.entitlements.service import company_plans, set_company_plans
from domain.errors import InvalidInput, NotFound
from domain.scope import Scope
from domain.timeutil import utcnow
from tests.domain.test_catalog_support import company_changed, make_company, row_counts, staging_scope


async def _assigned(scope: Scope, company_id: str) -> dict[str, str]:
    return {cp.slot: cp.plan_id for cp in await company_plans(scope, company_id)}  # type: ignore[attr-defined]


async def _catalog(scope: Scope) -> tuple[Plan, Plan, Plan, Plan]:
    return (
        await plans.create_plan(scope, name="Free"),
        await plans.create_plan(scope, name="Pro", is_trialable=True, trial_days=14),
        await plans.create_plan(scope, name="Seats", plan_type="add_on"),
        await plans.create_plan(scope, name="SSO", plan_type="add_on"),
    )


async def test_assign_replace_and_clear(scope: Scope) -> None:
    free, _, seats, sso = await _catalog(scope)
    company = await make_company(scope)
    result = await set_company_plans(scope, company.id, free.id, [seats.id, sso.id, seats.id])
    assert result.id == company.id
    assert await _assigned(scope, company.id) == {"base": free.id, seats.id: seats.id, sso.id: sso.id}
    assert await company_changed(scope, company.id)
    await set_company_plans(scope, company.id, free.id, [sso.id])
    assert await _assigned(scope, company.id) == {"base": free.id, sso.id: sso.id}
    await set_company_plans(scope, company.id, None, [])
    assert await _assigned(scope, company.id) == {}


@pytest.mark.parametrize(
    ("base", "add_ons", "error", "field"),
    [
        ("seats", [], InvalidInput, "base_plan_id"),
        ("free", ["pro"], InvalidInput, "add_on_ids"),
        ("missing", [], NotFound, "base_plan_id"),
        ("free", ["sso", "missing"], NotFound, "add_on_ids"),
    ],
)
async def test_invalid_assignments_change_nothing(
    scope: Scope, base: str, add_ons: list[str], error: type[Exception], field: str
) -> None:
    free, pro, seats, sso = await _catalog(scope)
    ids = {"free": free.id, "pro": pro.id, "seats": seats.id, "sso": sso.id, "missing": "plan_missing"}
    company = await make_company(scope)
    await set_company_plans(scope, company.id, free.id, [seats.id])
    before = await row_counts()
    with pytest.raises(error) as exc:
        await set_company_plans(scope, company.id, ids[base], [ids[a] for a in add_ons])
    assert exc.value.field == field  # type: ignore[attr-defined]
    assert await row_counts() == before
    assert await _assigned(scope, company.id) == {"base": free.id, seats.id: seats.id}


async def test_trial_is_granted_once_per_plan(scope: Scope) -> None:
    free, pro, _, _ = await _catalog(scope)
    company = await make_company(scope)
    await set_company_plans(scope, company.id, pro.id, [])
    base = await CompanyPlan.get(company_id=company.id, slot="base")
    assert base.trial_ends_at is not None
    assert abs(base.trial_ends_at - (utcnow() + timedelta(days=14))) < timedelta(minutes=1)
    await set_company_plans(scope, company.id, pro.id, [])  # same plan: the running trial stays
    assert (await CompanyPlan.get(company_id=company.id, slot="base")).trial_ends_at == base.trial_ends_at
    await set_company_plans(scope, company.id, free.id, [])
    assert (await CompanyPlan.get(company_id=company.id, slot="base")).trial_ends_at is None
    await set_company_plans(scope, company.id, pro.id, [])  # back on Pro: no second trial
    assert (await CompanyPlan.get(company_id=company.id, slot="base")).trial_ends_at is None
    assert await CompanyTrial.filter(company_id=company.id).count() == 1
    other = await make_company(scope, "Other")
    await set_company_plans(scope, other.id, pro.id, [])
    assert (await CompanyPlan.get(company_id=other.id, slot="base")).trial_ends_at is not None


async def test_assignment_is_scoped_to_the_environment(scope: Scope) -> None:
    free, *_ = await _catalog(scope)
    other = await staging_scope()
    foreign = await make_company(other)
    with pytest.raises(NotFound):
        await set_company_plans(scope, foreign.id, free.id, [])
    company = await make_company(scope)
    foreign_plan = await plans.create_plan(other, name="Free")
    with pytest.raises(NotFound):
        await set_company_plans(scope, company.id, foreign_plan.id, [])
    assert await CompanyPlan.all().count() == 0
