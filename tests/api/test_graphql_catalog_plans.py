"""GraphQL: plans, plan entitlements, plan assignment, company overrides and catalog promotion."""

from datetime import timedelta

from domain.catalog import features, plans
from domain.catalog.models import Plan, PlanEntitlement
from domain.entitlements import service as holdings
from domain.entitlements.models import CompanyOverride
from domain.scope import Scope
from domain.timeutil import isoformat, utcnow
from tests.conftest import GraphQL, Keys
from tests.domain.test_catalog_support import make_company, row_counts

ENTITLEMENT = """
mutation($planId: String!, $featureId: String!, $input: PlanEntitlementInput!) {
  createPlanEntitlement(planId: $planId, featureId: $featureId, input: $input) {
    planEntitlement { id valueType valueNumeric metricPeriod metricPeriodMonthReset consumptionRate priceBehavior
                      plan { name } feature { key } }
    errors { code message field }
  }
}"""

OVERRIDE = """
mutation($companyId: String!, $featureId: String!, $input: CompanyOverrideInput!) {
  createCompanyOverride(companyId: $companyId, featureId: $featureId, input: $input) {
    companyOverride { id valueType valueBool expiresAt notes { note } company { id name } feature { key } }
    errors { code message field }
  }
}"""

ASSIGN = """
mutation($companyId: String!, $base: String, $addOns: [String!]!) {
  assignCompanyPlans(companyId: $companyId, basePlanId: $base, addOnIds: $addOns) {
    company { id name }
    plans { planId isBasePlan trialEndsAt plan { name planType } }
    errors { code message field }
  }
}"""


async def test_plan_lifecycle(gql: GraphQL) -> None:
    created = await gql.ok("""mutation { createPlan(input: {name: "Pro", chargeType: RECURRING, monthlyPrice: 4900,
        isTrialable: true, trialDays: 14}) { plan { id name planType chargeType monthlyPrice trialDays companyCount }
        errors { code } } }""")
    plan = created["createPlan"]["plan"]
    assert (plan["planType"], plan["chargeType"], plan["monthlyPrice"], plan["companyCount"]) == (
        "PLAN", "RECURRING", 4900, 0
    )
    updated = await gql.ok("""mutation($id: String!) { updatePlan(id: $id, input: {name: "Pro 2", monthlyPrice: null})
        { plan { name monthlyPrice trialDays } errors { code } } }""", {"id": plan["id"]})
    assert updated["updatePlan"]["plan"] == {"name": "Pro 2", "monthlyPrice": None, "trialDays": 14}
    bad = await gql("""mutation { createPlan(input: {name: "Add", planType: ADD_ON, isTrialable: true, trialDays: 3})
        { plan { id } errors { code field } } }""")
    assert bad["data"]["createPlan"] == {"plan": None, "errors": [{"code": "INVALID_INPUT", "field": "is_trialable"}]}
    listed = await gql.ok("{ plans(planType: PLAN) { totalCount nodes { name } } }")
    assert listed["plans"] == {"totalCount": 1, "nodes": [{"name": "Pro 2"}]}


async def test_deleting_a_plan_in_use_is_refused(gql: GraphQL, scope: Scope) -> None:
    plan = await plans.create_plan(scope, name="Pro")
    company = await make_company(scope)
    await holdings.set_company_plans(scope, company.id, plan.id, [])
    body = await gql("mutation($id: String!) { deletePlan(id: $id) { plan { id } errors { code message } } }",
                     {"id": plan.id})
    assert body["data"]["deletePlan"] == {
        "plan": None, "errors": [{"code": "IN_USE", "message": "plan 'Pro' is assigned to 1 company"}]
    }
    assert await Plan.exists(id=plan.id)


async def test_plan_entitlements(gql: GraphQL, scope: Scope) -> None:
    plan = await plans.create_plan(scope, name="Pro")
    calls = await features.create_feature(scope, name="Calls", feature_type="event", event_subtype="api.call")
    data = await gql.ok(ENTITLEMENT, {"planId": plan.id, "featureId": calls.id, "input": {
        "valueType": "NUMERIC", "valueNumeric": 1000, "metricPeriod": "CURRENT_MONTH",
    }})
    ent = data["createPlanEntitlement"]["planEntitlement"]
    assert (ent["valueNumeric"], ent["metricPeriod"], ent["metricPeriodMonthReset"]) == (
        1000, "CURRENT_MONTH", "FIRST_OF_MONTH"
    )
    assert (ent["plan"]["name"], ent["feature"]["key"]) == ("Pro", "calls")

    before = await row_counts()
    dup = await gql(ENTITLEMENT, {"planId": plan.id, "featureId": calls.id, "input": {"valueType": "UNLIMITED"}})
    assert dup["data"]["createPlanEntitlement"]["errors"][0]["code"] == "INVALID_INPUT"
    assert await row_counts() == before

    update = """mutation($id: String!, $input: PlanEntitlementInput!) { updatePlanEntitlement(id: $id, input: $input)
        { planEntitlement { valueType valueCreditId consumptionRate priceBehavior metricPeriod } errors { code } } }"""
    burn = await gql.ok(update, {"id": ent["id"], "input": {
        "valueType": "NUMERIC", "valueCreditId": "bilcr_1", "consumptionRate": "0.25",
        "priceBehavior": "CREDIT_BURNDOWN",
    }})
    assert burn["updatePlanEntitlement"]["planEntitlement"] == {
        "valueType": "CREDIT", "valueCreditId": "bilcr_1", "consumptionRate": "0.25",
        "priceBehavior": "CREDIT_BURNDOWN",
        "metricPeriod": None,
    }
    listed = await gql.ok("query($p: String) { planEntitlements(planId: $p) { totalCount } }", {"p": plan.id})
    assert listed["planEntitlements"]["totalCount"] == 1
    await gql.ok("mutation($id: String!) { deletePlanEntitlement(id: $id) { planEntitlement { id } errors { code } } }",
                 {"id": ent["id"]})
    assert await PlanEntitlement.all().count() == 0


async def test_boolean_feature_refuses_numeric(gql: GraphQL, scope: Scope) -> None:
    plan = await plans.create_plan(scope, name="Pro")
    export = await features.create_feature(scope, name="Export", feature_type="boolean")
    body = await gql(ENTITLEMENT, {"planId": plan.id, "featureId": export.id,
                                   "input": {"valueType": "NUMERIC", "valueNumeric": 3}})
    assert body["data"]["createPlanEntitlement"]["errors"][0]["field"] == "value_type"


async def test_assign_company_plans(gql: GraphQL, scope: Scope) -> None:
    pro = await plans.create_plan(scope, name="Pro", is_trialable=True, trial_days=7)
    boost = await plans.create_plan(scope, name="Boost", plan_type="add_on")
    company = await make_company(scope)
    data = await gql.ok(ASSIGN, {"companyId": company.id, "base": pro.id, "addOns": [boost.id]})
    payload = data["assignCompanyPlans"]
    assert payload["company"] == {"id": company.id, "name": "Acme"}
    assert [(p["plan"]["name"], p["isBasePlan"]) for p in payload["plans"]] == [("Pro", True), ("Boost", False)]
    assert payload["plans"][0]["trialEndsAt"] is not None and payload["plans"][1]["trialEndsAt"] is None
    counts = await gql.ok("{ plans { nodes { name companyCount } } }")
    assert {p["name"]: p["companyCount"] for p in counts["plans"]["nodes"]} == {"Pro": 1, "Boost": 1}

    wrong = await gql(ASSIGN, {"companyId": company.id, "base": boost.id, "addOns": []})
    assert wrong["data"]["assignCompanyPlans"]["errors"][0]["field"] == "base_plan_id"
    cleared = await gql.ok(ASSIGN, {"companyId": company.id, "base": None, "addOns": []})
    assert cleared["assignCompanyPlans"]["plans"] == []


async def test_company_overrides(gql: GraphQL, scope: Scope) -> None:
    export = await features.create_feature(scope, name="Export", feature_type="boolean")
    company = await make_company(scope)
    expires = isoformat(utcnow() + timedelta(days=3))
    data = await gql.ok(OVERRIDE, {"companyId": company.id, "featureId": export.id, "input": {
        "valueType": "BOOLEAN", "valueBool": False, "expiresAt": expires, "note": "churn risk",
    }})
    override = data["createCompanyOverride"]["companyOverride"]
    assert (override["valueBool"], override["notes"], override["company"]["id"], override["feature"]["key"]) == (
        False, [{"note": "churn risk"}], company.id, "export"
    )
    naive = await gql(OVERRIDE, {"companyId": company.id, "featureId": export.id, "input": {
        "valueType": "UNLIMITED", "expiresAt": "2030-01-01T00:00:00"}})
    assert naive["errors"] and naive["data"] is None  # refused by the DateTime scalar, before any write
    assert await CompanyOverride.all().count() == 1
    dup = await gql(OVERRIDE, {"companyId": company.id, "featureId": export.id, "input": {"valueType": "UNLIMITED"}})
    assert dup["data"]["createCompanyOverride"]["errors"][0]["code"] == "INVALID_INPUT"

    update = """mutation($id: String!, $input: CompanyOverrideInput!) { updateCompanyOverride(id: $id, input: $input)
        { companyOverride { valueType expiresAt notes { note } } errors { code } } }"""
    updated = await gql.ok(update, {"id": override["id"], "input": {"valueType": "UNLIMITED", "note": "renewed"}})
    assert updated["updateCompanyOverride"]["companyOverride"] == {
        "valueType": "UNLIMITED", "expiresAt": override["expiresAt"],
        "notes": [{"note": "churn risk"}, {"note": "renewed"}],
    }
    listed = await gql.ok("""query($c: String) { companyOverrides(companyId: $c, withoutExpired: true)
        { totalCount nodes { id } } }""", {"c": company.id})
    assert listed["companyOverrides"]["totalCount"] == 1
    await gql.ok("mutation($id: String!) { deleteCompanyOverride(id: $id) { companyOverride { id } errors { code } } }",
                 {"id": override["id"]})
    assert await CompanyOverride.all().count() == 0


async def test_staging_key_cannot_touch_development_holdings(gql: GraphQL, scope: Scope, other_keys: Keys) -> None:
    plan = await plans.create_plan(scope, name="Pro")
    export = await features.create_feature(scope, name="Export", feature_type="boolean")
    company = await make_company(scope)
    override = await holdings.create_company_override(
        scope, company_id=company.id, feature_id=export.id, value_type="unlimited"
    )
    staging = other_keys.secret
    body = await gql(ASSIGN, {"companyId": company.id, "base": plan.id, "addOns": []}, key=staging)
    assert body["data"]["assignCompanyPlans"]["errors"][0]["code"] == "NOT_FOUND"
    body = await gql(OVERRIDE, {"companyId": company.id, "featureId": export.id, "input": {"valueType": "UNLIMITED"}},
                     key=staging)
    assert body["data"]["createCompanyOverride"]["errors"][0]["code"] == "NOT_FOUND"
    body = await gql("mutation($id: String!) { deleteCompanyOverride(id: $id) { errors { code } } }",
                     {"id": override.id}, key=staging)
    assert body["data"]["deleteCompanyOverride"]["errors"] == [{"code": "NOT_FOUND"}]
    listed = await gql.ok("{ companyOverrides { totalCount } planEntitlements { totalCount } }", key=staging)
    assert listed == {"companyOverrides": {"totalCount": 0}, "planEntitlements": {"totalCount": 0}}


PROMOTE = """mutation($key: String!) { promoteCatalog(sourceKey: $key) {
  summary { featuresCreated plansCreated flagsCreated rulesCopied skippedRules } errors { code message } } }"""


async def test_promote_catalog_from_another_environment(
    gql: GraphQL, scope: Scope, keys: Keys, other_keys: Keys
) -> None:
    await plans.create_plan(scope, name="Pro")
    await features.create_feature(scope, name="Export", feature_type="boolean")
    # Staging pulls development's catalog by presenting development's secret key.
    first = await gql.ok(PROMOTE, {"key": keys.secret}, key=other_keys.secret)
    assert first["promoteCatalog"]["summary"] == {
        "featuresCreated": 1, "plansCreated": 1, "flagsCreated": 1, "rulesCopied": 0, "skippedRules": []
    }
    again = await gql.ok(PROMOTE, {"key": keys.secret}, key=other_keys.secret)
    assert again["promoteCatalog"]["summary"]["featuresCreated"] == 0
    staged = await gql.ok("{ features { nodes { key } } plans { nodes { name } } }", key=other_keys.secret)
    assert staged == {"features": {"nodes": [{"key": "export"}]}, "plans": {"nodes": [{"name": "Pro"}]}}


async def test_promote_catalog_needs_a_secret_key_of_another_environment(
    gql: GraphQL, keys: Keys, other_keys: Keys
) -> None:
    before = await row_counts()
    for source, code in (
        ("sch_dev_not_a_key", "UNAUTHENTICATED"),
        (keys.publishable, "FORBIDDEN"),
        (other_keys.secret, "INVALID_INPUT"),  # the caller's own environment
    ):
        body = await gql(PROMOTE, {"key": source}, key=other_keys.secret)
        payload = body["data"]["promoteCatalog"]
        assert payload["summary"] is None and payload["errors"][0]["code"] == code, payload
    assert await row_counts() == before
