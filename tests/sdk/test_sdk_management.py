"""Every management call of the SDK that plangate implements parses in the SDK's pydantic models, and
errors map to the SDK's typed exceptions (product model §7.9-§7.11). In-process over ASGI."""

from datetime import UTC, datetime, timedelta

import pytest
from schematic.client import AsyncSchematic
from schematic.errors import BadRequestError, ForbiddenError, NotFoundError, UnauthorizedError
from schematic.types import (
    CreateOrUpdateConditionRequestBody,
    CreateOrUpdateFlagRequestBody,
    CreateOrUpdateRuleRequestBody,
)

from tests.conftest import Keys
from tests.sdk.conftest import sdk_client


async def test_companies_users_and_traits(sdk: AsyncSchematic) -> None:
    created = await sdk.companies.upsert_company(keys={"id": "acme"}, name="Acme", traits={"seats": 3, "tier": "gold"})
    company = created.data
    assert company.id.startswith("comp_") and company.name == "Acme"
    assert [(k.key, k.value) for k in company.keys] == [("id", "acme")]
    assert company.traits == {"seats": 3, "tier": "gold"}
    assert {t.definition.hierarchy[0]: t.value for t in company.entity_traits if t.definition} == {
        "seats": "3", "tier": "gold"}
    assert company.user_count == 0 and company.plan is None and company.add_ons == []

    again = await sdk.companies.create_company(keys={"id": "acme", "org": "o1"})
    assert again.data.id == company.id and {k.key for k in again.data.keys} == {"id", "org"}

    assert (await sdk.companies.get_company(company.id)).data.name == "Acme"
    looked = await sdk.companies.lookup_company(keys={"org": "o1"})
    assert looked.data.id == company.id and looked.params.keys == {"org": "o1"}

    incr = await sdk.companies.upsert_company_trait(keys={"id": "acme"}, trait="seats", incr=2)
    assert incr.data.traits["seats"] == 5
    set_ = await sdk.companies.upsert_company_trait(keys={"id": "acme"}, trait="tier", set_="silver")
    assert set_.data.traits["tier"] == "silver"

    user = (await sdk.companies.upsert_user(keys={"user_id": "u1"}, name="Ann", company={"id": "acme"},
                                           traits={"role": "admin"})).data
    assert user.id.startswith("user_") and [m.company_id for m in user.company_memberships] == [company.id]
    assert (await sdk.companies.create_user(keys={"user_id": "u2"}, company_id=company.id)).data.name == ""
    assert (await sdk.companies.get_user(user.id)).data.traits == {"role": "admin"}
    assert (await sdk.companies.lookup_user(keys={"user_id": "u1"})).data.id == user.id
    traited = await sdk.companies.upsert_user_trait(keys={"user_id": "u1"}, trait="logins", incr=1)
    assert traited.data.traits["logins"] == 1

    key_defs = (await sdk.companies.list_entity_key_definitions()).data
    assert {(d.entity_type, d.key) for d in key_defs} == {("company", "id"), ("company", "org"), ("user", "user_id")}
    assert {k.definition_id for k in again.data.keys} <= {d.id for d in key_defs}
    assert (await sdk.companies.count_entity_key_definitions(entity_type="user")).data.count == 1

    listed = await sdk.companies.list_companies(limit=10, q="acm")
    assert [c.id for c in listed.data] == [company.id] and listed.params.limit == 10
    assert listed.data[0].user_count == 2
    assert (await sdk.companies.count_companies()).data.count == 1
    assert (await sdk.companies.count_companies(ids=["comp_nope"])).data.count == 0
    users = await sdk.companies.list_users(company_id=company.id)
    assert {u.id for u in users.data} == {user.id, (await sdk.companies.lookup_user(keys={"user_id": "u2"})).data.id}
    assert (await sdk.companies.count_users(company_id=company.id)).data.count == 2

    memberships = await sdk.companies.list_company_memberships(company_id=company.id)
    assert len(memberships.data) == 2
    other = (await sdk.companies.upsert_company(keys={"id": "globex"})).data
    membership = (await sdk.companies.get_or_create_company_membership(company_id=other.id, user_id=user.id)).data
    assert membership.company_id == other.id and membership.user_id == user.id
    same = (await sdk.companies.get_or_create_company_membership(company_id=other.id, user_id=user.id)).data
    assert same.id == membership.id
    assert (await sdk.companies.delete_company_membership(membership.id)).data.deleted is True

    assert (await sdk.companies.delete_user_by_keys(keys={"user_id": "u2"})).data.name == ""
    assert (await sdk.companies.delete_user(user.id)).data.deleted is True
    deleted = await sdk.companies.delete_company_by_keys(keys={"id": "globex"})
    assert deleted.data.id == other.id
    assert (await sdk.companies.delete_company(company.id)).data.deleted is True
    assert (await sdk.companies.count_companies()).data.count == 0


async def test_trait_definitions(sdk: AsyncSchematic) -> None:
    created = (await sdk.companies.get_or_create_entity_trait_definition(
        entity_type="company", hierarchy=["seats_allocated"], trait_type="number", display_name="Seats")).data
    assert created.id.startswith("trait_") and created.hierarchy == ["seats_allocated"]
    again = (await sdk.companies.get_or_create_entity_trait_definition(
        entity_type="company", hierarchy=["seats_allocated"], trait_type="number")).data
    assert again.id == created.id
    assert (await sdk.companies.get_entity_trait_definition(created.id)).data.display_name == "Seats"
    updated = (await sdk.companies.update_entity_trait_definition(created.id, trait_type="number",
                                                                  display_name="Seats bought")).data
    assert updated.display_name == "Seats bought"
    listed = await sdk.companies.list_entity_trait_definitions(entity_type="company")
    assert [d.id for d in listed.data] == [created.id]
    assert (await sdk.companies.count_entity_trait_definitions(trait_type="string")).data.count == 0
    await sdk.companies.upsert_company(keys={"id": "acme"}, traits={"seats_allocated": 5})
    values = await sdk.companies.get_entity_trait_values(definition_id=created.id)
    assert [(v.definition_id, v.value) for v in values.data] == [(created.id, "5")]
    with pytest.raises(BadRequestError):
        await sdk.companies.get_or_create_entity_trait_definition(
            entity_type="company", hierarchy=["seats_allocated"], trait_type="string")
    user_def = (await sdk.companies.get_or_create_entity_trait_definition(
        entity_type="user", hierarchy=["role"], trait_type="string")).data
    assert (await sdk.companies.delete_entity_trait_definition(user_def.id)).data.deleted is True


async def test_features_flags_and_rules(sdk: AsyncSchematic) -> None:
    seats = (await sdk.companies.get_or_create_entity_trait_definition(
        entity_type="company", hierarchy=["beta"], trait_type="boolean")).data
    feature = (await sdk.features.create_feature(
        name="API calls", description="Metered API", feature_type="event", event_subtype="api-call",
        flag=CreateOrUpdateFlagRequestBody(key="api-calls", name="API calls flag", description="d",
                                           default_value=False),
    )).data
    assert feature.id.startswith("feat_") and feature.event_subtype == "api-call" and feature.event_source == "track"
    assert [(f.key, f.name) for f in feature.flags] == [("api-calls", "API calls flag")]
    flag_id = feature.flags[0].id
    assert feature.flags[0].feature_id == feature.id

    got = (await sdk.features.get_feature(feature.id)).data
    assert got.name == "API calls" and got.plans == []
    updated = (await sdk.features.update_feature(feature.id, description="Calls to the API")).data
    assert updated.description == "Calls to the API"
    assert [f.id for f in (await sdk.features.list_features(feature_type="event")).data] == [feature.id]
    assert (await sdk.features.count_features(q="zzz")).data.count == 0

    standalone = (await sdk.features.create_flag(key="new-ui", name="New UI", description="", default_value=True)).data
    assert standalone.flag_type == "boolean" and standalone.rules == [] and standalone.default_value is True
    assert (await sdk.features.update_flag(standalone.id, key="new-ui", name="New UI 2", description="x")).data.name \
        == "New UI 2"
    assert {f.key for f in (await sdk.features.list_flags()).data} == {"api-calls", "new-ui"}
    assert (await sdk.features.count_flags(feature_id=feature.id)).data.count == 1

    rules = (await sdk.features.update_flag_rules(standalone.id, rules=[
        CreateOrUpdateRuleRequestBody(
            name="Beta companies", priority=1, value=True, rule_type="standard",
            conditions=[CreateOrUpdateConditionRequestBody(
                condition_type="trait", operator="eq", resource_ids=[], trait_id=seats.id, trait_value="true")],
            condition_groups=[],
        ),
        CreateOrUpdateRuleRequestBody(name="Default", priority=0, value=False, rule_type="default",
                                      conditions=[], condition_groups=[]),
    ])).data
    assert [r.rule_type for r in rules.rules] == ["standard", "default"]
    assert rules.rules[0].conditions[0].trait_id == seats.id and rules.rules[0].conditions[0].trait_value == "true"
    assert rules.flag is not None and rules.flag.id == standalone.id
    flag = (await sdk.features.get_flag(standalone.id)).data
    assert len(flag.rules) == 2 and flag.rules[0].conditions[0].trait.hierarchy == ["beta"]

    with pytest.raises(BadRequestError) as excinfo:
        await sdk.features.update_flag_rules(flag_id, rules=[CreateOrUpdateRuleRequestBody(
            name="x", priority=0, value=True, rule_type="plan_entitlement", conditions=[], condition_groups=[])])
    assert "generated from plan entitlements" in excinfo.value.body.error

    assert (await sdk.features.delete_flag(standalone.id)).data.deleted is True
    with pytest.raises(BadRequestError):
        await sdk.features.delete_flag(flag_id)  # a feature's flag goes with its feature
    assert (await sdk.features.delete_feature(feature.id)).data.deleted is True
    with pytest.raises(NotFoundError):
        await sdk.features.get_feature(feature.id)


async def test_plans_entitlements_overrides_and_usage(sdk: AsyncSchematic) -> None:
    feature = (await sdk.features.create_feature(
        name="API calls", description="", feature_type="event", event_subtype="api-call",
        flag=CreateOrUpdateFlagRequestBody(key="api-calls", name="API calls", description=""))).data
    boolean = (await sdk.features.create_feature(name="SSO", description="", feature_type="boolean")).data
    plan = (await sdk.plans.create_plan(name="Pro", plan_type="plan", description="The pro plan")).data
    assert plan.id.startswith("plan_") and plan.company_count == 0 and plan.features == []
    addon = (await sdk.plans.create_plan(name="Extra", plan_type="add_on")).data
    plan = (await sdk.plans.update_plan(plan.id, name="Pro", description="Pro plan", icon="blue")).data
    assert plan.description == "Pro plan" and plan.icon == "blue"
    billing = (await sdk.plans.upsert_billing_product_plan(plan.id, charge_type="recurring", is_trialable=False,
                                                            monthly_price=2900)).data
    assert billing.plan_id == plan.id and billing.charge_type == "recurring"

    ent = (await sdk.entitlements.create_plan_entitlement(
        plan_id=plan.id, feature_id=feature.id, value_type="numeric", value_numeric=1000,
        metric_period="current_month", metric_period_month_reset="first_of_month")).data
    assert ent.id.startswith("pent_") and ent.value_numeric == 1000 and ent.rule_id
    bool_ent = (await sdk.entitlements.create_plan_entitlement(
        plan_id=plan.id, feature_id=boolean.id, value_type="boolean", value_bool=True)).data
    assert (await sdk.entitlements.get_plan_entitlement(ent.id)).data.plan_id == plan.id
    ent = (await sdk.entitlements.update_plan_entitlement(
        ent.id, value_type="numeric", value_numeric=2000, metric_period="current_month")).data
    assert ent.value_numeric == 2000
    listed = (await sdk.entitlements.list_plan_entitlements(plan_id=plan.id)).data
    assert {e.id for e in listed} == {ent.id, bool_ent.id}
    assert (await sdk.entitlements.count_plan_entitlements(feature_ids=[boolean.id])).data.count == 1
    copied = (await sdk.entitlements.duplicate_plan_entitlements(source_plan_id=plan.id, target_plan_id=addon.id)).data
    assert len(copied.data) == 2 and copied.skipped == []
    again = (await sdk.entitlements.duplicate_plan_entitlements(source_plan_id=plan.id, target_plan_id=addon.id)).data
    assert again.data == [] and len(again.skipped) == 2

    detail = (await sdk.plans.get_plan(plan.id)).data
    assert {f.id for f in detail.features} == {feature.id, boolean.id}
    assert detail.monthly_price is not None and detail.monthly_price.price == 2900
    assert [p.id for p in (await sdk.plans.list_plans(plan_type="plan")).data] == [plan.id]
    assert (await sdk.plans.count_plans(plan_type="add_on")).data.count == 1

    company = (await sdk.companies.upsert_company(keys={"id": "acme"}, name="Acme", base_plan_id=plan.id)).data
    assert company.plan is not None and company.plan.id == plan.id
    assert {e.feature_key: e.value_type for e in company.entitlements} == {"api-calls": "numeric", "sso": "boolean"}
    on_plans = (await sdk.plans.update_company_plans(company.id, add_on_ids=[addon.id], base_plan_id=plan.id)).data
    assert [a.id for a in on_plans.add_ons] == [addon.id] and {p.id for p in on_plans.plans} == {plan.id, addon.id}

    expires = datetime.now(UTC) + timedelta(days=30)
    override = (await sdk.entitlements.create_company_override(
        company_id=company.id, feature_id=boolean.id, value_type="boolean", value_bool=False,
        expiration_date=expires, note="blocked")).data
    assert override.id.startswith("covr_") and override.value_bool is False
    assert [n.note for n in override.notes] == ["blocked"] and override.expiration_date is not None
    override = (await sdk.entitlements.update_company_override(override.id, value_type="boolean", value_bool=True,
                                                               note="unblocked")).data
    assert [n.note for n in override.notes] == ["blocked", "unblocked"] and override.expiration_date is not None
    assert (await sdk.entitlements.get_company_override(override.id)).data.value_bool is True
    assert [o.id for o in (await sdk.entitlements.list_company_overrides(company_id=company.id)).data] == [override.id]
    assert (await sdk.entitlements.count_company_overrides(without_expired=True)).data.count == 1

    usage = await sdk.entitlements.list_feature_usage(company_id=company.id)
    by_key = {u.feature.name: u for u in usage.data if u.feature}
    assert [f.key for f in by_key["API calls"].feature.flags] == ["api-calls"]
    assert set(by_key) == {"API calls", "SSO"}
    api = by_key["API calls"]
    assert api.access is True and api.allocation == 2000 and api.usage == 0 and api.period == "current_month"
    assert api.entitlement_type == "plan_entitlement" and api.allocation_type == "numeric"
    assert by_key["SSO"].entitlement_type == "company_override"
    assert (await sdk.entitlements.count_feature_usage(company_keys={"id": "acme"})).data.count == 2
    by_company = await sdk.entitlements.get_feature_usage_by_company(keys={"id": "acme"})
    assert len(by_company.data.features) == 2

    with pytest.raises(BadRequestError):  # a company is on the plan
        await sdk.plans.delete_plan(plan.id)
    assert (await sdk.entitlements.delete_company_override(override.id)).data.deleted is True
    assert (await sdk.entitlements.delete_plan_entitlement(bool_ent.id)).data.deleted is True
    await sdk.plans.update_company_plans(company.id, add_on_ids=[])
    assert (await sdk.plans.delete_plan(plan.id)).data.deleted is True


async def test_platform(sdk: AsyncSchematic, keys: Keys) -> None:
    me = (await sdk.accounts.get_who_am_i()).data
    assert me.account_id.startswith("acct_") and me.actor_type == "api_key"
    assert me.environment_id == keys.scope.environment_id
    assert {e.name for e in me.environments} == {"development", "staging", "production"}
    envs = (await sdk.accounts.list_environments()).data
    assert len(envs) == 3
    assert (await sdk.accounts.get_environment(keys.scope.environment_id)).data.name == "development"


async def test_errors_map_to_typed_exceptions(sdk: AsyncSchematic, sdk_publishable: AsyncSchematic,
                                             app: object) -> None:
    with pytest.raises(BadRequestError) as bad:
        await sdk.companies.upsert_company(keys={})
    assert "keys" in bad.value.body.error
    with pytest.raises(NotFoundError):
        await sdk.companies.get_company("comp_missing")
    with pytest.raises(NotFoundError):
        await sdk.companies.lookup_company(keys={"id": "nobody"})
    with pytest.raises(ForbiddenError):
        await sdk_publishable.companies.list_companies()
    with pytest.raises(ForbiddenError):
        await sdk_publishable.features.create_feature(name="x", description="", feature_type="boolean")
    assert (await sdk_publishable.accounts.get_who_am_i()).data.environments[0].name == "development"
    stranger = sdk_client(app, "sch_dev_not_a_key")
    try:
        with pytest.raises(UnauthorizedError):
            await stranger.companies.list_companies()
    finally:
        await stranger.shutdown()
