"""Features (with their paired flag), flags, flag rules and plans over raw HTTP."""

import httpx
from schematic.core.pydantic_utilities import parse_obj_as
from schematic.features.types import (
    CreateFeatureResponse,
    GetFlagResponse,
    ListFeaturesResponse,
    UpdateFlagRulesResponse,
)
from schematic.plans.types import GetPlanResponse, ListPlansResponse

from tests.rest.conftest import error, fingerprint, ok


async def _feature(client: httpx.AsyncClient, name: str, feature_type: str = "boolean", **extra: object) -> dict:
    body = {"name": name, "description": "", "feature_type": feature_type, **extra}
    return ok(await client.post("/features", json=body))  # type: ignore[return-value]


async def test_create_feature_with_its_flag(client: httpx.AsyncClient) -> None:
    response = await client.post("/features", json={
        "name": "API calls", "description": "Metered", "feature_type": "event", "event_subtype": "api-call",
        "event_source": "track", "icon": None, "lifecycle_phase": "beta",
        "flag": {"key": "api-calls", "name": "API calls flag", "description": "flag d", "default_value": True,
                 "flag_type": "boolean"},
    })
    parse_obj_as(CreateFeatureResponse, response.json())
    feature = ok(response)
    assert feature["event_subtype"] == "api-call" and feature["lifecycle_phase"] == "beta"  # type: ignore[index]
    [flag] = feature["flags"]  # type: ignore[index]
    assert (flag["key"], flag["name"], flag["description"], flag["default_value"]) == (
        "api-calls", "API calls flag", "flag d", True)
    assert flag["feature_id"] == feature["id"] and flag["rules"] == []  # type: ignore[index]
    # Without `flag`, the key is the slugified name.
    plain = await _feature(client, "Single Sign-On")
    assert plain["flags"][0]["key"] == "single-sign-on"
    # A checked flag with that key exists right away.
    check = ok(await client.post("/flags/api-calls/check", json={"company": {"id": "nobody"}}))
    assert check["flag_id"] == flag["id"]  # type: ignore[index]


async def test_bad_features_write_nothing(client: httpx.AsyncClient) -> None:
    await _feature(client, "SSO", flag={"key": "sso", "name": "SSO", "description": ""})
    before = await fingerprint()
    cases = [
        ({"description": "", "feature_type": "boolean"}, "name is required"),
        ({"name": "X", "description": ""}, "feature_type is required"),
        ({"name": "X", "description": "", "feature_type": "license"}, "feature_type must be one of"),
        ({"name": "X", "description": "", "feature_type": "event"}, "event_subtype"),
        ({"name": "X", "description": "", "feature_type": "event", "event_subtype": "a b"}, "event_subtype"),
        ({"name": "X", "description": "", "feature_type": "boolean", "event_source": "inference"}, "event_source"),
        ({"name": "X", "description": "", "feature_type": "trait", "trait_id": "trait_nope"}, "trait_nope"),
        ({"name": "X", "description": "", "feature_type": "boolean", "flag": {"key": "sso", "name": "d",
                                                                               "description": ""}}, "already exists"),
        ({"name": "X", "description": "", "feature_type": "boolean", "flag": {"name": "no key"}}, "key is required"),
        ({"name": "X", "description": "", "feature_type": "boolean", "flag": {"key": "x", "name": 5}}, "name"),
    ]
    for body, fragment in cases:
        error(await client.post("/features", json=body), 400, fragment)
    assert await fingerprint() == before


async def test_update_list_and_delete_features(client: httpx.AsyncClient) -> None:
    seats = ok(await client.post("/entity-trait-definitions", json={
        "entity_type": "company", "hierarchy": ["seats_used"], "trait_type": "number"}))
    trait_feature = await _feature(client, "Seats", "trait", trait_id=seats["id"])  # type: ignore[index]
    assert trait_feature["trait_id"] == seats["id"] and trait_feature["trait"]["hierarchy"] == ["seats_used"]  # type: ignore[index]
    event = await _feature(client, "Calls", "event", event_subtype="call")
    updated = ok(await client.put(f"/features/{event['id']}", json={
        "name": "API Calls", "event_subtype": "api-call", "description": None,
        "flag": {"key": "api", "name": "API flag", "description": "", "default_value": False}}))
    assert updated["name"] == "API Calls" and updated["event_subtype"] == "api-call"  # type: ignore[index]
    assert updated["flags"][0]["key"] == "api" and updated["flags"][0]["name"] == "API flag"  # type: ignore[index]
    before = await fingerprint()
    error(await client.put(f"/features/{event['id']}", json={"feature_type": "boolean"}), 400, "cannot change")
    error(await client.put("/features/feat_nope", json={"name": "x"}), 404)
    assert await fingerprint() == before
    body = (await client.get("/features?feature_type=event&feature_type=trait")).json()
    parse_obj_as(ListFeaturesResponse, body)
    assert [f["id"] for f in body["data"]] == [event["id"], trait_feature["id"]]
    assert body["params"]["feature_type"] == ["event", "trait"]
    assert ok(await client.get("/features/count?q=seat")) == {"count": 1}
    assert ok(await client.delete(f"/features/{event['id']}")) == {"deleted": True}
    error(await client.get(f"/features/{event['id']}"), 404)
    assert ok(await client.get("/flags/count")) == {"count": 1}


async def test_standalone_flags(client: httpx.AsyncClient) -> None:
    feature = await _feature(client, "SSO")
    flag = ok(await client.post("/flags", json={"key": "new-ui", "name": "New UI", "description": "",
                                                "flag_type": "boolean", "default_value": True}))
    assert flag["feature_id"] is None and flag["default_value"] is True  # type: ignore[index]
    before = await fingerprint()
    error(await client.post("/flags", json={"key": "new-ui", "name": "Again", "description": ""}),
          400, "already exists")
    error(await client.post("/flags", json={"key": "bad key", "name": "x", "description": ""}), 400, "key")
    error(await client.post("/flags", json={"key": "k", "name": "x", "description": "", "flag_type": "number"}),
          400, "flag_type")
    error(await client.post("/flags", json={"key": "k", "name": "x", "description": "",
                                            "feature_id": feature["id"]}), 400, "feature_id")
    error(await client.put(f"/flags/{flag['id']}", json={"key": "sso", "name": "x", "description": ""}),  # type: ignore[index]
          400, "already exists")
    error(await client.delete(f"/flags/{feature['flags'][0]['id']}"), 400, "delete the feature")
    error(await client.get("/flags/flag_nope"), 404)
    assert await fingerprint() == before
    # The SDK sends feature_id back unchanged on update of a feature's flag.
    feature_flag = feature["flags"][0]
    renamed = ok(await client.put(f"/flags/{feature_flag['id']}", json={
        "key": "sso", "name": "Single sign-on", "description": "", "feature_id": feature["id"]}))
    assert renamed["name"] == "Single sign-on"  # type: ignore[index]
    assert [f["key"] for f in ok(await client.get(f"/flags?feature_id={feature['id']}"))] == ["sso"]  # type: ignore[union-attr]
    assert ok(await client.delete(f"/flags/{flag['id']}")) == {"deleted": True}  # type: ignore[index]


async def test_flag_rules_replace_all_or_nothing(client: httpx.AsyncClient) -> None:
    beta = ok(await client.post("/entity-trait-definitions", json={
        "entity_type": "company", "hierarchy": ["beta"], "trait_type": "boolean"}))
    plan = ok(await client.post("/plans", json={"name": "Pro", "plan_type": "plan"}))
    flag = ok(await client.post("/flags", json={"key": "new-ui", "name": "New UI", "description": ""}))
    rules = [
        {"name": "Beta or Pro", "priority": 2, "value": True, "rule_type": "standard",
         "conditions": [{"condition_type": "trait", "operator": "eq", "resource_ids": [], "trait_id": beta["id"],  # type: ignore[index]
                         "trait_value": "true"}],
         "condition_groups": [{"conditions": [
             {"condition_type": "plan", "operator": "eq", "resource_ids": [plan["id"]]},  # type: ignore[index]
             {"condition_type": "metric", "operator": "lt", "resource_ids": [], "event_subtype": "api-call",
              "metric_value": 10, "metric_period": "current_month", "metric_period_month_reset": "first_of_month"},
         ]}]},
        {"name": "Off", "priority": 0, "value": False, "rule_type": "default", "conditions": [],
         "condition_groups": []},
    ]
    response = await client.put(f"/flags/{flag['id']}/rules", json={"rules": rules})  # type: ignore[index]
    parse_obj_as(UpdateFlagRulesResponse, response.json())
    data = ok(response)
    first = data["rules"][0]  # type: ignore[index]
    assert first["name"] == "Beta or Pro" and first["conditions"][0]["trait"]["id"] == beta["id"]  # type: ignore[index]
    [group] = first["condition_groups"]
    assert group["conditions"][0]["resources"] == [{"id": plan["id"], "name": "Pro"}]  # type: ignore[index]
    assert group["conditions"][1]["metric_value"] == 10
    body = (await client.get(f"/flags/{flag['id']}")).json()  # type: ignore[index]
    parse_obj_as(GetFlagResponse, body)
    assert [r["rule_type"] for r in body["data"]["rules"]] == ["standard", "default"]

    # Rule ids sent back are kept.
    kept = ok(await client.put(f"/flags/{flag['id']}/rules", json={"rules": [  # type: ignore[index]
        {**rules[1], "id": data["rules"][1]["id"]}]}))  # type: ignore[index]
    assert [r["id"] for r in kept["rules"]] == [data["rules"][1]["id"]]  # type: ignore[index]

    before = await fingerprint()
    bad = [
        ({"rules": None}, "rules is required"),
        ({"rules": "all"}, "rules must be a list"),
        ({"rules": [{**rules[1], "rule_type": "plan_entitlement"}]}, "generated from plan entitlements"),
        ({"rules": [{**rules[0], "conditions": [{"condition_type": "trait", "operator": "eq", "resource_ids": [],
                                                  "trait_id": "trait_nope"}]}]}, "trait_nope"),
        ({"rules": [{**rules[0], "conditions": [{"condition_type": "company", "operator": "eq",
                                                  "resource_ids": ["comp_nope"]}]}]}, "comp_nope"),
        ({"rules": [{**rules[0], "conditions": [{"condition_type": "weather", "operator": "eq",
                                                  "resource_ids": []}]}]}, "condition_type"),
        ({"rules": [{**rules[0], "priority": None}]}, "priority"),
        ({"rules": [{**rules[0], "rule_type": ["standard"]}]}, "rules[0].rule_type must be a string"),
        ({"rules": [{**rules[0], "id": {"x": 1}}]}, "rules[0].id must be a string"),
        ({"rules": [{**rules[0], "conditions": [{"condition_type": "trait", "operator": "eq", "resource_ids": [],
                                                  "trait_id": beta["id"], "trait_value": 5}]}]}, "trait_value"),  # type: ignore[index]
        ({"rules": [{**rules[0], "conditions": "none"}]}, "rules[0].conditions must be a list"),
        ({"rules": [rules[1], rules[1]]}, "at most one default"),
        ({"rules": [{**rules[0], "name": ""}]}, "name"),
    ]
    for body, fragment in bad:
        error(await client.put(f"/flags/{flag['id']}/rules", json=body), 400, fragment)  # type: ignore[index]
    error(await client.put("/flags/flag_nope/rules", json={"rules": []}), 404)
    assert await fingerprint() == before
    cleared = ok(await client.put(f"/flags/{flag['id']}/rules", json={"rules": []}))  # type: ignore[index]
    assert cleared["rules"] == []  # type: ignore[index]


async def test_plans(client: httpx.AsyncClient) -> None:
    response = await client.post("/plans", json={"name": "Pro", "plan_type": "plan", "description": "d",
                                                 "icon": "blue"})
    plan = ok(response)
    parse_obj_as(GetPlanResponse, response.json())
    assert plan["billing_strategy"] and plan["controlled_by"] and plan["versions"] == []  # type: ignore[index]
    addon = ok(await client.post("/plans", json={"name": "Extra", "plan_type": "add_on"}))
    before = await fingerprint()
    error(await client.post("/plans", json={"name": "Pro", "plan_type": "plan"}), 400, "already exists")
    error(await client.post("/plans", json={"name": "X", "plan_type": "bundle"}), 400, "plan_type")
    error(await client.post("/plans", json={"plan_type": "plan"}), 400, "name is required")
    error(await client.put(f"/plans/{plan['id']}", json={"description": "no name"}), 400, "name is required")  # type: ignore[index]
    error(await client.put(f"/plans/{addon['id']}/billing_products", json={  # type: ignore[index]
        "charge_type": "recurring", "is_trialable": True, "trial_days": 14}), 400, "add-ons cannot have trials")
    error(await client.put(f"/plans/{plan['id']}/billing_products", json={"charge_type": "free"}),  # type: ignore[index]
          400, "is_trialable is required")
    error(await client.get("/plans/plan_nope"), 404)
    assert await fingerprint() == before
    billing = ok(await client.put(f"/plans/{plan['id']}/billing_products", json={  # type: ignore[index]
        "charge_type": "recurring", "is_trialable": True, "trial_days": 14, "monthly_price": 2900,
        "currency": "usd", "monthly_price_id": "price_x"}))
    assert billing["is_trialable"] is True and billing["trial_days"] == 14  # type: ignore[index]
    detail = ok(await client.get(f"/plans/{plan['id']}"))  # type: ignore[index]
    assert detail["monthly_price"]["price"] == 2900 and detail["charge_type"] == "recurring"  # type: ignore[index]
    body = (await client.get("/plans?plan_type=plan&with_entitlements=false")).json()
    parse_obj_as(ListPlansResponse, body)
    assert [p["id"] for p in body["data"]] == [plan["id"]]  # type: ignore[index]
    assert ok(await client.get("/plans/count")) == {"count": 2}
    assert ok(await client.delete(f"/plans/{addon['id']}")) == {"deleted": True}  # type: ignore[index]
