"""The demo catalog `make run` loads into an empty environment, through the same services the API uses."""

from domain.catalog import entitlements, features, plans
from domain.catalog.models import Feature, Plan
from domain.companies.service import CompanyUpsert, UserUpsert, upsert_company, upsert_user
from domain.db import unit_of_work
from domain.entitlements.service import set_company_plans
from domain.environments.service import system_scope

DEMO_COMPANY_KEYS = {"id": "demo-acme"}


async def load_demo(environment: str = "development") -> bool:
    """Load the demo catalog unless the environment already has features or plans. Returns whether it loaded."""
    scope = await system_scope(environment)
    if await Feature.exists(environment_id=scope.environment_id) or await Plan.exists(
        environment_id=scope.environment_id
    ):
        return False
    async with unit_of_work():
        sso = await features.create_feature(
            scope, name="Single sign-on", key="sso", feature_type="boolean", description="SAML and OIDC login"
        )
        api_calls = await features.create_feature(
            scope, name="API calls", key="api-calls", feature_type="event", event_subtype="api-call",
            description="Calls to the public API, metered per month",
        )
        seats = await features.create_feature(
            scope, name="Seats", key="seats", feature_type="trait", trait_name="seats_used",
            description="Team members, read from the company trait seats_used",
        )
        free = await plans.create_plan(scope, name="Free", is_default=True)
        pro = await plans.create_plan(
            scope, name="Pro", charge_type="recurring", monthly_price=4900, yearly_price=49000,
            is_trialable=True, trial_days=14,
        )
        enterprise = await plans.create_plan(scope, name="Enterprise", charge_type="recurring", monthly_price=99900)
        sso_add_on = await plans.create_plan(
            scope, name="SSO add-on", plan_type="add_on", charge_type="recurring", monthly_price=1900
        )
        monthly = {"metric_period": "current_month", "metric_period_month_reset": "first_of_month"}
        grants = [
            (free, api_calls, {"value_type": "numeric", "value_numeric": 1_000, **monthly}),
            (free, seats, {"value_type": "numeric", "value_numeric": 3}),
            (pro, api_calls, {"value_type": "numeric", "value_numeric": 50_000, **monthly}),
            (pro, seats, {"value_type": "numeric", "value_numeric": 20}),
            (enterprise, api_calls, {"value_type": "unlimited"}),
            (enterprise, seats, {"value_type": "unlimited"}),
            (enterprise, sso, {"value_type": "boolean", "value_bool": True}),
            (sso_add_on, sso, {"value_type": "boolean", "value_bool": True}),
        ]
        for plan, feature, value in grants:
            await entitlements.create_plan_entitlement(scope, plan_id=plan.id, feature_id=feature.id, **value)
        company, _ = await upsert_company(
            scope,
            CompanyUpsert(keys=DEMO_COMPANY_KEYS, name="Acme (demo)", traits={"seats_used": 4, "industry": "saas"}),
        )
        await upsert_user(
            scope, UserUpsert(keys={"user_id": "demo-ann"}, name="Ann (demo)", traits={"role": "admin"},
                              company=DEMO_COMPANY_KEYS)
        )
        await set_company_plans(scope, company.id, pro.id, [])
    return True
