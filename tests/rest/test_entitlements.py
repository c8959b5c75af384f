"""Plan entitlements, company overrides, feature usage and key permissions over raw HTTP."""

from datetime import UTC, datetime, timedelta

import httpx
from schematic.core.pydantic_utilities import parse_obj_as
from schematic.entitlements.types import (
    GetFeatureUsageByCompanyResponse,
    ListCompanyOverridesResponse,
    ListFeatureUsageResponse,
    ListPlanEntitlementsResponse,
)

from tests.rest.conftest import error, fingerprint, ok


async def _setup(client: httpx.AsyncClient) -> dict[str, dict]:
    event = ok(await client.post("/features", json={
        "name": "API calls", "description": "", "feature_type": "event", "event_subtype": "api-call",
        "flag": {"key": "api-calls", "name": "API calls", "description": ""}}))
    boolean = ok(await client.post("/features", json={"name": "SSO", "description": "", "feature_type": "boolean"}))
    plan = ok(await client.post("/plans", json={"name": "Pro", "plan_type": "plan"}))
    company = ok(await client.post("/companies", json={"keys": {"id": "acme"}, "base_plan_id": plan["id"]}))  # type: ignore[index]
    return {"event": event, "boolean": boolean, "plan": plan, "company": company}  # type: ignore[dict-item]


async def test_plan_entitlements(client: httpx.AsyncClient) -> None:
    s = await _setup(client)
    created = ok(await client.post("/plan-entitlements", json={
        "plan_id": s["plan"]["id"], "feature_id": s["event"]["id"], "value_type": "numeric", "value_numeric": 100,
        "metric_period": "current_month", "metric_period_month_reset": "first_of_month", "soft_limit": 80,
        "warning_tiers": None, "value_bool": None}))
    assert created["value_numeric"] == 100 and created["feature"]["id"] == s["event"]["id"]  # type: ignore[index]
    assert created["plan"]["name"] == "Pro" and created["rule_id"] and created["currency_prices"] == []  # type: ignore[index]
    before = await fingerprint()
    bad = [
        ({"plan_id": s["plan"]["id"], "feature_id": s["event"]["id"], "value_type": "numeric", "value_numeric": 5},
         400, "already has an entitlement"),
        ({"plan_id": s["plan"]["id"], "feature_id": s["boolean"]["id"], "value_type": "numeric", "value_numeric": 5},
         400, "value_type"),
        ({"plan_id": s["plan"]["id"], "feature_id": s["boolean"]["id"], "value_type": "boolean"}, 400, "value_bool"),
        ({"plan_id": s["plan"]["id"], "feature_id": s["boolean"]["id"]}, 400, "value_type is required"),
        ({"plan_id": "plan_nope", "feature_id": s["boolean"]["id"], "value_type": "unlimited"}, 404, "plan_nope"),
        ({"plan_id": s["plan"]["id"], "feature_id": "feat_nope", "value_type": "unlimited"}, 404, "feat_nope"),
        ({"plan_id": s["plan"]["id"], "feature_id": s["boolean"]["id"], "value_type": "boolean", "value_bool": "yes"},
         400, "value_bool"),
    ]
    for body, status, fragment in bad:
        error(await client.post("/plan-entitlements", json=body), status, fragment)
    error(await client.put(f"/plan-entitlements/{created['id']}", json={"value_type": "numeric",  # type: ignore[index]
                                                                        "value_numeric": -1}), 400, "value_numeric")
    error(await client.put("/plan-entitlements/pent_nope", json={"value_type": "unlimited"}), 404)
    assert await fingerprint() == before
    updated = ok(await client.put(f"/plan-entitlements/{created['id']}", json={"value_type": "unlimited"}))  # type: ignore[index]
    assert updated["value_type"] == "unlimited" and updated["value_numeric"] is None  # type: ignore[index]
    body = (await client.get(f"/plan-entitlements?plan_ids={s['plan']['id']}&q=api")).json()
    parse_obj_as(ListPlanEntitlementsResponse, body)
    assert [e["id"] for e in body["data"]] == [created["id"]]  # type: ignore[index]
    assert ok(await client.get(f"/plan-entitlements/count?feature_id={s['boolean']['id']}")) == {"count": 0}
    assert ok(await client.delete(f"/plan-entitlements/{created['id']}")) == {"deleted": True}  # type: ignore[index]


async def test_company_overrides(client: httpx.AsyncClient) -> None:
    s = await _setup(client)
    company_id = s["company"]["id"]
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = ok(await client.post("/company-overrides", json={
        "company_id": company_id, "feature_id": s["event"]["id"], "value_type": "numeric", "value_numeric": 50,
        "metric_period": "current_day", "expiration_date": expires, "note": "trial boost",
        "credit_consumption_rate": None}))
    assert created["company_id"] == company_id and created["expiration_date"].endswith("Z")  # type: ignore[index]
    assert [n["note"] for n in created["notes"]] == ["trial boost"]  # type: ignore[index]
    before = await fingerprint()
    bad = [
        ({"company_id": company_id, "feature_id": s["event"]["id"], "value_type": "unlimited"}, 400, "already has"),
        ({"company_id": "comp_nope", "feature_id": s["boolean"]["id"], "value_type": "unlimited"}, 404, "comp_nope"),
        ({"company_id": company_id, "feature_id": s["boolean"]["id"], "value_type": "boolean", "value_bool": False,
          "expiration_date": "tomorrow"}, 400, "expiration_date"),
        ({"company_id": company_id, "feature_id": s["boolean"]["id"], "value_type": "credit",
          "value_credit_id": "bcrd_1"}, 400, "value_type"),
        ({"company_id": company_id, "feature_id": s["event"]["id"], "value_type": "credit",
          "value_credit_id": "bcrd_1", "credit_consumption_rate": -1}, 400, ""),
    ]
    for body, status, fragment in bad:
        error(await client.post("/company-overrides", json=body), status, fragment)
    assert await fingerprint() == before
    kept = ok(await client.put(f"/company-overrides/{created['id']}", json={  # type: ignore[index]
        "value_type": "numeric", "value_numeric": 60, "metric_period": "current_day"}))
    assert kept["value_numeric"] == 60 and kept["expiration_date"] == created["expiration_date"]  # type: ignore[index]
    cleared = ok(await client.put(f"/company-overrides/{created['id']}", json={  # type: ignore[index]
        "value_type": "numeric", "value_numeric": 60, "metric_period": "current_day", "expiration_date": None}))
    assert cleared["expiration_date"] is None  # type: ignore[index]
    body = (await client.get(f"/company-overrides?company_ids={company_id}&without_expired=true")).json()
    parse_obj_as(ListCompanyOverridesResponse, body)
    assert [o["id"] for o in body["data"]] == [created["id"]]  # type: ignore[index]
    assert body["params"]["without_expired"] is True
    listed = ok(await client.get(f"/companies?with_entitlement_for={s['event']['id']}"))
    assert [c["id"] for c in listed] == [company_id]  # type: ignore[union-attr]
    assert ok(await client.get(f"/companies?without_feature_override_for={s['event']['id']}")) == []
    assert ok(await client.get(f"/features/count?without_company_override_for={company_id}")) == {"count": 1}
    assert ok(await client.delete(f"/company-overrides/{created['id']}")) == {"deleted": True}  # type: ignore[index]
    error(await client.get(f"/company-overrides/{created['id']}"), 404)  # type: ignore[index]


async def test_feature_usage(client: httpx.AsyncClient) -> None:
    s = await _setup(client)
    ok(await client.post("/plan-entitlements", json={
        "plan_id": s["plan"]["id"], "feature_id": s["event"]["id"], "value_type": "numeric", "value_numeric": 10,
        "metric_period": "current_month"}))
    ok(await client.post("/plan-entitlements", json={
        "plan_id": s["plan"]["id"], "feature_id": s["boolean"]["id"], "value_type": "boolean", "value_bool": True}))
    response = await client.post("/events", json={"event_type": "track", "body": {
        "event": "api-call", "company": {"id": "acme"}, "quantity": 4}})
    assert response.is_success, response.text
    body = (await client.get("/feature-usage?company_keys%5Bid%5D=acme")).json()
    parse_obj_as(ListFeatureUsageResponse, body)
    assert body["params"]["company_keys"] == {"id": "acme"}
    rows = {r["feature"]["name"]: r for r in body["data"]}
    api = rows["API calls"]
    assert (api["access"], api["usage"], api["allocation"], api["percent_used"]) == (True, 4, 10, 40.0)
    now = datetime.now(UTC)
    first_next = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)
    assert api["metric_reset_at"] == first_next.isoformat().replace("+00:00", "Z")
    assert rows["SSO"]["access"] is True and rows["SSO"]["allocation_type"] == "boolean"
    only = ok(await client.get(f"/feature-usage?company_id={s['company']['id']}&feature_ids={s['boolean']['id']}"))
    assert [r["feature"]["name"] for r in only] == ["SSO"]  # type: ignore[index, union-attr]
    assert ok(await client.get("/feature-usage/count?company_keys%5Bid%5D=acme&q=api")) == {"count": 1}
    by_company = (await client.get("/usage-by-company?keys%5Bid%5D=acme")).json()
    parse_obj_as(GetFeatureUsageByCompanyResponse, by_company)
    assert len(by_company["data"]["features"]) == 2
    error(await client.get("/feature-usage"), 400, "company_id or company_keys")
    error(await client.get("/feature-usage?company_id=comp_nope"), 404)
    error(await client.get("/usage-by-company?keys%5Bid%5D=nobody"), 404)


async def test_publishable_and_readonly_keys(client: httpx.AsyncClient, publishable: httpx.AsyncClient,
                                             readonly: httpx.AsyncClient) -> None:
    s = await _setup(client)
    reads = ["/companies", "/companies/count", f"/companies/{s['company']['id']}", "/users", "/features",
             "/flags", "/plans", "/plan-entitlements", "/company-overrides", "/entity-trait-definitions",
             "/company-memberships", "/feature-usage?company_keys%5Bid%5D=acme", "/usage-by-company?id=acme",
             "/environments"]
    for path in reads:
        error(await publishable.get(path), 403, "secret API key")
        assert (await readonly.get(path)).status_code == 200, path
    before = await fingerprint()
    writes = [
        ("POST", "/companies", {"keys": {"id": "x"}}), ("POST", "/company-traits", {"keys": {"id": "acme"},
                                                                                   "trait": "t", "set": 1}),
        ("POST", "/users", {"keys": {"user_id": "u"}}), ("POST", "/features", {"name": "X", "description": "",
                                                                              "feature_type": "boolean"}),
        ("POST", "/plans", {"name": "X", "plan_type": "plan"}),
        ("PUT", f"/company-plans/{s['company']['id']}", {"add_on_ids": []}),
        ("DELETE", f"/companies/{s['company']['id']}", None),
        ("PUT", f"/flags/{s['event']['flags'][0]['id']}/rules", {"rules": []}),
    ]
    for method, path, body in writes:
        error(await publishable.request(method, path, json=body), 403)
        error(await readonly.request(method, path, json=body), 403, "read-only")
    assert await fingerprint() == before
    assert ok(await publishable.get("/whoami"))["environments"][0]["name"] == "development"  # type: ignore[index]
    error(await client.get("/companies", headers={"X-Schematic-Api-Key": "sch_dev_wrong"}), 401)
    error(await client.get("/companies", headers={"X-Schematic-Api-Key": ""}), 401, "missing API key")
