"""The drop-in test (issue 4 point 6): the unmodified schematichq SDK, pointed at plangate with
SchematicConfig(base_url=..., event_capture_url=...), drives a whole story using only the SDK.

The same story runs twice: with the sync `Schematic` client against a real plangate server on a
loopback port, and with `AsyncSchematic` over `httpx.ASGITransport` in-process (product model §7.1).
The SDK's 5 s flag cache is off (`cache_providers=[]`) so consecutive checks reach the server; the
event buffer is flushed before every check that depends on tracked usage."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from schematic.client import AsyncSchematic, AsyncSchematicConfig, Schematic, SchematicConfig
from schematic.types import (
    CheckFlagRequestBody,
    CreateOrUpdateConditionRequestBody,
    CreateOrUpdateFlagRequestBody,
    CreateOrUpdateRuleRequestBody,
    EventBodyIdentifyCompany,
)

from tests.conftest import Keys
from tests.live import live_server  # noqa: F401  (fixture)

Call = Callable[[Callable[[], Any]], Awaitable[Any]]
ACME = {"id": "acme"}


def first_of_next_month() -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)


def _matched(result: Any, rule_type: str) -> None:
    assert not result.reason.startswith("Error"), result.reason
    assert result.rule_type == rule_type, (result.rule_type, result.reason)
    assert result.reason.startswith(f"Matched {rule_type.replace('_', ' ')} rule "), result.reason
    assert result.reason.endswith(f"({result.rule_id})")


async def story(client: Schematic | AsyncSchematic, call: Call) -> None:
    """`call(lambda: client.x(...))` runs one SDK call: in a worker thread for the sync client, awaited
    for the async one."""
    # --- catalog: an event feature with a monthly limit of 5 on Pro, a boolean feature on Pro -----------
    api = (await call(lambda: client.features.create_feature(
        name="API calls", description="Calls to the API", feature_type="event", event_subtype="api-call",
        flag=CreateOrUpdateFlagRequestBody(key="api-calls", name="API calls", description="")))).data
    sso = (await call(lambda: client.features.create_feature(
        name="SSO", description="Single sign-on", feature_type="boolean",
        flag=CreateOrUpdateFlagRequestBody(key="sso", name="SSO", description="")))).data
    pro = (await call(lambda: client.plans.create_plan(name="Pro", plan_type="plan"))).data
    await call(lambda: client.entitlements.create_plan_entitlement(
        plan_id=pro.id, feature_id=api.id, value_type="numeric", value_numeric=5,
        metric_period="current_month", metric_period_month_reset="first_of_month"))
    await call(lambda: client.entitlements.create_plan_entitlement(
        plan_id=pro.id, feature_id=sso.id, value_type="boolean", value_bool=True))

    # --- a company on Pro --------------------------------------------------------------------------------
    acme = (await call(lambda: client.companies.upsert_company(
        keys=ACME, name="Acme", base_plan_id=pro.id, traits={"beta": True}))).data
    assert acme.plan is not None and acme.plan.id == pro.id

    first = await call(lambda: client.check_flag_with_entitlement("api-calls", company=ACME))
    assert first.value is True
    _matched(first, "plan_entitlement")
    assert first.company_id == acme.id and first.flag_id == api.flags[0].id
    assert first.entitlement is not None and first.entitlement.usage == 0 and first.entitlement.allocation == 5

    # --- usage up to the limit through the SDK's event buffer -------------------------------------------
    for _ in range(4):
        await call(lambda: client.track("api-call", company=ACME))
    await call(lambda: client.event_buffer.flush())
    almost = await call(lambda: client.check_flag_with_entitlement("api-calls", company=ACME))
    assert almost.value is True and almost.entitlement.usage == 4
    await call(lambda: client.track("api-call", company=ACME, quantity=1))
    await call(lambda: client.event_buffer.flush())

    over = await call(lambda: client.check_flag_with_entitlement("api-calls", company=ACME))
    assert over.value is False
    _matched(over, "plan_entitlement_usage_exceeded")
    assert "(usage exceeded)" in over.reason
    entitlement = over.entitlement
    assert entitlement is not None and entitlement.feature_key == "api-calls" and entitlement.feature_id == api.id
    assert entitlement.value_type == "numeric"
    assert entitlement.usage == entitlement.allocation == 5
    assert entitlement.event_subtype == "api-call" and entitlement.metric_period == "current_month"
    assert entitlement.month_reset == "first_of_month"
    assert entitlement.metric_reset_at == first_of_next_month()
    assert over.feature_usage == over.feature_allocation == 5
    assert over.feature_usage_event == "api-call" and over.feature_usage_period == "current_month"
    assert over.feature_usage_reset_at == first_of_next_month()
    assert await call(lambda: client.check_flag("api-calls", company=ACME)) is False

    # --- an override raising the limit -------------------------------------------------------------------
    await call(lambda: client.entitlements.create_company_override(
        company_id=acme.id, feature_id=api.id, value_type="numeric", value_numeric=10,
        metric_period="current_month", metric_period_month_reset="first_of_month", note="more calls"))
    raised = await call(lambda: client.check_flag_with_entitlement("api-calls", company=ACME))
    assert raised.value is True
    _matched(raised, "company_override")
    assert raised.entitlement.allocation == 10 and raised.entitlement.usage == 5

    # --- a negative boolean override switches a plan feature off ----------------------------------------
    sso_on = await call(lambda: client.check_flag_with_entitlement("sso", company=ACME))
    assert sso_on.value is True
    _matched(sso_on, "plan_entitlement")
    await call(lambda: client.entitlements.create_company_override(
        company_id=acme.id, feature_id=sso.id, value_type="boolean", value_bool=False))
    sso_off = await call(lambda: client.check_flag_with_entitlement("sso", company=ACME))
    assert sso_off.value is False
    _matched(sso_off, "company_override")

    # --- a standard rule targeting a trait ---------------------------------------------------------------
    beta = (await call(lambda: client.companies.get_or_create_entity_trait_definition(
        entity_type="company", hierarchy=["beta"], trait_type="boolean"))).data
    beta_ui = (await call(lambda: client.features.create_flag(key="beta-ui", name="Beta UI", description=""))).data
    await call(lambda: client.features.update_flag_rules(beta_ui.id, rules=[
        CreateOrUpdateRuleRequestBody(
            name="Beta testers", priority=1, value=True, rule_type="standard", condition_groups=[],
            conditions=[CreateOrUpdateConditionRequestBody(
                condition_type="trait", operator="eq", resource_ids=[], trait_id=beta.id, trait_value="true")]),
        CreateOrUpdateRuleRequestBody(name="Everyone else", priority=0, value=False, rule_type="default",
                                      conditions=[], condition_groups=[]),
    ]))
    await call(lambda: client.identify(
        keys={"user_id": "g1"}, name="Gil",
        company=EventBodyIdentifyCompany(keys={"id": "globex"}, name="Globex", traits={"beta": False})))
    await call(lambda: client.event_buffer.flush())
    tester = await call(lambda: client.check_flag_with_entitlement("beta-ui", company=ACME))
    assert tester.value is True
    _matched(tester, "standard")
    other = await call(lambda: client.check_flag_with_entitlement("beta-ui", company={"id": "globex"},
                                                                 user={"user_id": "g1"}))
    assert other.value is False and other.user_id is not None
    _matched(other, "default")

    # --- bulk checks -------------------------------------------------------------------------------------
    results = await call(lambda: client.check_flags(["api-calls", "sso", "beta-ui", "nope"], company=ACME))
    assert [(r.flag, r.value) for r in results] == [
        ("api-calls", True), ("sso", False), ("beta-ui", True), ("nope", False)]
    bulk = (await call(lambda: client.features.check_flags_bulk(contexts=[
        CheckFlagRequestBody(company=ACME), CheckFlagRequestBody(company={"id": "globex"})]))).data
    by_company = [{f.flag: f.value for f in entry.flags} for entry in bulk.data]
    assert by_company == [{"api-calls": True, "sso": False, "beta-ui": True},
                          {"api-calls": False, "sso": False, "beta-ui": False}]

    # --- a trait-based seat limit whose limit comes from a company trait ---------------------------------
    used = (await call(lambda: client.companies.get_or_create_entity_trait_definition(
        entity_type="company", hierarchy=["seats_used"], trait_type="number"))).data
    bought = (await call(lambda: client.companies.get_or_create_entity_trait_definition(
        entity_type="company", hierarchy=["seats_bought"], trait_type="number"))).data
    seats = (await call(lambda: client.features.create_feature(
        name="Seats", description="", feature_type="trait", trait_id=used.id,
        flag=CreateOrUpdateFlagRequestBody(key="seats", name="Seats", description="")))).data
    await call(lambda: client.entitlements.create_plan_entitlement(
        plan_id=pro.id, feature_id=seats.id, value_type="trait", value_trait_id=bought.id))
    await call(lambda: client.companies.upsert_company(keys=ACME, traits={"seats_used": 2, "seats_bought": 3}))
    room = await call(lambda: client.check_flag_with_entitlement("seats", company=ACME))
    assert room.value is True
    _matched(room, "plan_entitlement")
    assert (room.entitlement.value_type, room.entitlement.usage, room.entitlement.allocation) == ("trait", 2, 3)
    await call(lambda: client.companies.upsert_company_trait(keys=ACME, trait="seats_used", incr=1))
    full = await call(lambda: client.check_flag_with_entitlement("seats", company=ACME))
    assert full.value is False
    _matched(full, "plan_entitlement_usage_exceeded")
    assert full.entitlement.usage == full.entitlement.allocation == 3
    assert full.feature_usage == full.feature_allocation == 3
    await call(lambda: client.companies.upsert_company_trait(keys=ACME, trait="seats_bought", set_=5))
    assert await call(lambda: client.check_flag("seats", company=ACME)) is True


async def test_story_with_the_sync_client_against_a_live_server(live_server: str, keys: Keys) -> None:  # noqa: F811
    client = Schematic(keys.secret, SchematicConfig(
        base_url=live_server, event_capture_url=live_server, cache_providers=[], event_buffer_period=60,
    ))
    try:
        await story(client, lambda fn: asyncio.to_thread(fn))
    finally:
        await asyncio.to_thread(client.shutdown)


async def test_story_with_the_async_client_in_process(app: object, keys: Keys) -> None:
    base_url = "http://plangate.test"
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)  # type: ignore[arg-type]
    client = AsyncSchematic(keys.secret, AsyncSchematicConfig(
        base_url=base_url, event_capture_url=base_url, httpx_client=http, cache_providers=[],
        event_buffer_period=60,
    ))

    async def call(fn: Callable[[], Any]) -> Any:
        result = fn()
        return await result if asyncio.iscoroutine(result) else result

    try:
        await story(client, call)
    finally:
        await client.shutdown()
        await http.aclose()
