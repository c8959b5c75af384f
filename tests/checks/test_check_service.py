"""Flag checks through the domain service: rules, plans, overrides, limits, reasons, freshness of the cache."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.cache import changes
from domain.catalog import entitlements, flag_rules, plans
from domain.checks import service
from domain.companies.models import Company
from domain.companies.service import CompanyUpsert, get_or_create_trait_definition, set_company_trait, upsert_company
from domain.db import unit_of_work
from domain.entitlements import service as company_plans
from domain.entitlements.models import CompanyOverride
from domain.rules import Preflight
from tests.checks.conftest import Catalog, track
from tests.conftest import Keys, make_keys

ACME = {"id": "acme"}


def _next_anchor(start: datetime) -> datetime:
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    last_day = (datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC) - timedelta(days=1)).day
    return start.replace(year=year, month=month, day=min(start.day, last_day))


def first_of_next_month(now: datetime) -> datetime:
    return datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)


async def test_plan_limit_then_usage_exceeded(keys: Keys, catalog: Catalog) -> None:
    result = await service.check_flag(keys.scope, "api-calls", ACME, None)
    assert result.value is True
    assert result.rule_type == "plan_entitlement"
    assert result.reason.startswith('Matched plan entitlement rule "Pro: api-calls" (rule_')
    assert result.entitlement and result.entitlement.allocation == 5 and result.entitlement.usage == 0
    await track(keys.scope, "api-call", 4)
    assert (await service.check_flag(keys.scope, "api-calls", ACME, None)).value is True
    await track(keys.scope, "api-call", 1)
    exceeded = await service.check_flag(keys.scope, "api-calls", ACME, None)
    assert exceeded.value is False
    assert exceeded.rule_type == "plan_entitlement_usage_exceeded"
    assert exceeded.entitlement is not None
    assert (exceeded.entitlement.usage, exceeded.entitlement.allocation) == (5, 5)
    assert exceeded.entitlement.metric_reset_at == first_of_next_month(datetime.now(UTC))
    wire = exceeded.to_wire()
    assert (wire["feature_usage"], wire["feature_allocation"], wire["feature_usage_event"]) == (5, 5, "api-call")


async def test_override_raises_limit_and_boolean_override_switches_off(keys: Keys, catalog: Catalog) -> None:
    await track(keys.scope, "api-call", 7)
    assert (await service.check_flag(keys.scope, "api-calls", ACME, None)).value is False
    async with unit_of_work():
        await company_plans.create_company_override(
            keys.scope, company_id=catalog.company_id, feature_id=catalog.api_calls.id, value_type="numeric",
            value_numeric=100, metric_period="current_month", metric_period_month_reset="first_of_month",
        )
        await company_plans.create_company_override(
            keys.scope, company_id=catalog.company_id, feature_id=catalog.export.id, value_type="boolean",
            value_bool=False,
        )
    raised = await service.check_flag(keys.scope, "api-calls", ACME, None)
    assert (raised.value, raised.rule_type) == (True, "company_override")
    assert raised.entitlement is not None and raised.entitlement.allocation == 100
    off = await service.check_flag(keys.scope, "export", ACME, None)
    assert (off.value, off.rule_type) == (False, "company_override")


async def test_smaller_override_loses_to_plan_until_usage_passes_it(keys: Keys, catalog: Catalog) -> None:
    async with unit_of_work():
        await company_plans.create_company_override(
            keys.scope, company_id=catalog.company_id, feature_id=catalog.api_calls.id, value_type="numeric",
            value_numeric=2, metric_period="current_month", metric_period_month_reset="first_of_month",
        )
    await track(keys.scope, "api-call", 3)
    still = await service.check_flag(keys.scope, "api-calls", ACME, None)
    assert (still.value, still.rule_type) == (True, "plan_entitlement")  # most generous wins
    await track(keys.scope, "api-call", 3)
    over = await service.check_flag(keys.scope, "api-calls", ACME, None)
    assert (over.value, over.rule_type) == (False, "company_override_usage_exceeded")


async def test_expired_override_stops_applying_without_any_job(keys: Keys, catalog: Catalog) -> None:
    async with unit_of_work():
        override = await company_plans.create_company_override(
            keys.scope, company_id=catalog.company_id, feature_id=catalog.export.id, value_type="boolean",
            value_bool=False, expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
    assert (await service.check_flag(keys.scope, "export", ACME, None)).value is False
    # Move the expiry into the past as time would: the cached snapshot is reused, yet the override is ignored.
    expired_at = datetime.now(UTC) - timedelta(seconds=1)
    env = await service.snapshots.environment(keys.scope.environment_id)
    snapshot = await service.snapshots.company(env, catalog.company_id)
    assert snapshot is not None
    rules = snapshot.override_rules[env.flags_by_key["export"].id]
    snapshot.override_rules[env.flags_by_key["export"].id] = tuple(
        r.__class__(**{**{f: getattr(r, f) for f in r.__slots__}, "expires_at": expired_at}) for r in rules
    )
    snapshot._prepared.clear()
    result = await service.check_flag(keys.scope, "export", ACME, None)
    assert (result.value, result.rule_type) == (True, "plan_entitlement")
    await CompanyOverride.filter(id=override.id).update(expires_at=expired_at)


async def test_unknown_flag_and_unknown_company(keys: Keys, catalog: Catalog) -> None:
    missing_flag = await service.check_flag(keys.scope, "nope", ACME, None)
    assert (missing_flag.value, missing_flag.reason, missing_flag.flag_id) == (False, "Flag not found", None)
    missing_company = await service.check_flag(keys.scope, "api-calls", {"id": "ghost"}, None)
    assert (missing_company.value, missing_company.reason, missing_company.company_id) == (
        False, "Company not found", None,
    )
    assert await Company.filter(name="ghost").count() == 0  # checks never create anything


async def test_preflight_simulates_extra_usage(keys: Keys, catalog: Catalog) -> None:
    await track(keys.scope, "api-call", 3)
    assert (await service.check_flag(keys.scope, "api-calls", ACME, None, Preflight(usage=1))).value is True
    simulated = await service.check_flag(keys.scope, "api-calls", ACME, None, Preflight(usage=2))
    assert (simulated.value, simulated.rule_type) == (False, "plan_entitlement_usage_exceeded")
    assert simulated.entitlement is not None and simulated.entitlement.usage == 3  # real numbers reported
    by_event = await service.check_flag(keys.scope, "api-calls", ACME, None, Preflight(event_usage=("api-call", 2)))
    assert by_event.value is False


async def test_trait_based_seat_limit(keys: Keys, catalog: Catalog) -> None:
    async with unit_of_work():
        allocated = await get_or_create_trait_definition(keys.scope, "company", "seats_allocated", "number")
        await entitlements.create_plan_entitlement(
            keys.scope, plan_id=catalog.pro.id, feature_id=catalog.seats.id, value_type="trait",
            value_trait_id=allocated.id,
        )
        await set_company_trait(keys.scope, ACME, "seats_allocated", set_value=3)
    allowed = await service.check_flag(keys.scope, "seats", ACME, None)
    assert (allowed.value, allowed.rule_type) == (True, "plan_entitlement")
    assert allowed.entitlement is not None and (allowed.entitlement.usage, allowed.entitlement.allocation) == (2, 3)
    async with unit_of_work():
        await set_company_trait(keys.scope, ACME, "seats_used", incr=1)
    full = await service.check_flag(keys.scope, "seats", ACME, None)
    assert (full.value, full.rule_type) == (False, "plan_entitlement_usage_exceeded")
    assert full.to_wire()["feature_allocation"] == 3


async def test_standard_rule_targets_a_trait_and_rollout(keys: Keys, catalog: Catalog) -> None:
    from domain.catalog.flags import create_flag

    async with unit_of_work():
        beta = await get_or_create_trait_definition(keys.scope, "company", "beta")
        flag = await create_flag(keys.scope, key="new-ui", name="New UI")
        await flag_rules.set_flag_rules(keys.scope, flag.id, [
            flag_rules.RuleInput(name="beta testers", value=True, priority=1, conditions=[
                flag_rules.ConditionInput(condition_type="trait", operator="eq", trait_id=beta.id, trait_value="true"),
            ]),
            flag_rules.RuleInput(name="everyone else", value=False, rule_type="default"),
        ])
        await upsert_company(keys.scope, CompanyUpsert(keys={"id": "other"}, traits={"beta": False}))
    hit = await service.check_flag(keys.scope, "new-ui", ACME, None)
    assert (hit.value, hit.rule_type) == (True, "standard")
    assert hit.reason == f'Matched standard rule "beta testers" ({hit.rule_id})'
    miss = await service.check_flag(keys.scope, "new-ui", {"id": "other"}, None)
    assert (miss.value, miss.rule_type) == (False, "default")


async def test_check_all_flags_and_isolation(keys: Keys, catalog: Catalog) -> None:
    results = {r.flag_key: r for r in await service.check_flags(keys.scope, ACME, None)}
    assert set(results) == {"api-calls", "export", "seats"}
    staging = await make_keys("staging")
    foreign = await service.check_flag(staging.scope, "api-calls", ACME, None)
    assert (foreign.reason, foreign.company_id) == ("Flag not found", None)


async def test_warm_check_runs_no_sql(keys: Keys, catalog: Catalog, count_queries) -> None:
    await service.check_flag(keys.scope, "api-calls", ACME, None)
    count_queries.statements.clear()
    for _ in range(5):
        await service.check_flag(keys.scope, "api-calls", ACME, None)
        await service.check_flags(keys.scope, ACME, None)
    assert count_queries.statements == []


async def test_writes_invalidate_the_cached_snapshot(keys: Keys, catalog: Catalog) -> None:
    assert (await service.check_flag(keys.scope, "export", ACME, None)).value is True
    async with unit_of_work():
        basic = await plans.create_plan(keys.scope, name="Basic")
        await company_plans.set_company_plans(keys.scope, catalog.company_id, basic.id, [])
    moved = await service.check_flag(keys.scope, "export", ACME, None)
    assert (moved.value, moved.reason) == (False, "No rules matched; default value for flag")


async def test_cache_drops_a_load_that_overlapped_an_invalidation(keys: Keys, catalog: Catalog) -> None:
    env = await service.snapshots.environment(keys.scope.environment_id)
    service.snapshots.companies.drop(catalog.company_id)
    started = service.snapshots.companies.generations.current(catalog.company_id)

    async def load_with_concurrent_write() -> object:
        from domain.checks.snapshot import load_company

        snapshot = await load_company(env, catalog.company_id)
        changes.invalidate_locally(keys.scope.environment_id, changes.COMPANY, catalog.company_id)
        return snapshot

    await service.snapshots.companies.get_or_load(catalog.company_id, load_with_concurrent_write)  # type: ignore[arg-type]
    assert service.snapshots.companies.generations.current(catalog.company_id) > started  # the poller may bump too
    assert service.snapshots.companies.get(catalog.company_id) is None


async def test_billing_cycle_reset_follows_the_subscription_anchor(keys: Keys, catalog: Catalog) -> None:
    now = datetime.now(UTC)
    start = (now - timedelta(days=3)).replace(microsecond=0)
    async with unit_of_work():
        await entitlements.update_plan_entitlement(
            keys.scope, (await catalog.pro.entitlements.filter(feature_id=catalog.api_calls.id).first()).id,
            value_type="numeric", value_numeric=5, metric_period="current_month",
            metric_period_month_reset="billing_cycle",
        )
        await Company.filter(id=catalog.company_id).update(billing_period_start=start,
                                                           billing_period_end=start + timedelta(days=30))
        await changes.record_change(keys.scope.environment_id, changes.COMPANY, catalog.company_id)
    result = await service.check_flag(keys.scope, "api-calls", ACME, None)
    assert result.entitlement is not None
    assert result.entitlement.month_reset == "billing_cycle"
    assert result.entitlement.metric_reset_at is not None
    # The next anchor after now: a month after the period start (day-of-month and time kept), capped at its end.
    assert result.entitlement.metric_reset_at == min(start + timedelta(days=30), _next_anchor(start))
    assert result.entitlement.metric_reset_at > now


@pytest.mark.parametrize("bad", [{"company": None, "user": None}, {"company": {"id": 5}}, {"company": "acme"},
                                 {"company": {"id": "acme"}, "preflight": {"usage": -1}},
                                 {"company": {"id": "acme"}, "preflight": {"usage": "x"}}])
async def test_rest_check_bad_input_is_400(client, keys: Keys, catalog: Catalog, bad: dict) -> None:
    response = await client.post("/flags/api-calls/check", json=bad)
    assert response.status_code == 400
    assert response.json()["error"]


async def test_rest_and_graphql_checks_agree_and_publishable_keys_may_check(client, gql, keys: Keys,
                                                                          catalog: Catalog) -> None:
    rest = (await client.post("/flags/api-calls/check", json={"company": ACME, "user": None},
                              headers={"X-Schematic-Api-Key": keys.publishable})).json()
    assert rest["params"] == {}
    data = rest["data"]
    assert data["value"] is True and data["entitlement"]["metric_reset_at"].endswith("Z")
    body = await gql("query($c: JSON) { checkFlag(key: \"api-calls\", company: $c) { value reason ruleType ruleId "
                     "entitlement { allocation usage metricPeriod } } }", {"c": ACME}, key=keys.publishable)
    check = body["data"]["checkFlag"]
    assert (check["value"], check["reason"], check["ruleId"]) == (data["value"], data["reason"], data["rule_id"])
    bulk = (await client.post("/flags/check", json={"company": ACME})).json()["data"]
    assert bulk["credit_spend_policies"] == []
    assert {f["flag"] for f in bulk["flags"]} == {"api-calls", "export", "seats"}
    contexts = {"contexts": [{"company": ACME}, {"company": {"id": "x"}}]}
    many = (await client.post("/flags/check-bulk", json=contexts)).json()
    assert [len(c["flags"]) for c in many["data"]["data"]] == [3, 3]
